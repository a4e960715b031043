"""Request and response shapes of the household registry.

National ID and card numbers leave the service masked except for the actors allowed to see them
(``households/personal_data.py``).
"""

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace import pii
from marketplace.bank_text import BankText
from marketplace.households.models import HouseholdStatus, MonitoringType, PovertyCause
from marketplace.households.personal_data import ProtectedNumber
from marketplace.numbers import BoundedInteger, Id
from marketplace.reasons import reason

NOT_A_MOBILE_NUMBER = reason(
    "phone.not_mobile", "must be a mainland mobile number: 11 digits starting 13-19"
)
REGISTRY_NUMBER_SHAPE = reason(
    "household.registry_number_shape", "must be 6 to 32 letters, digits or hyphens"
)
CAUSE_REPEATED = reason("household.cause_repeated", "lists a cause more than once")
MONITORING_TYPE_REQUIRED = reason(
    "household.monitoring_type_required", "required when the status is monitoring"
)
MONITORING_TYPE_REFUSED = reason(
    "household.monitoring_type_refused", "only for the status monitoring"
)


class IdNumber(fields.String):
    """A national ID number (GB 11643): 18 characters with a valid check digit.

    Error messages never repeat the number, since they end up in responses and logs.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        number = pii.normalize_id_number(super()._deserialize(value, attr, data, **kwargs))
        try:
            pii.check_id_number(number)
        except pii.InvalidNumber as invalid:
            raise ValidationError(invalid.reason) from None
        return number


class CardNumber(fields.String):
    """A bank card number; spaces, as printed on the card, are dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        number = "".join(super()._deserialize(value, attr, data, **kwargs).split())
        try:
            pii.check_card_number(number)
        except pii.InvalidNumber as invalid:
            raise ValidationError(invalid.reason) from None
        return number


MOBILE_PHONE = validate.Regexp(r"^1[3-9][0-9]{9}$", error=NOT_A_MOBILE_NUMBER())
REGISTRY_NUMBER = validate.Regexp(r"^[0-9A-Za-z-]{6,32}$", error=REGISTRY_NUMBER_SHAPE())


def _no_duplicates(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError(CAUSE_REPEATED())


def check_monitoring_type(status, monitoring_type) -> None:
    """A monitored household has one of the three monitoring types; no other status has one."""
    if status is HouseholdStatus.monitoring and monitoring_type is None:
        raise ValidationError(MONITORING_TYPE_REQUIRED(), "monitoring_type")
    if status is not None and status is not HouseholdStatus.monitoring and monitoring_type:
        raise ValidationError(MONITORING_TYPE_REFUSED(), "monitoring_type")


class VillageOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class HouseholdOut(Schema):
    id = fields.Integer()
    registry_number = fields.String()
    head_name = fields.String()
    head_id_number = ProtectedNumber(encrypted="head_id_encrypted", masked="head_id_masked")
    phone = fields.String(allow_none=True)
    members_count = fields.Integer()
    village_id = fields.Integer()
    village = fields.Nested(VillageOut)
    address = fields.String(allow_none=True)
    poverty_causes = fields.List(fields.String())
    helper_name = fields.String(allow_none=True)
    helper_phone = fields.String(allow_none=True)
    status = fields.Enum(HouseholdStatus)
    monitoring_type = fields.Enum(MonitoringType, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class HouseholdRegisteredOut(HouseholdOut):
    reported_from = fields.Function(
        lambda household: f"{household.reported_from:%Y-%m}",
        metadata={
            "description": "The first month whose reports count the household: the month of "
            "its initial status, or, when that month is closed for its village (signed off "
            "without it), the first open month after it. Closed months' reports never change."
        },
    )


class HouseholdIn(Schema):
    registry_number = fields.String(required=True, validate=REGISTRY_NUMBER)
    head_name = fields.String(required=True, validate=[validate.Length(min=1, max=50), BankText()])
    head_id_number = IdNumber(required=True)
    members_count = BoundedInteger(1, 99, required=True)
    village_id = Id(required=True)
    phone = fields.String(load_default=None, allow_none=True, validate=MOBILE_PHONE)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    poverty_causes = fields.List(
        fields.Enum(PovertyCause), load_default=list, validate=_no_duplicates
    )
    helper_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=50)
    )
    helper_phone = fields.String(load_default=None, allow_none=True, validate=MOBILE_PHONE)
    status = fields.Enum(HouseholdStatus, required=True)
    monitoring_type = fields.Enum(MonitoringType, load_default=None, allow_none=True)
    status_effective_from = fields.Date(
        load_default=None,
        metadata={"description": "When the initial status took effect; default today."},
    )

    @validates_schema(skip_on_field_errors=False)
    def _monitoring_type(self, data, **kwargs):
        check_monitoring_type(data.get("status"), data.get("monitoring_type"))


class HouseholdUpdateIn(Schema):
    """Changes to the registry entry. The status changes only through status changes."""

    version = Id(
        required=True,
        metadata={"description": "The version you read; a newer one on the server is a 409."},
    )
    registry_number = fields.String(validate=REGISTRY_NUMBER)
    head_name = fields.String(validate=[validate.Length(min=1, max=50), BankText()])
    head_id_number = IdNumber()
    members_count = BoundedInteger(1, 99)
    village_id = Id()
    phone = fields.String(allow_none=True, validate=MOBILE_PHONE)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    poverty_causes = fields.List(fields.Enum(PovertyCause), validate=_no_duplicates)
    helper_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=50))
    helper_phone = fields.String(allow_none=True, validate=MOBILE_PHONE)


class HouseholdQuery(Schema):
    village_id = Id(strict=False)
    within = Id(strict=False, metadata={"description": "Only households in this region's subtree."})
    status = fields.Enum(HouseholdStatus)
    monitoring_type = fields.Enum(MonitoringType)
    registry_number = fields.String(validate=validate.Length(min=1, max=32))
    q = fields.String(
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Part of the head of household's name."},
    )
    id_number = fields.Raw(
        load_only=True,
        metadata={
            "description": "Refused (400): an ID number is never sent in a URL, which proxies "
            "and access logs keep. POST it to /households/lookup.",
            "deprecated": True,
        },
    )


class HouseholdLookupIn(Schema):
    id_number = IdNumber(
        required=True,
        metadata={"description": "The head's national ID number: an exact match."},
    )


class StatusChangeIn(Schema):
    status = fields.Enum(HouseholdStatus, required=True)
    monitoring_type = fields.Enum(MonitoringType, load_default=None, allow_none=True)
    effective_from = fields.Date(
        required=True,
        metadata={
            "description": "May be in the past or the future; the current status "
            "follows the latest change effective today (Asia/Shanghai)."
        },
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema(skip_on_field_errors=False)
    def _monitoring_type(self, data, **kwargs):
        check_monitoring_type(data.get("status"), data.get("monitoring_type"))


class StatusChangeOut(Schema):
    id = fields.Integer()
    household_id = fields.Integer()
    status = fields.Enum(HouseholdStatus)
    monitoring_type = fields.Enum(MonitoringType, allow_none=True)
    effective_from = fields.Date()
    note = fields.String(allow_none=True)
    recorded_by_id = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime()


class PayoutAccountIn(Schema):
    bank_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    card_number = CardNumber(required=True)
    holder_name = fields.String(
        required=True, validate=[validate.Length(min=1, max=50), BankText()]
    )
    holder_id_number = IdNumber(required=True)
    holder_relation = fields.String(
        load_default="本人",
        validate=validate.Length(min=1, max=20),
        metadata={"description": "The holder's relation to the head: 本人, 配偶, 子女..."},
    )


class PayoutAccountOut(Schema):
    household_id = fields.Integer()
    bank_name = fields.String()
    card_number = ProtectedNumber(encrypted="card_encrypted", masked="card_masked")
    holder_name = fields.String()
    holder_id_number = ProtectedNumber(encrypted="holder_id_encrypted", masked="holder_id_masked")
    holder_relation = fields.String()
    updated_at = fields.DateTime()


class RegistryImportIn(Schema):
    """A registry file to import, one multipart/form-data body."""

    file = Upload(
        required=True,
        metadata={
            "description": "The registry CSV (UTF-8 or GB18030; the columns of "
            "`flask households import`)."
        },
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "Validate every row, write nothing."}
    )
    skip_existing = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Skip rows whose registry number is registered already (with the "
            "same head), so an interrupted import can be run again."
        },
    )
