"""Who sees national ID and bank card numbers in full, and how responses show them.

The numbers leave the service masked (220***********1234) unless the response is serialized
inside ``personal_numbers_revealed(True)``. Views that may show them are decorated with
``shows_personal_numbers``, which turns that on only for the actors the registry allows, so
any other use of these schemas (an export, a log line) masks by default. This is the one rule
for every response that carries such numbers: households, money trails, payout runs.
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from marshmallow import fields

from marketplace import pii
from marketplace.accounts.auth import Actor, current_actor

_reveal_personal_numbers: ContextVar[bool] = ContextVar("reveal_personal_numbers", default=False)


def may_see_personal_numbers(actor: Actor) -> bool:
    """Only admins see national ID and card numbers in full; everyone else sees the mask."""
    return actor.is_admin


@contextmanager
def personal_numbers_revealed(reveal: bool) -> Iterator[None]:
    token = _reveal_personal_numbers.set(reveal)
    try:
        yield
    finally:
        _reveal_personal_numbers.reset(token)


def shows_personal_numbers(view):
    """Serialize the view's response with numbers in full for the actors allowed to see them,
    and then keep it out of every cache (``Cache-Control: no-store``). Put it below
    ``login_required`` and above the view's ``@blp.response``."""

    @functools.wraps(view)
    def serialized_for_actor(*args, **kwargs):
        reveal = may_see_personal_numbers(current_actor())
        with personal_numbers_revealed(reveal):
            response = view(*args, **kwargs)
        if reveal:
            response.headers["Cache-Control"] = "no-store"
        return response

    return serialized_for_actor


class ProtectedNumber(fields.String):
    """The stored mask, or the decrypted number when the caller may see it; ``None`` for a row
    that has no such number (a producer's payout line has no card)."""

    def __init__(self, *, encrypted: str, masked: str, **kwargs):
        kwargs.setdefault(
            "metadata", {"description": "Masked (220***********1234) except for admins."}
        )
        super().__init__(attribute=masked, dump_only=True, **kwargs)
        self.encrypted = encrypted

    def _serialize(self, value, attr, obj, **kwargs):
        if _reveal_personal_numbers.get():
            ciphertext = getattr(obj, self.encrypted)
            return None if ciphertext is None else pii.cipher().decrypt(ciphertext)
        return value
