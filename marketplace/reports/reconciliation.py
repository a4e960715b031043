"""Reconciliation: every invariant of the ledger, checked over the whole of it, and the ledger
against the payments recorded (`flask ledger check`).

Each check is one aggregate statement (no query per order or account), so the whole ledger is
checked in a fixed number of statements whatever its size. The payments and payout lines are
the independent record the ledger must agree with.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa

from marketplace.households.status import latest_status_differences
from marketplace.ledger import journal, rollups, sales_rollups, village_rollups
from marketplace.ledger.models import AccountKind, EntryKind, JournalEntry, LedgerAccount, Posting
from marketplace.orders.models import Order, PaymentStatus
from marketplace.payments.models import Gateway, Payment
from marketplace.payouts.models import LineStatus, PayoutLine

_ATTRIBUTING = (EntryKind.attribution, EntryKind.refund_reversal)
#: liabilities: what households, co-ops, producers and funds are owed can never turn negative
_NEVER_IN_DEBIT = (
    AccountKind.household_income,
    AccountKind.coop_retained,
    AccountKind.producer_payable,
    AccountKind.assistance_fund,
)
_PAID_STATES = (PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded)


@dataclass
class Report:
    differences: list[str] = field(default_factory=list)
    entries: int = 0
    postings: int = 0
    orders: int = 0
    gateways: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        return (
            f"ledger consistent: {self.entries} entries, {self.postings} postings, "
            f"{self.orders} paid orders, {self.gateways} gateway clearing accounts checked"
        )


def run(session, *, progress=None) -> Report:
    """Every check, in turn; ``progress(done, total)`` after each (a job reports it)."""
    report = Report()
    report.entries, report.postings = session.execute(
        sa.select(
            sa.select(sa.func.count()).select_from(JournalEntry).scalar_subquery(),
            sa.select(sa.func.count()).select_from(Posting).scalar_subquery(),
        )
    ).one()
    checks = (
        _entries_balance,
        _no_zero_postings,
        _paid_orders_attributed,
        _orders_reconcile,
        _gateways_reconcile,
        _liabilities_not_in_debit,
        _in_transit_matches_lines,
        _rollups_match_postings,
        _latest_statuses_match_history,
    )
    for done, check in enumerate(checks, start=1):
        check(session, report)
        if progress is not None:
            progress(done, len(checks))
    return report


def as_body(report: Report) -> dict:
    """What the API answers (``ReconciliationOut``) and a reconciliation job keeps."""
    return {
        "ok": report.ok,
        "differences": report.differences,
        "summary": report.summary(),
        "entries": report.entries,
        "postings": report.postings,
        "orders": report.orders,
        "gateways": report.gateways,
    }


def _rollups_match_postings(session, report: Report) -> None:
    """The household income rollup reports read is the postings summed, row for row, the
    village rollups are the household rollup summed by village, and the sales rollup the
    channel report reads is its postings summed."""
    report.differences.extend(rollups.differences(session))
    report.differences.extend(village_rollups.differences(session))
    report.differences.extend(sales_rollups.differences(session))


def _latest_statuses_match_history(session, report: Report) -> None:
    """Each household's latest status, which reports count coverage from, is its history's."""
    report.differences.extend(latest_status_differences(session))


def _entries_balance(session, report: Report) -> None:
    for entry_id, kind, total in session.execute(
        sa.select(JournalEntry.id, JournalEntry.kind, sa.func.sum(Posting.amount_fen))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.kind)
        .having(sa.func.sum(Posting.amount_fen) != 0)
        .order_by(JournalEntry.id)
    ):
        report.differences.append(
            f"entry {entry_id} ({kind.value}): postings sum to {total} fen, not 0"
        )


def _no_zero_postings(session, report: Report) -> None:
    for posting_id, entry_id in session.execute(
        sa.select(Posting.id, Posting.entry_id).where(Posting.amount_fen == 0).order_by(Posting.id)
    ):
        report.differences.append(f"posting {posting_id} of entry {entry_id} is 0 fen")


def _paid_orders_attributed(session, report: Report) -> None:
    attributed = sa.select(JournalEntry.id).where(
        JournalEntry.order_id == Order.id, JournalEntry.kind == EntryKind.attribution
    )
    for order_id, number in session.execute(
        sa.select(Order.id, Order.number)
        .where(Order.payment_status.in_(_PAID_STATES), ~attributed.exists())
        .order_by(Order.id)
    ):
        report.differences.append(f"order {order_id} ({number}) is paid but was never attributed")


def _orders_reconcile(session, report: Report) -> None:
    """Per order: what the gateways hold for it equals captured − refunded in the payments,
    and attributed + retained + fees equals what its attribution entries took in."""
    paid = {
        order_id: int(net)
        for order_id, net in session.execute(
            sa.select(
                Payment.order_id, sa.func.sum(Payment.captured_fen - Payment.refunded_fen)
            ).group_by(Payment.order_id)
        )
        if net
    }
    is_clearing = LedgerAccount.kind == AccountKind.gateway_clearing
    attributing = JournalEntry.kind.in_(_ATTRIBUTING)
    in_ledger = {}
    for order_id, clearing, taken_in, kept in session.execute(
        sa.select(
            JournalEntry.order_id,
            sa.func.sum(sa.case((is_clearing, Posting.amount_fen), else_=0)),
            sa.func.sum(sa.case((sa.and_(is_clearing, attributing), Posting.amount_fen), else_=0)),
            -sa.func.sum(
                sa.case((sa.and_(~is_clearing, attributing), Posting.amount_fen), else_=0)
            ),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(JournalEntry.order_id.is_not(None))
        .group_by(JournalEntry.order_id)
    ):
        in_ledger[order_id] = (int(clearing), int(taken_in), int(kept))
    report.orders = len(paid)
    for order_id in sorted(paid.keys() | in_ledger.keys()):
        clearing, taken_in, kept = in_ledger.get(order_id, (0, 0, 0))
        if clearing != paid.get(order_id, 0):
            report.differences.append(
                f"order {order_id}: payments hold {paid.get(order_id, 0)} fen (captured − "
                f"refunded), the gateway clearing postings {clearing} fen"
            )
        if kept != taken_in:
            report.differences.append(
                f"order {order_id}: attributed + retained + fees = {kept} fen, but captured − "
                f"refunded in its attribution = {taken_in} fen"
            )


def _gateways_reconcile(session, report: Report) -> None:
    # A platform's sales clear through that platform's own account (Payment.clearing).
    clearing = sa.case((Payment.gateway == Gateway.platform, Payment.method), else_=Payment.gateway)
    paid = {
        str(gateway): int(net)
        for gateway, net in session.execute(
            sa.select(clearing, sa.func.sum(Payment.captured_fen - Payment.refunded_fen)).group_by(
                clearing
            )
        )
    }
    held = {
        gateway: int(balance)
        for gateway, balance in session.execute(
            sa.select(LedgerAccount.gateway, sa.func.coalesce(sa.func.sum(Posting.amount_fen), 0))
            .outerjoin(Posting, Posting.account_id == LedgerAccount.id)
            .where(LedgerAccount.kind == AccountKind.gateway_clearing)
            .group_by(LedgerAccount.gateway)
        )
    }
    report.gateways = len(held)
    for gateway in sorted(paid.keys() | held.keys()):
        if paid.get(gateway, 0) != held.get(gateway, 0):
            report.differences.append(
                f"gateway {gateway}: payments captured − refunded {paid.get(gateway, 0)} fen, "
                f"clearing account balance {held.get(gateway, 0)} fen"
            )


def _liabilities_not_in_debit(session, report: Report) -> None:
    for key, balance in session.execute(
        sa.select(LedgerAccount.key, sa.func.sum(Posting.amount_fen))
        .join(Posting, Posting.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind.in_(_NEVER_IN_DEBIT))
        .group_by(LedgerAccount.key)
        .having(sa.func.sum(Posting.amount_fen) > 0)
        .order_by(LedgerAccount.key)
    ):
        report.differences.append(
            f"{key} is {balance} fen in debit: more went out of it than it was ever owed"
        )


def _in_transit_matches_lines(session, report: Report) -> None:
    in_transit = -journal.balances(session, [journal.PAYOUTS_IN_TRANSIT])[
        journal.PAYOUTS_IN_TRANSIT
    ]
    on_lines = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(PayoutLine.amount_fen), 0)).where(
            PayoutLine.status == LineStatus.in_transit
        )
    ).scalar_one()
    if in_transit != int(on_lines):
        report.differences.append(
            f"payouts in transit: the ledger holds {in_transit} fen, the payout lines in "
            f"transit add up to {on_lines} fen"
        )
