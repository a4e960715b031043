"""Personal data at rest: national ID and bank card numbers.

Values are encrypted with AES-GCM under a key from the environment; exact lookup goes through a
keyed hash (HMAC-SHA256 under a key derived from the same secret), because a plain hash of an ID
number is brute-forced in minutes (the space is ~10^11 per birth date). Responses and logs show
only the masked form, except to the roles that must see the number.
"""

import base64
import hashlib
import hmac
import os
import re
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

from marketplace import instance_keys
from marketplace.reasons import reason

_CIPHERTEXT_VERSION = "v1"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
_CARD_SHAPE = re.compile(r"^[0-9]{12,19}$")

# Why a number is refused; never the number itself, since reasons end up in responses and logs.
ID_NUMBER_SHAPE = reason("id_number.shape", "must be 18 characters: 17 digits and a digit or X")
ID_NUMBER_BIRTH_DATE = reason("id_number.birth_date", "contains an impossible birth date")
ID_NUMBER_CHECK_DIGIT = reason("id_number.check_digit", "has a wrong check digit")
CARD_NUMBER_SHAPE = reason("card_number.shape", "must be 12 to 19 digits")


class InvalidNumber(ValueError):
    """A national ID or card number that cannot be one; ``reason`` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class PersonalDataCipher:
    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise ValueError("DATA_ENCRYPTION_KEY must be base64 of exactly 32 bytes")
        self._aead = AESGCM(self._derive(secret, b"marketplace pii encryption"))
        self._lookup_key = self._derive(secret, b"marketplace pii lookup hash")

    @staticmethod
    def _derive(secret: bytes, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), _CIPHERTEXT_VERSION.encode())
        return f"{_CIPHERTEXT_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        version, _, payload = token.partition(":")
        if version != _CIPHERTEXT_VERSION:
            raise ValueError(f"unknown ciphertext version {version!r}")
        raw = base64.urlsafe_b64decode(payload)
        return self._aead.decrypt(raw[:12], raw[12:], version.encode()).decode()

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._lookup_key, value.encode(), hashlib.sha256).hexdigest()


def load_key(app: Flask) -> bytes:
    configured = app.config.get("DATA_ENCRYPTION_KEY")
    if configured:
        return base64.b64decode(configured)
    if app.config.get("ENV_NAME") == "production":
        raise RuntimeError("DATA_ENCRYPTION_KEY must be set in production")
    key = instance_keys.read_or_create(
        app.config["DATA_KEY_FILE"], lambda: base64.b64encode(os.urandom(32)).decode()
    )
    return base64.b64decode(key)


def init_app(app: Flask) -> None:
    app.extensions["pii_cipher"] = PersonalDataCipher(load_key(app))


def cipher() -> PersonalDataCipher:
    return current_app.extensions["pii_cipher"]


def normalize_id_number(value: str) -> str:
    return value.strip().upper()


def check_id_number(value: str) -> None:
    """Raise InvalidNumber unless ``value`` is a valid national ID number (GB 11643-1999)."""
    if not _ID_SHAPE.match(value):
        raise InvalidNumber(ID_NUMBER_SHAPE())
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidNumber(ID_NUMBER_BIRTH_DATE()) from None
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise InvalidNumber(ID_NUMBER_CHECK_DIGIT())


def id_number_problem(value: str) -> str | None:
    """Why a national ID number is invalid (its reason), or None when it is valid."""
    try:
        check_id_number(value)
    except InvalidNumber as invalid:
        return invalid.reason
    return None


def id_check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def check_card_number(value: str) -> None:
    """Raise InvalidNumber unless ``value`` has the shape of a bank card number."""
    if not _CARD_SHAPE.match(value):
        raise InvalidNumber(CARD_NUMBER_SHAPE())


def card_number_problem(value: str) -> str | None:
    """Why a bank card number is invalid (its reason), or None."""
    try:
        check_card_number(value)
    except InvalidNumber as invalid:
        return invalid.reason
    return None


def mask(value: str) -> str:
    """``220524198803151234`` -> ``220***********1234``: enough to recognise, not to use."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
