from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.bank_text import BankText
from marketplace.households.schemas import ProtectedNumber
from marketplace.numbers import MAX_ID, BoundedInteger, Fen, Id
from marketplace.producers.models import ProducerKind, UnitKind
from marketplace.producers.service import CREDIT_CODE_LENGTH
from marketplace.reasons import reason
from marketplace.regions.schemas import RegionOut

PHONE_SHAPE = reason("phone.shape", "5 to 20 digits, spaces, + or -")
STATION_CODE_SHAPE = reason("station.code_shape", "1 to 32 letters, digits, _ or -")
END_OR_CHANGE = reason(
    "membership.end_or_change", "end the membership or change its shares, not both"
)
EFFECTIVE_FROM_REQUIRED = reason(
    "membership.effective_from_required", "required when changing shares"
)
SHARES_REQUIRED = reason("membership.shares_required", "required with effective_from")
NOTHING_TO_CHANGE = reason(
    "membership.nothing_to_change", "send shares with effective_from, or left_on"
)

_PHONE = validate.Regexp(r"^[0-9+\- ]{5,20}$", error=PHONE_SHAPE())
_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error=STATION_CODE_SHAPE())
#: shape only; the check character (GB 32100) is verified by the service
_CREDIT_CODE = validate.Length(equal=18, error=CREDIT_CODE_LENGTH())


def _shares(**kwargs) -> BoundedInteger:
    # the column is a 32-bit integer
    return BoundedInteger(1, MAX_ID, **kwargs)


def _version():
    return Id(
        required=True,
        metadata={"description": "The version you read; a newer one on the server is a 409."},
    )


# --- stations --------------------------------------------------------------------------------


class StationBrief(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class StationOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    village_id = fields.Integer()
    village = fields.Nested(RegionOut)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class StationIn(Schema):
    code = fields.String(required=True, validate=_CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    village_id = Id(required=True)
    address = fields.String(load_default=None, validate=validate.Length(max=200))
    phone = fields.String(load_default=None, validate=_PHONE)


class StationUpdateIn(Schema):
    version = _version()
    code = fields.String(validate=_CODE)
    name = fields.String(validate=validate.Length(min=1, max=100))
    village_id = Id()
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=_PHONE)
    is_active = fields.Boolean()


class StationQuery(Schema):
    within = Id(strict=False, metadata={"description": "Only stations in this region's subtree."})
    q = fields.String(validate=validate.Length(min=1, max=50))
    is_active = fields.Boolean()


# --- producers -------------------------------------------------------------------------------


class ProducerOut(Schema):
    id = fields.Integer()
    kind = fields.Enum(ProducerKind)
    name = fields.String()
    region_id = fields.Integer()
    region = fields.Nested(RegionOut)
    station_id = fields.Integer()
    station = fields.Nested(StationBrief)
    household_id = fields.Integer(allow_none=True)
    credit_code = fields.String(allow_none=True)
    legal_representative = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class ProducerIn(Schema):
    kind = fields.Enum(ProducerKind, required=True)
    name = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Required, except for a household: the head's name by default."},
    )
    region_id = Id(
        metadata={"description": "Required, except for a household: its own village."},
    )
    station_id = Id(
        metadata={"description": "The managing station; admins only (a station manages its own)."},
    )
    household_id = Id(metadata={"description": "For kind household."})
    credit_code = fields.String(
        validate=_CREDIT_CODE,
        metadata={"description": "统一社会信用代码, for co-operatives and enterprises."},
    )
    legal_representative = fields.String(validate=validate.Length(min=1, max=50))
    contact_phone = fields.String(validate=_PHONE)
    description = fields.String(validate=validate.Length(max=2000))


class ProducerUpdateIn(Schema):
    version = _version()
    name = fields.String(validate=validate.Length(min=1, max=100))
    region_id = Id()
    station_id = Id(metadata={"description": "Admins only."})
    credit_code = fields.String(validate=_CREDIT_CODE)
    legal_representative = fields.String(allow_none=True, validate=validate.Length(max=50))
    contact_phone = fields.String(allow_none=True, validate=_PHONE)
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    is_active = fields.Boolean()


class ProducerQuery(Schema):
    kind = fields.Enum(ProducerKind)
    within = Id(strict=False, metadata={"description": "Only producers in this region's subtree."})
    station_id = Id(strict=False)
    q = fields.String(validate=validate.Length(min=1, max=50))
    is_active = fields.Boolean()


# --- co-operative memberships ----------------------------------------------------------------


class MembershipOut(Schema):
    id = fields.Integer()
    cooperative_id = fields.Integer()
    household_id = Id(strict=False)
    household_name = fields.String(attribute="household.head_name")
    shares = fields.Integer()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()


class MembershipIn(Schema):
    household_id = Id(required=True)
    shares = _shares(required=True)
    joined_on = fields.Date(required=True)


class MembershipChangeIn(Schema):
    """Either new ``shares`` from ``effective_from``, or ``left_on`` to end the membership."""

    shares = _shares()
    effective_from = fields.Date(metadata={"description": "The first day of the new share count."})
    left_on = fields.Date(metadata={"description": "The last day of membership."})

    @validates_schema
    def one_change(self, data, **kwargs):
        if "left_on" in data and ("shares" in data or "effective_from" in data):
            raise ValidationError(END_OR_CHANGE(), "left_on")
        if "shares" in data and "effective_from" not in data:
            raise ValidationError(EFFECTIVE_FROM_REQUIRED(), "effective_from")
        if "effective_from" in data and "shares" not in data:
            raise ValidationError(SHARES_REQUIRED(), "shares")
        if not data:
            raise ValidationError(NOTHING_TO_CHANGE(), "shares")


class MembershipQuery(Schema):
    on = fields.Date(metadata={"description": "Only the memberships in force on this day."})
    household_id = Id(strict=False)


# --- buying units ----------------------------------------------------------------------------


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.Enum(UnitKind)
    credit_code = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class UnitIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.Enum(UnitKind, required=True)
    credit_code = fields.String(load_default=None, validate=_CREDIT_CODE)
    contact_name = fields.String(load_default=None, validate=validate.Length(min=1, max=50))
    contact_phone = fields.String(load_default=None, validate=_PHONE)
    region_id = Id(load_default=None)


class UnitUpdateIn(Schema):
    version = _version()
    name = fields.String(validate=validate.Length(min=1, max=100))
    kind = fields.Enum(UnitKind)
    credit_code = fields.String(allow_none=True, validate=_CREDIT_CODE)
    contact_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=50))
    contact_phone = fields.String(allow_none=True, validate=_PHONE)
    region_id = Id(allow_none=True)
    is_active = fields.Boolean()


class UnitQuery(Schema):
    kind = fields.Enum(UnitKind)
    within = Id(strict=False, metadata={"description": "Only units seated in this subtree."})
    q = fields.String(validate=validate.Length(min=1, max=50))
    is_active = fields.Boolean()


class PairingOut(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    village_id = fields.Integer()
    village = fields.Nested(RegionOut)
    since = fields.Date()


class PairingIn(Schema):
    village_id = Id(required=True)
    since = fields.Date(required=True)


class QuotaOut(Schema):
    unit_id = fields.Integer()
    year = fields.Integer()
    quota_fen = fields.Integer()
    currency = fields.String()


class QuotaIn(Schema):
    quota_fen = Fen(required=True)
    currency = fields.String(load_default="CNY", validate=validate.OneOf(["CNY"]))


ACCOUNT_NUMBER_SHAPE = reason(
    "producer_payout_account.number_shape", "8 to 32 digits (spaces are dropped)"
)


class AccountNumber(fields.String):
    """An organisation's bank account number: digits; spaces, as printed, are dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        number = "".join(super()._deserialize(value, attr, data, **kwargs).split())
        if not (number.isascii() and number.isdigit() and 8 <= len(number) <= 32):
            raise ValidationError(ACCOUNT_NUMBER_SHAPE())
        return number


class ProducerPayoutAccountIn(Schema):
    bank_name = fields.String(required=True, validate=[validate.Length(min=1, max=100), BankText()])
    account_name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), BankText()],
        metadata={"description": "户名: the name on the account, as the bank holds it."},
    )
    account_number = AccountNumber(required=True)


class ProducerPayoutAccountOut(Schema):
    producer_id = fields.Integer()
    bank_name = fields.String()
    account_name = fields.String()
    account_number = ProtectedNumber(encrypted="account_encrypted", masked="account_masked")
    updated_by_id = fields.Integer()
    updated_at = fields.DateTime()


class ProducerPayoutAccountChangeOut(Schema):
    changed_by_id = fields.Integer()
    changed_at = fields.DateTime()
    remote_addr = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True, metadata={"description": "Masked; null: none."})
    after = fields.Dict(metadata={"description": "Masked."})
