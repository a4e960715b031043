"""What a session did: its sales (gross, refunds, net, orders, units, buyers) by SKU, by producer
and by source (our own checkout, each platform whose export was imported), the households that
gained and how much, and its pledges.

Computed on every read from the orders and the ledger, so a running session's results include
an order paid a moment ago, and an ended session's are final (its lines only change by a later
refund, which they show). The sales are the lines of the session's orders that were paid
(refunded ones included, their refunds subtracted); the households' amounts are the ledger's
postings on those lines (attribution less refund reversals) plus what the session's pledges
disbursed. A reader sees the lines their scope holds (a station its own, an official those of
their subtree) and the households it may see; the amounts of households beyond that are
summed, not hidden, so the figures still add up.
"""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.errors import PermissionDenied
from marketplace.households.models import Household
from marketplace.households.scoping import HOUSEHOLDS
from marketplace.ledger.models import FundDisbursementLine, Posting
from marketplace.ledger.pledges import service as pledge_service
from marketplace.ledger.pledges.models import Pledge, PledgeState
from marketplace.livestreams.models import SessionState
from marketplace.livestreams.scoping import SESSIONS
from marketplace.orders.models import Channel, Order, OrderLine, PaymentStatus
from marketplace.orders.scoping import ORDER_LINES
from marketplace.payments.models import Gateway, Payment, PaymentState
from marketplace.platform_sales.models import ImportedLine
from marketplace.producers.models import Producer
from marketplace.reasons import reason

#: An order whose lines count: it was paid (its refunds are subtracted line by line).
SOLD = (PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded)
OWN = "own"
RESULTS_FOR_STAFF = reason(
    "session_results.staff_only", "Session results are for stations, officials and admins."
)


def _lines(session_id: int, actor: Actor):
    """The session's sold lines the actor may see, with their order's source and buyer key."""
    platform = (
        sa.select(Payment.method)
        .where(
            Payment.order_id == Order.id,
            Payment.gateway == Gateway.platform,
            Payment.state == PaymentState.succeeded,
        )
        .limit(1)
        .scalar_subquery()
    )
    outside_order = (
        sa.select(ImportedLine.outside_order_id)
        .where(ImportedLine.order_line_id == OrderLine.id)
        .scalar_subquery()
    )
    imported = Order.channel == Channel.imported
    stmt = (
        sa.select(
            OrderLine.id.label("line_id"),
            OrderLine.order_id,
            OrderLine.sku_id,
            OrderLine.product_name,
            OrderLine.sku_spec,
            OrderLine.producer_id,
            OrderLine.quantity,
            OrderLine.refunded_quantity,
            OrderLine.line_total_fen,
            OrderLine.refunded_fen,
            sa.case((imported, platform), else_=sa.literal(OWN)).label("source"),
            # Who bought: our buyer; on a platform, which masks its buyers, its order.
            sa.case(
                (
                    imported,
                    sa.literal("p:") + platform + ":" + sa.func.coalesce(outside_order, ""),
                ),
                else_=sa.literal("b:") + sa.cast(Order.buyer_id, sa.String),
            ).label("buyer"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.livestream_session_id == session_id, Order.payment_status.in_(SOLD))
    )
    return ORDER_LINES.restrict(stmt, actor).subquery("session_lines")


def _totals(lines, *group) -> sa.Select:
    gross = sa.func.coalesce(sa.func.sum(lines.c.line_total_fen), 0)
    refunds = sa.func.coalesce(sa.func.sum(lines.c.refunded_fen), 0)
    return sa.select(
        *group,
        gross.label("gross_fen"),
        refunds.label("refunds_fen"),
        (gross - refunds).label("net_fen"),
        sa.func.count(sa.distinct(lines.c.order_id)).label("orders"),
        sa.func.coalesce(sa.func.sum(lines.c.quantity), 0).label("units"),
        sa.func.coalesce(sa.func.sum(lines.c.refunded_quantity), 0).label("units_refunded"),
        sa.func.count(sa.distinct(lines.c.buyer)).label("buyers"),
    )


def _figures(row) -> dict:
    return {
        name: int(getattr(row, name))
        for name in (
            "gross_fen",
            "refunds_fen",
            "net_fen",
            "orders",
            "units",
            "units_refunded",
            "buyers",
        )
    }


def session_results(session, actor: Actor, session_id: int) -> dict:
    if actor.role not in (Role.admin, Role.official, Role.station):
        raise PermissionDenied(RESULTS_FOR_STAFF())
    live_session = SESSIONS.get(session, session_id, actor)
    lines = _lines(live_session.id, actor)
    overall = session.execute(_totals(lines)).one()
    by_sku = session.execute(
        _totals(lines, lines.c.sku_id, lines.c.product_name, lines.c.sku_spec)
        .group_by(lines.c.sku_id, lines.c.product_name, lines.c.sku_spec)
        .order_by(sa.desc("net_fen"), lines.c.sku_id)
    ).all()
    by_producer = session.execute(
        _totals(lines, lines.c.producer_id, Producer.name)
        .join(Producer, Producer.id == lines.c.producer_id)
        .group_by(lines.c.producer_id, Producer.name)
        .order_by(sa.desc("net_fen"), lines.c.producer_id)
    ).all()
    by_source = session.execute(
        _totals(lines, lines.c.source).group_by(lines.c.source).order_by(lines.c.source)
    ).all()
    households, others = _households(session, actor, live_session.id, lines)
    return {
        "session_id": live_session.id,
        "code": live_session.code,
        "state": live_session.state,
        "final": live_session.state in (SessionState.ended, SessionState.cancelled),
        **_figures(overall),
        "currency": "CNY",
        "by_sku": [
            {
                "sku_id": r.sku_id,
                "product_name": r.product_name,
                "spec": r.sku_spec,
                **_figures(r),
            }
            for r in by_sku
        ],
        "by_producer": [
            {"producer_id": r.producer_id, "name": r.name, **_figures(r)} for r in by_producer
        ],
        "by_source": [{"source": r.source, **_figures(r)} for r in by_source],
        "households": households,
        "other_households_fen": others,
        "pledges": [
            {
                "id": p.id,
                "kind": p.kind,
                "payer_name": p.payer_name,
                "state": p.state,
                "amount_fen": p.amount_fen,
                "fund_id": p.fund_id,
                "not_funded": p.not_funded,
                "payer_receivable_fen": pledge_service.payer_receivable(session, p),
            }
            for p in pledge_service.list_pledges(session, actor, live_session.id)
        ],
    }


def _households(session, actor: Actor, session_id: int, lines) -> tuple[list[dict], int]:
    """(each household the actor may see: what the session's lines and pledges gave it; the sum
    for the households beyond the actor's scope)."""
    attributed = dict(
        session.execute(
            sa.select(Posting.household_id, -sa.func.sum(Posting.amount_fen))
            .where(
                Posting.order_line_id.in_(sa.select(lines.c.line_id)),
                Posting.household_id.is_not(None),
            )
            .group_by(Posting.household_id)
        ).all()
    )
    disbursed = sa.select(Pledge.disbursement_id).where(
        Pledge.session_id == session_id, Pledge.state == PledgeState.disbursed
    )
    pledged = dict(
        session.execute(
            sa.select(
                FundDisbursementLine.household_id, sa.func.sum(FundDisbursementLine.amount_fen)
            )
            .where(FundDisbursementLine.disbursement_id.in_(disbursed))
            .group_by(FundDisbursementLine.household_id)
        ).all()
    )
    ids = set(attributed) | set(pledged)
    visible = {
        row.id: row
        for row in session.execute(
            HOUSEHOLDS.restrict(
                sa.select(Household.id, Household.head_name, Household.village_id).where(
                    Household.id.in_(ids)
                ),
                actor,
            )
        )
    }
    shown, others = [], 0
    for household_id in sorted(ids):
        from_sales = int(attributed.get(household_id, 0))
        from_pledges = int(pledged.get(household_id, 0))
        if household_id not in visible:
            others += from_sales + from_pledges
            continue
        row = visible[household_id]
        shown.append(
            {
                "household_id": household_id,
                "head_name": row.head_name,
                "village_id": row.village_id,
                "attributed_fen": from_sales,
                "pledged_fen": from_pledges,
                "total_fen": from_sales + from_pledges,
            }
        )
    shown.sort(key=lambda h: (-h["total_fen"], h["household_id"]))
    return shown, others
