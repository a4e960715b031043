"""Request and response shapes of the ledger: rule versions, station fees, assistance funds.
Amounts are integer fen; amounts owed are shown as positive numbers."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.ledger.models import (
    DisbursementMode,
    EnterpriseBasis,
    FundSource,
    RuleKind,
    RuleStatus,
    Weighting,
)
from marketplace.numbers import MAX_ID, BoundedInteger, Fen, Id
from marketplace.reasons import reason

BENEFICIARY_LISTED_TWICE = reason("rule.beneficiary_listed_twice", "a household is listed twice")
PERIOD_ENDS_BEFORE_START = reason("period.ends_before_start", "must not be before 'from'")
PREVIEW_TOO_LONG = reason("preview.period_too_long", "a preview covers at most 366 days")
REQUIRED_IN_MODE = reason("disbursement.field_required_in_mode", "required in mode {mode}")
UNUSED_IN_MODE = reason("disbursement.field_unused_in_mode", "not used in mode {mode}")
HOUSEHOLD_LISTED_TWICE = reason(
    "disbursement.household_listed_twice", "a household is listed twice"
)


def _basis_points(**kwargs) -> BoundedInteger:
    return BoundedInteger(0, 10_000, **kwargs)


def _weight(**kwargs) -> BoundedInteger:
    return BoundedInteger(1, MAX_ID, **kwargs)


# --- benefit-linking rules -------------------------------------------------------------------


class BeneficiaryIn(Schema):
    household_id = Id(required=True)
    weight = _weight(load_default=1)


class BeneficiaryOut(Schema):
    household_id = fields.Integer()
    weight = fields.Integer()


class _RuleFields(Schema):
    retained_bp = _basis_points(
        metadata={"description": "Co-operative: the share the co-op keeps, in basis points."},
    )
    minimum_dividend_fen = Fen(
        allow_none=True,
        metadata={"description": "Co-operative: guaranteed yearly dividend per member (保底分红)."},
    )
    enterprise_basis = fields.Enum(EnterpriseBasis)
    enterprise_bp = _basis_points(metadata={"description": "Enterprise, percentage basis."})
    premium_per_unit_fen = Fen(low=1, metadata={"description": "Enterprise, per-unit basis."})
    weighting = fields.Enum(Weighting)
    beneficiaries = fields.List(
        fields.Nested(BeneficiaryIn),
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "Enterprise: the households money goes to."},
    )
    note = fields.String(allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def _unique_beneficiaries(self, data, **kwargs):
        ids = [b["household_id"] for b in data.get("beneficiaries") or ()]
        if len(ids) != len(set(ids)):
            raise ValidationError(BENEFICIARY_LISTED_TWICE(), "beneficiaries")


class RuleIn(_RuleFields):
    kind = fields.Enum(RuleKind, required=True)
    effective_from = fields.Date(required=True)


class RuleUpdateIn(_RuleFields):
    revision = BoundedInteger(
        0,
        MAX_ID,
        required=True,
        metadata={
            "description": "The draft's revision you read (its edits so far); another one is "
            "a 409 naming the current one."
        },
    )
    effective_from = fields.Date()


class RuleOut(Schema):
    id = fields.Integer()
    producer_id = fields.Integer()
    version = fields.Integer(metadata={"description": "The rule's version number."})
    revision = fields.Integer(
        metadata={"description": "Its draft's edits so far: name it in a PATCH."}
    )
    kind = fields.Enum(RuleKind)
    status = fields.Enum(RuleStatus)
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    retained_bp = fields.Integer(allow_none=True)
    minimum_dividend_fen = fields.Integer(allow_none=True)
    enterprise_basis = fields.Enum(EnterpriseBasis, allow_none=True)
    enterprise_bp = fields.Integer(allow_none=True)
    premium_per_unit_fen = fields.Integer(allow_none=True)
    weighting = fields.Enum(Weighting, allow_none=True)
    beneficiaries = fields.List(fields.Nested(BeneficiaryOut))
    note = fields.String(allow_none=True)
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)


class PeriodQuery(Schema):
    # "from" is a keyword in Python, hence data_key.
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if "from_" in data and "to" in data:
            if data["to"] < data["from_"]:
                raise ValidationError(PERIOD_ENDS_BEFORE_START(), "to")
            if (data["to"] - data["from_"]).days > 366:
                raise ValidationError(PREVIEW_TOO_LONG(), "to")


class PreviewHouseholdOut(Schema):
    household_id = fields.Integer()
    head_name = fields.String()
    would_get_fen = fields.Integer()
    actually_got_fen = fields.Integer()
    difference_fen = fields.Integer()


class PreviewTotalsOut(Schema):
    lines = fields.Integer()
    gross_fen = fields.Integer()
    fees_fen = fields.Integer()
    would_attribute_fen = fields.Integer()
    would_retain_fen = fields.Integer()
    actually_attributed_fen = fields.Integer()
    actually_retained_fen = fields.Integer()


class PreviewOut(Schema):
    rule_id = fields.Integer()
    producer_id = fields.Integer()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    currency = fields.String()
    households = fields.List(fields.Nested(PreviewHouseholdOut))
    totals = fields.Nested(PreviewTotalsOut)


# --- station fees ----------------------------------------------------------------------------


class StationFeeIn(Schema):
    fee_bp = _basis_points(required=True)
    effective_from = fields.Date(required=True)


class StationFeeOut(Schema):
    id = fields.Integer()
    station_id = fields.Integer()
    fee_bp = fields.Integer()
    effective_from = fields.Date()
    created_by_id = fields.Integer()
    created_at = fields.DateTime()


# --- assistance funds ------------------------------------------------------------------------


class FundIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    source = fields.Enum(FundSource, required=True)
    region_id = Id(required=True)
    description = fields.String(load_default=None, validate=validate.Length(max=500))


class FundQuery(Schema):
    source = fields.Enum(FundSource)
    q = fields.String(validate=validate.Length(min=1, max=50))


class FundOut(Schema):
    id = fields.Integer()
    name = fields.String()
    source = fields.Enum(FundSource)
    region_id = fields.Integer()
    description = fields.String(allow_none=True)
    bound = fields.Boolean(
        metadata={"description": "A pledge's fund: it gives only through the pledge's approval."}
    )
    created_by_id = fields.Integer()
    created_at = fields.DateTime()


class FundDetailOut(FundOut):
    #: what is left to disburse
    balance_fen = fields.Integer()
    contributed_fen = fields.Integer()
    disbursed_fen = fields.Integer()
    currency = fields.String()


class ContributionIn(Schema):
    amount_fen = Fen(low=1, required=True)
    contributor = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Receipt or transfer reference; sending it again is a replay."},
    )


class ContributionOut(Schema):
    id = fields.Integer()
    fund_id = fields.Integer()
    amount_fen = fields.Integer()
    currency = fields.String()
    contributor = fields.String()
    reference = fields.String()
    created_by_id = fields.Integer()
    created_at = fields.DateTime()


class WeightedHouseholdIn(Schema):
    household_id = Id(required=True)
    weight = _weight(required=True)


def _used_in_mode(name: str, mode: DisbursementMode):
    """A check of a disbursement's field that ``mode`` needs and the other mode refuses (one
    check per field, so that each bad field is named at once)."""

    @validates_schema
    def check(self, data, **kwargs):
        given = data.get("mode")
        wanted = (given is DisbursementMode.fixed) == (mode is DisbursementMode.fixed)
        if wanted and name not in data:
            raise ValidationError(REQUIRED_IN_MODE(mode=given), name)
        if not wanted and name in data:
            raise ValidationError(UNUSED_IN_MODE(mode=given), name)

    return check


class DisbursementIn(Schema):
    mode = fields.Enum(DisbursementMode, required=True)
    memo = fields.String(required=True, validate=validate.Length(min=1, max=300))
    amount_each_fen = Fen(low=1, metadata={"description": "Mode fixed."})
    household_ids = fields.List(
        Id(),
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "Mode fixed."},
    )
    total_fen = Fen(low=1, metadata={"description": "Mode weights."})
    households = fields.List(
        fields.Nested(WeightedHouseholdIn),
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "Mode weights."},
    )

    _amount_each_in_mode = _used_in_mode("amount_each_fen", DisbursementMode.fixed)
    _household_ids_in_mode = _used_in_mode("household_ids", DisbursementMode.fixed)
    _total_in_mode = _used_in_mode("total_fen", DisbursementMode.weights)
    _households_in_mode = _used_in_mode("households", DisbursementMode.weights)

    @validates_schema
    def _listed_once(self, data, **kwargs):
        if data.get("mode") is DisbursementMode.fixed:
            field, ids = "household_ids", data.get("household_ids") or []
        else:
            field, ids = "households", [h["household_id"] for h in data.get("households") or ()]
        if len(ids) != len(set(ids)):
            raise ValidationError(HOUSEHOLD_LISTED_TWICE(), field)


class DisbursementLineOut(Schema):
    household_id = fields.Integer()
    weight = fields.Integer(allow_none=True)
    amount_fen = fields.Integer()


class DisbursementOut(Schema):
    id = fields.Integer()
    fund_id = fields.Integer()
    mode = fields.Enum(DisbursementMode)
    total_fen = fields.Integer()
    memo = fields.String()
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    lines = fields.List(fields.Nested(DisbursementLineOut))
