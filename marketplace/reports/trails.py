"""Money trails: where an order's money went, and where a household's income came from.

Both read the ledger with their causes joined in (order lines, refunds, funds, payout lines),
in a constant number of statements.
"""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_date
from marketplace.errors import NotFound, PermissionDenied
from marketplace.households.models import Household
from marketplace.households.scoping import HOUSEHOLDS
from marketplace.ledger import journal
from marketplace.ledger.models import (
    AccountKind,
    AssistanceFund,
    BenefitRule,
    EntryKind,
    FundDisbursement,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from marketplace.orders.models import Order, OrderLine
from marketplace.orders.scoping import ORDER_LINES
from marketplace.payouts.models import LineStatus, PayoutLine
from marketplace.producers.models import Producer, Station
from marketplace.reasons import reason

TRAILS_FOR_STAFF = reason(
    "trail.staff_only", "Money trails are for admins, officials and stations."
)
NO_SUCH_ORDER = reason("trail.order_not_found", "Order {order_id} not found.")

_FEES = {AccountKind.station_fee, AccountKind.platform_fee}
_RETAINED = {AccountKind.coop_retained, AccountKind.producer_payable}
#: entries that make a household's income (the rest move it towards the bank, or back)
_EARNING = (
    EntryKind.attribution,
    EntryKind.refund_reversal,
    EntryKind.fund_disbursement,
    EntryKind.minimum_dividend,
)


def _require_staff(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.official, Role.station):
        raise PermissionDenied(TRAILS_FOR_STAFF())


# --- an order --------------------------------------------------------------------------------


def _visible_lines(session, actor: Actor, order_id: int) -> list[OrderLine]:
    """The order's lines the actor may follow: a station its own, an official those whose
    produce comes from their subtree, an admin all."""
    _require_staff(actor)
    stmt = ORDER_LINES.restrict(sa.select(OrderLine).where(OrderLine.order_id == order_id), actor)
    lines = list(session.execute(stmt.order_by(OrderLine.id)).scalars())
    if not lines:
        raise NotFound(NO_SUCH_ORDER(order_id=order_id))
    return lines


def _owner_name():
    return sa.func.coalesce(
        Household.head_name, Producer.name, Station.name, AssistanceFund.name, LedgerAccount.key
    )


def order_trail(session, actor: Actor, order_id: int) -> dict:
    lines = _visible_lines(session, actor, order_id)
    order = session.get(Order, order_id)
    rows = _order_postings(session, actor, order_id, [line.id for line in lines])
    producer_names = dict(
        session.execute(
            sa.select(Producer.id, Producer.name).where(
                Producer.id.in_({line.producer_id for line in lines})
            )
        ).all()
    )
    by_line, totals = _postings_by_line(rows)
    trail_lines = [
        {
            "order_line_id": line.id,
            "product_name": line.product_name,
            "producer_id": line.producer_id,
            "producer_name": producer_names.get(line.producer_id),
            "station_id": line.station_id,
            "line_total_fen": line.line_total_fen,
            "refunded_fen": line.refunded_fen,
            "postings": by_line.get(line.id, []),
        }
        for line in lines
    ]
    if by_line.get(None):
        trail_lines.append({"order_line_id": None, "postings": by_line[None]})
    kept = totals["attributed"] + totals["retained"] + totals["fees"]
    return {
        "order_id": order.id,
        "number": order.number,
        "payment_status": order.payment_status.value,
        "paid_at": order.paid_at,
        "currency": order.currency,
        "lines": trail_lines,
        "totals": {
            **{f"{name}_fen": amount for name, amount in totals.items()},
            "balanced": kept == totals["captured"] - totals["refunded"],
        },
    }


def _order_postings(session, actor: Actor, order_id: int, line_ids: list[int]) -> list:
    """The order's postings on the lines the actor follows, with their accounts' owners."""
    on_lines = Posting.order_line_id.in_(line_ids)
    # Money that reached the order without a line to go to (paid after cancelling) is the
    # platform's business; only admins see it.
    scope = sa.or_(on_lines, Posting.order_line_id.is_(None)) if actor.is_admin else on_lines
    return session.execute(
        sa.select(
            Posting.id,
            Posting.entry_id,
            JournalEntry.kind,
            Posting.effective_on,
            LedgerAccount.key,
            LedgerAccount.kind,
            _owner_name(),
            Posting.amount_fen,
            Posting.rule_version_id,
            BenefitRule.version,
            Posting.household_id,
            JournalEntry.refund_id,
            Posting.order_line_id,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .outerjoin(Household, Household.id == LedgerAccount.household_id)
        .outerjoin(Producer, Producer.id == LedgerAccount.producer_id)
        .outerjoin(Station, Station.id == LedgerAccount.station_id)
        .outerjoin(AssistanceFund, AssistanceFund.id == LedgerAccount.fund_id)
        .outerjoin(BenefitRule, BenefitRule.id == Posting.rule_version_id)
        .where(JournalEntry.order_id == order_id, scope)
        .order_by(Posting.id)
    ).all()


def _postings_by_line(rows) -> tuple[dict, dict]:
    """The postings by order line (``None``: those on no line), and the lines' totals:
    captured, refunded, fees, retained and attributed."""
    by_line = defaultdict(list)
    totals = dict.fromkeys(("captured", "refunded", "fees", "retained", "attributed"), 0)
    for row in rows:
        (posting_id, entry_id, entry_kind, on, key, kind, owner, amount, rule_id, rule_version,
         household_id, refund_id, line_id) = row  # fmt: skip
        by_line[line_id].append(
            {
                "posting_id": posting_id,
                "entry_id": entry_id,
                "entry_kind": entry_kind.value,
                "effective_on": on,
                "account_key": key,
                "account_kind": kind.value,
                "owner_name": owner,
                "amount_fen": amount,
                "rule_version_id": rule_id,
                "rule_version": rule_version,
                "household_id": household_id,
                "refund_id": refund_id,
            }
        )
        if line_id is None:
            continue
        if kind is AccountKind.gateway_clearing:
            totals["captured" if amount > 0 else "refunded"] += abs(amount)
        elif kind in _FEES:
            totals["fees"] -= amount
        elif kind in _RETAINED:
            totals["retained"] -= amount
        elif kind is AccountKind.household_income:
            totals["attributed"] -= amount
    return by_line, totals


# --- a household -----------------------------------------------------------------------------


def household_trail(
    session,
    actor: Actor,
    household_id: int,
    *,
    start: date | None,
    end: date | None,
    page: int,
    page_size: int,
) -> tuple[dict, int]:
    """One page of the postings to the household's income account, oldest first, each with
    its cause and the amount owed after it; and the account's totals. Returns the trail and
    the number of postings in the period."""
    _require_staff(actor)
    household = HOUSEHOLDS.get(session, household_id, actor)
    account_id = session.execute(
        sa.select(LedgerAccount.id).where(
            LedgerAccount.key == journal.household_income(household_id)
        )
    ).scalar_one_or_none()
    trail = {"household": household, "currency": "CNY", "postings": []}
    payouts = _payout_totals(session, household_id)
    if account_id is None:
        trail["totals"] = {"accrued_fen": 0, "owed_fen": 0, **payouts}
        return trail, 0

    running = _running_balance(account_id)
    period = []
    if start is not None:
        period.append(running.c.effective_on >= start)
    if end is not None:
        period.append(running.c.effective_on <= end)
    count = session.execute(
        sa.select(sa.func.count()).select_from(running).where(*period)
    ).scalar_one()
    rows = _postings_with_causes(session, running, period, page=page, page_size=page_size)
    trail["postings"] = [_trail_posting(row) for row in rows]
    by_kind = dict(
        session.execute(
            sa.select(JournalEntry.kind, sa.func.sum(Posting.amount_fen))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.account_id == account_id)
            .group_by(JournalEntry.kind)
        ).all()
    )
    trail["totals"] = {
        "accrued_fen": -sum(int(by_kind.get(kind, 0)) for kind in _EARNING),
        "owed_fen": -sum(int(amount) for amount in by_kind.values()),
        **payouts,
    }
    return trail, count


def _running_balance(account_id: int):
    """The account's postings, each with the balance after it. The running balance is summed
    over the whole account, then the period is cut from it, so the first row of a page or a
    period still shows what was owed after it."""
    return (
        sa.select(
            Posting.id,
            Posting.entry_id,
            Posting.amount_fen,
            Posting.effective_on,
            Posting.rule_version_id,
            Posting.order_line_id,
            sa.func.sum(Posting.amount_fen)
            .over(order_by=(Posting.effective_on, Posting.id))
            .label("running"),
        )
        .where(Posting.account_id == account_id)
        .subquery()
    )


def _postings_with_causes(session, running, period: list, *, page: int, page_size: int) -> list:
    """One page of the period's postings, oldest first, with their causes joined in: the
    order and line, the producer, the fund, the payout."""
    return session.execute(
        sa.select(
            running,
            JournalEntry.kind,
            JournalEntry.order_id,
            JournalEntry.refund_id,
            JournalEntry.fund_disbursement_id,
            JournalEntry.payout_line_id,
            Order.number,
            Order.paid_at,
            OrderLine.product_name,
            OrderLine.producer_id,
            Producer.name.label("producer_name"),
            AssistanceFund.name.label("fund_name"),
            PayoutLine.run_id,
        )
        .join(JournalEntry, JournalEntry.id == running.c.entry_id)
        .outerjoin(Order, Order.id == JournalEntry.order_id)
        .outerjoin(OrderLine, OrderLine.id == running.c.order_line_id)
        .outerjoin(Producer, Producer.id == OrderLine.producer_id)
        .outerjoin(FundDisbursement, FundDisbursement.id == JournalEntry.fund_disbursement_id)
        .outerjoin(AssistanceFund, AssistanceFund.id == FundDisbursement.fund_id)
        .outerjoin(PayoutLine, PayoutLine.id == JournalEntry.payout_line_id)
        .where(*period)
        .order_by(running.c.effective_on, running.c.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()


def _trail_posting(row) -> dict:
    return {
        "posting_id": row.id,
        "entry_id": row.entry_id,
        "entry_kind": row.kind.value,
        "effective_on": row.effective_on,
        "income_fen": -row.amount_fen,
        "balance_fen": -int(row.running),
        "rule_version_id": row.rule_version_id,
        "cause": {
            "order_id": row.order_id,
            "order_number": row.number,
            "order_line_id": row.order_line_id,
            "product_name": row.product_name,
            "producer_id": row.producer_id,
            "producer_name": row.producer_name,
            "payment_day": shanghai_date(row.paid_at) if row.paid_at else None,
            "refund_id": row.refund_id,
            "fund_disbursement_id": row.fund_disbursement_id,
            "fund_name": row.fund_name,
            "payout_line_id": row.payout_line_id,
            "payout_run_id": row.run_id,
        },
    }


def _payout_totals(session, household_id: int) -> dict:
    found = dict(
        session.execute(
            sa.select(PayoutLine.status, sa.func.sum(PayoutLine.amount_fen))
            .where(
                PayoutLine.household_id == household_id,
                PayoutLine.status.in_([LineStatus.paid, LineStatus.in_transit]),
            )
            .group_by(PayoutLine.status)
        ).all()
    )
    return {
        "paid_fen": int(found.get(LineStatus.paid, 0)),
        "in_transit_fen": int(found.get(LineStatus.in_transit, 0)),
    }
