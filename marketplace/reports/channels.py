"""Sales and attributed income by channel and by livestream session, for a region and a period.

Read from the ledger like the income report, so the two agree and a closed month's figures
stay put: the sales of the region's produce are the clearing postings of its order lines
(attribution less refund reversals) dated in the period, and the attributed income the
postings of those lines to household income accounts. A channel is the order's (web, station
counter, unit procurement, livestream), with imported sales split by the platform they came
from (imported:douyin, ...).
"""

from collections import defaultdict

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.ledger.models import AccountKind, EntryKind, JournalEntry, LedgerAccount, Posting
from marketplace.livestreams.models import LivestreamSession
from marketplace.orders.models import Channel, Order, OrderLine
from marketplace.payments.models import Gateway, Payment, PaymentState
from marketplace.periods import Period
from marketplace.producers.models import Producer
from marketplace.regions.models import Region
from marketplace.reports.income import region_in_scope

_ATTRIBUTING = (EntryKind.attribution, EntryKind.refund_reversal)


def _figures() -> dict:
    return {
        "orders": 0,
        "gross_fen": 0,
        "refunds_fen": 0,
        "net_fen": 0,
        "attributed_fen": 0,
    }


def channel_report(session, actor: Actor, region_id: int, period: Period) -> dict:
    region = region_in_scope(session, actor, region_id)
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
    channel = sa.case(
        (Order.channel == Channel.imported, sa.literal("imported:") + platform),
        else_=sa.cast(Order.channel, sa.String),
    )
    produce_here = sa.select(Region.id).where(Region.path.startswith(region.path))
    rows = session.execute(
        sa.select(
            channel,
            Order.livestream_session_id,
            JournalEntry.kind,
            LedgerAccount.kind,
            sa.func.sum(Posting.amount_fen),
            sa.func.count(sa.distinct(Order.id)),
        )
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(OrderLine, OrderLine.id == Posting.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Producer, Producer.id == OrderLine.producer_id)
        .where(
            Posting.effective_on.between(period.start, period.end),
            JournalEntry.kind.in_(_ATTRIBUTING),
            LedgerAccount.kind.in_((AccountKind.gateway_clearing, AccountKind.household_income)),
            Producer.region_id.in_(produce_here),
        )
        .group_by(channel, Order.livestream_session_id, JournalEntry.kind, LedgerAccount.kind)
    ).all()
    by_channel: dict[str, dict] = defaultdict(_figures)
    by_session: dict[int, dict] = defaultdict(_figures)
    orders = _orders(session, period, produce_here, channel)
    for name, session_id, entry_kind, account_kind, amount, _count in rows:
        amount = int(amount)
        targets = [by_channel[name]]
        if session_id is not None:
            targets.append(by_session[session_id])
        for figures in targets:
            if account_kind is AccountKind.gateway_clearing:
                if entry_kind is EntryKind.attribution:
                    figures["gross_fen"] += amount
                else:
                    figures["refunds_fen"] -= amount
            else:
                figures["attributed_fen"] -= amount
    for (name, session_id), count in orders.items():
        by_channel[name]["orders"] += count
        if session_id is not None:
            by_session[session_id]["orders"] += count
    sessions = {
        row.id: row
        for row in session.execute(
            sa.select(
                LivestreamSession.id,
                LivestreamSession.code,
                LivestreamSession.title,
                LivestreamSession.platform,
            ).where(LivestreamSession.id.in_(list(by_session)))
        )
    }
    totals = _figures()
    for figures in (*by_channel.values(), *by_session.values()):
        figures["net_fen"] = figures["gross_fen"] - figures["refunds_fen"]
    for figures in by_channel.values():
        for name in totals:
            totals[name] += figures[name]
    return {
        "region": {"id": region.id, "name": region.name, "level": region.level},
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "currency": "CNY",
        "totals": totals,
        "by_channel": [{"channel": name, **by_channel[name]} for name in sorted(by_channel)],
        "by_session": [
            {
                "session_id": session_id,
                "code": sessions[session_id].code,
                "title": sessions[session_id].title,
                "platform": sessions[session_id].platform,
                **figures,
            }
            for session_id, figures in sorted(by_session.items())
        ],
    }


def _orders(session, period: Period, produce_here, channel) -> dict[tuple, int]:
    """Orders with a line of the region's produce attributed in the period, by channel and
    session (an order counts once even when several of its lines are)."""
    attributed_orders = (
        sa.select(OrderLine.order_id)
        .join(Posting, Posting.order_line_id == OrderLine.id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Producer, Producer.id == OrderLine.producer_id)
        .where(
            Posting.effective_on.between(period.start, period.end),
            JournalEntry.kind == EntryKind.attribution,
            Producer.region_id.in_(produce_here),
        )
    )
    return {
        (name, session_id): count
        for name, session_id, count in session.execute(
            sa.select(channel, Order.livestream_session_id, sa.func.count())
            .where(Order.id.in_(attributed_orders))
            .group_by(channel, Order.livestream_session_id)
        )
    }
