"""Response shape of a livestream session's results. Amounts are integer fen."""

from marshmallow import Schema, fields

from marketplace.ledger.pledges.models import PledgeKind, PledgeState
from marketplace.ledger.pledges.schemas import NotFunded
from marketplace.livestreams.models import SessionState


class FiguresOut(Schema):
    gross_fen = fields.Integer(metadata={"description": "What the paid lines came to."})
    refunds_fen = fields.Integer()
    net_fen = fields.Integer(metadata={"description": "gross_fen - refunds_fen"})
    orders = fields.Integer()
    units = fields.Integer()
    units_refunded = fields.Integer()
    buyers = fields.Integer(
        metadata={
            "description": "Distinct buyers: ours by account; a platform masks its buyers, so "
            "each of its orders counts as one."
        }
    )


class SkuFiguresOut(FiguresOut):
    sku_id = fields.Integer()
    product_name = fields.String()
    spec = fields.String()


class ProducerFiguresOut(FiguresOut):
    producer_id = fields.Integer()
    name = fields.String()


class SourceFiguresOut(FiguresOut):
    source = fields.String(
        metadata={"description": "own (our checkout), or the platform an import came from."}
    )


class HouseholdGainOut(Schema):
    household_id = fields.Integer()
    head_name = fields.String()
    village_id = fields.Integer()
    attributed_fen = fields.Integer(
        metadata={"description": "From the session's sales, less refunds (the ledger's)."}
    )
    pledged_fen = fields.Integer(metadata={"description": "From its pledges, once disbursed."})
    total_fen = fields.Integer()


class PledgeSummaryOut(Schema):
    id = fields.Integer()
    kind = fields.Enum(PledgeKind)
    payer_name = fields.String()
    state = fields.Enum(PledgeState)
    amount_fen = fields.Integer(allow_none=True)
    fund_id = fields.Integer(allow_none=True)
    not_funded = NotFunded(allow_none=True)
    payer_receivable_fen = fields.Integer(
        metadata={
            "description": "What the paying producer owes back now (0 when nothing): a refund "
            "after the pledge was funded took back proceeds it was drawn from. The pledge "
            "stands; the producer's later proceeds settle it, and nothing is paid out to it "
            "meanwhile."
        }
    )


class ResultsOut(FiguresOut):
    session_id = fields.Integer()
    code = fields.String()
    state = fields.Enum(SessionState)
    final = fields.Boolean(
        metadata={
            "description": "The session ended: no more checkout orders join it (sales imported "
            "from a platform's later export still do, and later refunds show)."
        }
    )
    currency = fields.String()
    by_sku = fields.List(fields.Nested(SkuFiguresOut))
    by_producer = fields.List(fields.Nested(ProducerFiguresOut))
    by_source = fields.List(fields.Nested(SourceFiguresOut))
    households = fields.List(fields.Nested(HouseholdGainOut))
    other_households_fen = fields.Integer(
        metadata={"description": "What households beyond your scope gained, summed."}
    )
    pledges = fields.List(fields.Nested(PledgeSummaryOut))
