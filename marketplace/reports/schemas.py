"""Response shapes of the cross-domain reads: money trails."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.households.models import HouseholdStatus
from marketplace.households.personal_data import ProtectedNumber
from marketplace.numbers import BoundedInteger, Id
from marketplace.periods import MonthField, PeriodField
from marketplace.reasons import reason

TO_BEFORE_FROM = reason("trail.to_before_from", "must not be before 'from'")


class TrailPostingOut(Schema):
    posting_id = fields.Integer()
    entry_id = fields.Integer()
    entry_kind = fields.String()
    effective_on = fields.Date()
    account_key = fields.String()
    account_kind = fields.String()
    owner_name = fields.String(allow_none=True)
    #: signed: debit positive, credit negative
    amount_fen = fields.Integer()
    rule_version_id = fields.Integer(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    refund_id = fields.Integer(allow_none=True)


class TrailLineOut(Schema):
    order_line_id = fields.Integer(allow_none=True)
    product_name = fields.String(allow_none=True)
    producer_id = fields.Integer(allow_none=True)
    producer_name = fields.String(allow_none=True)
    station_id = fields.Integer(allow_none=True)
    line_total_fen = fields.Integer(allow_none=True)
    refunded_fen = fields.Integer(allow_none=True)
    postings = fields.List(fields.Nested(TrailPostingOut))


class OrderTotalsOut(Schema):
    captured_fen = fields.Integer()
    refunded_fen = fields.Integer()
    fees_fen = fields.Integer()
    retained_fen = fields.Integer()
    attributed_fen = fields.Integer()
    #: attributed + retained + fees == captured - refunded
    balanced = fields.Boolean()


class OrderTrailOut(Schema):
    order_id = fields.Integer()
    number = fields.String()
    payment_status = fields.String()
    paid_at = fields.DateTime(allow_none=True)
    currency = fields.String()
    lines = fields.List(fields.Nested(TrailLineOut))
    totals = fields.Nested(OrderTotalsOut)


class HouseholdBriefOut(Schema):
    id = fields.Integer()
    registry_number = fields.String()
    head_name = fields.String()
    head_id_number = ProtectedNumber(encrypted="head_id_encrypted", masked="head_id_masked")
    village_id = fields.Integer()


class HouseholdCauseOut(Schema):
    order_id = fields.Integer(allow_none=True)
    order_number = fields.String(allow_none=True)
    order_line_id = fields.Integer(allow_none=True)
    product_name = fields.String(allow_none=True)
    producer_id = fields.Integer(allow_none=True)
    producer_name = fields.String(allow_none=True)
    payment_day = fields.Date(allow_none=True)
    refund_id = fields.Integer(allow_none=True)
    fund_disbursement_id = fields.Integer(allow_none=True)
    fund_name = fields.String(allow_none=True)
    payout_line_id = fields.Integer(allow_none=True)
    payout_run_id = fields.Integer(allow_none=True)


class HouseholdPostingOut(Schema):
    posting_id = fields.Integer()
    entry_id = fields.Integer()
    entry_kind = fields.String()
    effective_on = fields.Date()
    #: what the household earned (+) or what left its income account (−, refunds and payouts)
    income_fen = fields.Integer()
    #: what the household is owed after this posting
    balance_fen = fields.Integer()
    rule_version_id = fields.Integer(allow_none=True)
    cause = fields.Nested(HouseholdCauseOut)


class HouseholdTotalsOut(Schema):
    #: everything ever earned: sales, dividends and fund money, less refunds
    accrued_fen = fields.Integer()
    paid_fen = fields.Integer()
    in_transit_fen = fields.Integer()
    #: accrued and not yet in a payout
    owed_fen = fields.Integer()


class HouseholdTrailOut(Schema):
    household = fields.Nested(HouseholdBriefOut)
    currency = fields.String()
    totals = fields.Nested(HouseholdTotalsOut)
    postings = fields.List(fields.Nested(HouseholdPostingOut))


class TrailQuery(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError(TO_BEFORE_FROM(), "to")


# --- the attributed income report -------------------------------------------------------------


class IncomeQuery(Schema):
    region_id = Id(strict=False, required=True, metadata={"description": "A region in scope."})
    period = PeriodField(
        required=True,
        metadata={"description": "A month (2025-09), a quarter (2025-Q3) or a year (2025)."},
    )


class IncomeSourceOut(Schema):
    gross_fen = fields.Integer()
    refunds_fen = fields.Integer()
    net_fen = fields.Integer()


class CoverageOut(Schema):
    registered = fields.Integer()
    reached = fields.Integer()


class IncomeFiguresOut(Schema):
    by_source = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(IncomeSourceOut),
        metadata={
            "description": "own_sales, coop_dividends, enterprise_linking, assistance_funds, "
            "livestream_pledges"
        },
    )
    gross_fen = fields.Integer()
    refunds_fen = fields.Integer()
    net_fen = fields.Integer(metadata={"description": "Accrued in the period: gross - refunds."})
    paid_out_fen = fields.Integer(
        metadata={"description": "Sent to the bank in the period, less what it returned."}
    )
    households_registered = fields.Integer()
    households_reached = fields.Integer(
        metadata={"description": "Registered households with any income in the period."}
    )
    members_reached = fields.Integer()
    per_capita_fen = fields.Integer(
        metadata={
            "description": "net_fen over the members of the households reached, half up to the fen."
        }
    )
    coverage = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CoverageOut),
        metadata={"description": "By status at the period's end: in_poverty, lifted, monitoring."},
    )


class IncomeRowOut(IncomeFiguresOut):
    region_id = fields.Integer(metadata={"description": "A child region (above village level)."})
    household_id = fields.Integer(metadata={"description": "A household (at village level)."})
    name = fields.String()
    level = fields.String()
    status = fields.String(allow_none=True)
    members = fields.Integer()


class RegionRefOut(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()


class PeriodOut(Schema):
    label = fields.String()
    start = fields.Date()
    end = fields.Date()


class AdjustmentOut(Schema):
    month = fields.String(metadata={"description": "The closed month the entries belonged to."})
    net_fen = fields.Integer()


class FrozenOut(Schema):
    closed_at = fields.DateTime()
    closed_by_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(metadata={"description": "The region whose close froze it."})


def frozen_by():
    return fields.Nested(
        FrozenOut,
        allow_none=True,
        metadata={
            "description": "The close that froze this report (when, by whom, for which region: "
            "this one or one above it), which is then served as it stood at that close; null "
            "while the month is open, and for quarters and years."
        },
    )


class IncomeReportOut(Schema):
    region = fields.Nested(RegionRefOut)
    period = fields.Nested(PeriodOut)
    currency = fields.String()
    totals = fields.Nested(IncomeFiguresOut)
    rows = fields.List(fields.Nested(IncomeRowOut))
    adjustments = fields.List(
        fields.Nested(AdjustmentOut),
        metadata={
            "description": "Income that belongs to a month already closed when it was written, "
            "and so was dated into this period, the first open one: sales imported from a "
            "platform's export after the month of their payment was closed, and co-operative "
            "members' minimum-dividend top-ups dated 31 December of a closed year. Included in "
            "the figures above; each listed against the month it belongs to."
        },
    )
    close = frozen_by()


# --- closing months ---------------------------------------------------------------------------


class CloseIn(Schema):
    region_id = Id(required=True)
    month = MonthField(required=True, metadata={"description": "A month that is over: 2025-09."})


class ReopenIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class CloseQuery(Schema):
    region_id = Id(strict=False)
    closed = fields.Boolean()


class MonthCloseOut(Schema):
    id = fields.Integer()
    region_id = fields.Integer()
    month = fields.Method("_month")
    closed = fields.Boolean()
    closed_by_id = fields.Integer(allow_none=True)
    closed_at = fields.DateTime()
    reopened_by_id = fields.Integer(allow_none=True)
    reopened_at = fields.DateTime(allow_none=True)
    reopen_reason = fields.String(allow_none=True)

    def _month(self, close):
        return close.month.strftime("%Y-%m")


class ReconciliationOut(Schema):
    ok = fields.Boolean(metadata={"description": "No difference found."})
    differences = fields.List(
        fields.String(), metadata={"description": "Each difference, as flask ledger check says it."}
    )
    summary = fields.String()
    entries = fields.Integer()
    postings = fields.Integer()
    orders = fields.Integer(metadata={"description": "Paid orders checked."})
    gateways = fields.Integer(metadata={"description": "Clearing accounts checked."})


# --- consumption assistance -------------------------------------------------------------------


class AssistanceQuery(Schema):
    region_id = Id(strict=False, required=True)
    year = BoundedInteger(2000, 2099, strict=False, required=True)


class PurchaseFiguresOut(Schema):
    purchased_fen = fields.Integer(metadata={"description": "Paid, less refunds."})
    certified_fen = fields.Integer(
        metadata={"description": "Of produce certified on the day it was paid: what counts."}
    )
    uncertified_fen = fields.Integer(metadata={"description": "What does not count."})
    orders = fields.Integer()


class PairedVillageOut(PurchaseFiguresOut):
    village_id = fields.Integer()
    name = fields.String()


class UnitPurchasesOut(PurchaseFiguresOut):
    unit_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    quota_fen = fields.Integer(allow_none=True)
    completion_bp = fields.Integer(
        allow_none=True,
        metadata={"description": "certified_fen / quota_fen in basis points (10000 = met)."},
    )
    by_village = fields.List(fields.Nested(PairedVillageOut))


class AssistanceTotalsOut(Schema):
    purchased_fen = fields.Integer()
    certified_fen = fields.Integer()
    uncertified_fen = fields.Integer()
    quota_fen = fields.Integer()


class AssistanceReportOut(Schema):
    region = fields.Nested(RegionRefOut)
    year = fields.Integer()
    currency = fields.String()
    totals = fields.Nested(AssistanceTotalsOut)
    units = fields.List(fields.Nested(UnitPurchasesOut))


class TrailFileQuery(Schema):
    period = PeriodField(
        required=True,
        metadata={"description": "A month (2025-09), a quarter (2025-Q3) or a year (2025)."},
    )


class CoverageQuery(IncomeQuery):
    reached = fields.Boolean(
        metadata={"description": "true: households with income in the period; false: without."}
    )
    status = fields.Enum(HouseholdStatus, metadata={"description": "Status at the period's end."})


class CoverageRowOut(Schema):
    household_id = fields.Integer()
    name = fields.String()
    village_id = fields.Integer()
    village = fields.String()
    members = fields.Integer()
    status = fields.String(allow_none=True)
    reached = fields.Boolean()
