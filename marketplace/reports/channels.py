"""Sales and attributed income by channel, by livestream session and by child region, for a
region and a period.

Read from the ledger like the income report, so the two agree and a closed month's figures
stay put: the sales of the region's produce are the clearing postings of its order lines
(attribution less refund reversals) dated in the period, and the attributed income the
postings of those lines to household income accounts. They are read summed by month, product
and order, from the rollup the ledger keeps with them (``ledger/sales_rollups.py``), so a
report costs the orders of its period, not the hundred postings a co-op's line writes; reading
the postings themselves is the reference it is held equal to. A sale is placed in a region by
where its produce comes from, the product's village of origin (as orders are for officials),
so every sale lies in exactly one village and a region's money is the sum of its children's
(``by_region``). A channel is the order's (web, station counter, unit procurement,
livestream), with imported sales split by the platform they came from (imported:douyin, ...).
``orders`` counts distinct orders: an order with produce of two townships counts once for
their county and once for each township.
"""

from collections import defaultdict

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.catalog.models import Product
from marketplace.ledger.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
    SalesMonth,
)
from marketplace.ledger.sales_rollups import MONEY_ACCOUNTS, SELLING
from marketplace.livestreams.models import LivestreamSession
from marketplace.orders.models import Channel, Order, OrderLine
from marketplace.payments.models import Gateway, Payment, PaymentState
from marketplace.periods import Period
from marketplace.regions.models import Region
from marketplace.regions.service import child_of_villages, subtree, village_paths
from marketplace.reports.frozen import CHANNELS, frozen_report
from marketplace.reports.scoping import reported_region


def _figures() -> dict:
    return {"orders": 0, "gross_fen": 0, "refunds_fen": 0, "net_fen": 0, "attributed_fen": 0}


def _channel():
    """The channel of the order a posting's line belongs to, imported sales by platform."""
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
    return sa.case(
        (Order.channel == Channel.imported, sa.literal("imported:") + platform),
        else_=sa.cast(Order.channel, sa.String),
    )


def channel_report(session, actor: Actor, region_id: int, period: Period) -> dict:
    """The report as the actor may read it: a closed month's as its close froze it, else
    live."""
    region = reported_region(session, actor, region_id)
    frozen = frozen_report(session, region.id, period, CHANNELS)
    if frozen is not None:
        return frozen
    return {**build_report(session, region, period), "close": None}


def build_report(session, region: Region, period: Period, *, from_postings: bool = False) -> dict:
    """The report computed from the ledger now (no scope check: the caller made it); read from
    the postings themselves with ``from_postings``: the reference the rollup is held equal to."""
    return build_reports(session, region, period, [region], from_postings=from_postings)[region.id]


def build_reports(
    session, root: Region, period: Period, regions, *, from_postings: bool = False
) -> dict[int, dict]:
    """The reports of ``regions`` (each in ``root``'s subtree), by region id, from one read of
    the ledger for ``root``'s villages: a close of ``root`` freezes every region below it
    (two hundred for a county) for the cost of one report, where each read on its own went
    over the month's postings again. Each report is its villages' rows folded (``_report``),
    as a single one is."""
    paths = village_paths(session, root)
    channel = _channel()
    by_order = (_by_order_from_postings if from_postings else _by_order)(period, list(paths))
    money, orders = _read(session, by_order, channel)
    named = {each.id: each for each in subtree(session, root)}
    sessions = _sessions(session, {row[1] for row in money if row[1] is not None})
    return {
        region.id: _report(
            region, period, child_of_villages(region, paths), money, orders, named, sessions
        )
        for region in regions
    }


def _report(region: Region, period: Period, child_of, money, orders, named, sessions) -> dict:
    """One region's report from the rows of its villages (and others', left out)."""
    by_channel: dict[str, dict] = defaultdict(_figures)
    by_session: dict[int, dict] = defaultdict(_figures)
    by_child: dict[int, dict] = defaultdict(_figures)
    for name, session_id, village_id, entry_kind, account_kind, amount in money:
        if village_id not in child_of:
            continue
        targets = [by_channel[name], by_child[child_of[village_id]]]
        if session_id is not None:
            targets.append(by_session[session_id])
        for figures in targets:
            _add(figures, entry_kind, account_kind, int(amount))
    _count_orders(child_of, orders, by_channel, by_session, by_child)
    for figures in (*by_channel.values(), *by_session.values(), *by_child.values()):
        figures["net_fen"] = figures["gross_fen"] - figures["refunds_fen"]
    totals = _figures()
    for figures in by_channel.values():
        for name in totals:
            totals[name] += figures[name]
    children = sorted((named[child_id] for child_id in set(child_of.values())), key=_by_code)
    return {
        "region": {"id": region.id, "name": region.name, "level": region.level},
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "currency": "CNY",
        "totals": totals,
        "by_channel": [{"channel": name, **by_channel[name]} for name in sorted(by_channel)],
        "by_session": [
            {**sessions[session_id], **figures}
            for session_id, figures in sorted(by_session.items())
        ],
        # Each child listed even when it sold nothing; their money sums to the totals.
        "by_region": [
            {"region_id": child.id, "name": child.name, "level": child.level, **by_child[child.id]}
            for child in children
        ],
    }


def _by_code(region) -> str:
    return region.code


def _count_orders(child_of, orders, by_channel, by_session, by_child) -> None:
    """Orders with a line of the region's produce attributed in the period, each counted once
    by its channel and session, and once in each child region it has produce of."""
    counted: set[int] = set()
    in_child: dict[int, set[int]] = defaultdict(set)
    for order_id, village_id, name, session_id in orders:
        if village_id not in child_of:
            continue
        in_child[child_of[village_id]].add(order_id)
        if order_id in counted:
            continue
        counted.add(order_id)
        by_channel[name]["orders"] += 1
        if session_id is not None:
            by_session[session_id]["orders"] += 1
    for child_id, order_ids in in_child.items():
        by_child[child_id]["orders"] += len(order_ids)


def _add(figures: dict, entry_kind, account_kind, amount: int) -> None:
    if account_kind is AccountKind.gateway_clearing:
        if entry_kind is EntryKind.attribution:
            figures["gross_fen"] += amount
        else:
            figures["refunds_fen"] -= amount
    else:
        figures["attributed_fen"] -= amount


def _read(session, by_order, channel) -> tuple[list, list]:
    """One read of the period's sales of the villages' produce, attributed or reversed, by
    order (``_by_order``), from which come both parts of a report:

    * the money: the clearing and household postings summed by channel, session, village of
      origin, entry kind and account kind (as ``(channel, session id, village id, entry kind,
      account kind, amount)``);
    * the orders attributed: each order with a line attributed in the period, once per village
      of origin (as ``(order id, village id, channel, session id)``)."""
    named = _named_orders(by_order, channel)
    found_money, found_orders = [], []
    for (
        part,
        name,
        session_id,
        village_id,
        entry_kind,
        account_kind,
        amount,
        order_id,
    ) in session.execute(sa.union_all(_money_part(by_order, named), _orders_part(by_order, named))):
        if part == "money":
            entry_kind, account_kind = EntryKind(entry_kind), AccountKind(account_kind)
            found_money.append((name, session_id, village_id, entry_kind, account_kind, amount))
        else:
            found_orders.append((order_id, village_id, name, session_id))
    return found_money, found_orders


def _named_orders(by_order, channel):
    """Each order of ``by_order`` once, with its channel and livestream session: an order is
    looked up (its platform too, for an imported one) once, not once for each of its rows."""
    return (
        sa.select(Order.id.label("order_id"), channel.label("channel"), Order.livestream_session_id)
        .where(Order.id.in_(sa.select(by_order.c.order_id)))
        .cte("named_orders")
    )


def _money_part(by_order, named):
    return (
        sa.select(
            sa.literal("money").label("part"),
            named.c.channel,
            named.c.livestream_session_id,
            by_order.c.village_id,
            by_order.c.entry_kind,
            by_order.c.account_kind,
            sa.func.sum(by_order.c.amount_fen).label("amount_fen"),
            sa.null().label("order_id"),
        )
        .join(named, named.c.order_id == by_order.c.order_id)
        .where(by_order.c.account_kind.in_(MONEY_ACCOUNTS))
        .group_by(
            named.c.channel,
            named.c.livestream_session_id,
            by_order.c.village_id,
            by_order.c.entry_kind,
            by_order.c.account_kind,
        )
    )


def _orders_part(by_order, named):
    attributed = (
        sa.select(by_order.c.order_id, by_order.c.village_id)
        .where(by_order.c.entry_kind == EntryKind.attribution)
        .distinct()
        .subquery("attributed")
    )
    return sa.select(
        sa.literal("order").label("part"),
        named.c.channel,
        named.c.livestream_session_id,
        attributed.c.village_id,
        sa.null(),
        sa.null(),
        sa.null(),
        attributed.c.order_id,
    ).join(named, named.c.order_id == attributed.c.order_id)


def _by_order(period: Period, villages: list[int]):
    """The period's sales of the villages' produce, attributed or reversed, summed by order,
    village of origin, entry kind and account kind, from the sales rollup (its months in the
    period: periods are whole months). Summed by order before anything names an order's
    channel: an imported order's platform is a payment looked up."""
    assert period.start.day == 1, "reports cut whole months"
    return (
        sa.select(
            SalesMonth.order_id,
            Product.origin_village_id.label("village_id"),
            SalesMonth.kind.label("entry_kind"),
            SalesMonth.account_kind.label("account_kind"),
            sa.func.sum(SalesMonth.amount_fen).label("amount_fen"),
        )
        .join(Product, Product.id == SalesMonth.product_id)
        .where(
            SalesMonth.month.between(period.start, period.end),
            Product.origin_village_id.in_(villages),
        )
        .group_by(
            SalesMonth.order_id, Product.origin_village_id, SalesMonth.kind, SalesMonth.account_kind
        )
        .cte("by_order")
    )


def _by_order_from_postings(period: Period, villages: list[int]):
    """``_by_order`` read from the postings themselves, summed as the rollup sums them: the
    reference."""
    return (
        sa.select(
            OrderLine.order_id,
            Product.origin_village_id.label("village_id"),
            JournalEntry.kind.label("entry_kind"),
            LedgerAccount.kind.label("account_kind"),
            sa.func.sum(Posting.amount_fen).label("amount_fen"),
        )
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(OrderLine, OrderLine.id == Posting.order_line_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Posting.effective_on.between(period.start, period.end),
            JournalEntry.kind.in_(SELLING),
            Product.origin_village_id.in_(villages),
        )
        .group_by(
            OrderLine.order_id, Product.origin_village_id, JournalEntry.kind, LedgerAccount.kind
        )
        .cte("by_order")
    )


def _sessions(session, session_ids: set[int]) -> dict[int, dict]:
    return {
        row.id: {
            "session_id": row.id,
            "code": row.code,
            "title": row.title,
            "platform": row.platform,
        }
        for row in session.execute(
            sa.select(
                LivestreamSession.id,
                LivestreamSession.code,
                LivestreamSession.title,
                LivestreamSession.platform,
            ).where(LivestreamSession.id.in_(sorted(session_ids)))
        )
    }
