"""Response shapes of the cross-domain reads: money trails."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from marketplace.households.personal_data import ProtectedNumber


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
            raise ValidationError("must not be before 'from'", "to")
