"""Payout runs: propose what is owed, approve it (maker-checker), and move it to in transit.

What a payee is owed for a run ending on ``period_end`` is what its account accrued up to that
day, less everything already moved out by payouts (whatever their date), and never more than
the account's balance today (a refund dated after the period may have reversed part of it):

    owed = min(accrued up to period_end - paid out or in transit, current balance)

Liabilities are credit-normal (negative balances), so both terms are negated sums of postings.
Approval checks every line against this again, so no payout ever exceeds what was accrued and
no income account is ever pushed into debit by a payout.

Proposing a run is in ``proposals``; the bank's side (downloads and the return file) in
``settlement``.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.approvals import check_not_a_maker
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, PermissionDenied
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import AccountKind, EntryKind, JournalEntry, LedgerAccount, Posting
from marketplace.payouts.models import LineStatus, PayoutRun, RunStatus
from marketplace.payouts.scoping import PAYOUT_RUNS
from marketplace.reasons import reason

#: entries that move money out of (or, on a bank return, back into) a payee's account
_PAYOUT_KINDS = (EntryKind.payout_approved, EntryKind.payout_returned)

FOR_ADMINS_AND_OFFICIALS = reason(
    "payout_run.role_refused", "Payout runs are for admins and officials."
)
PROPOSER_CANNOT_APPROVE = reason(
    "payout_run.proposer_cannot_approve", "The user who proposed a payout run cannot approve it."
)
RUN_CANCELLED = reason("payout_run.cancelled", "Payout run {run_id} was cancelled.")
OWED_FELL = reason(
    "payout_run.owed_fell",
    "What some payees are owed fell since the run was proposed (a refund); cancel it "
    "and propose again.",
)
LINE_OWED_LESS = reason(
    "payout_line.owed_less_now", "proposes {proposed_fen} fen but only {owed_fen} fen is owed now"
)
ONLY_PROPOSED_CANCEL = reason(
    "payout_run.not_proposed", "Payout run {run_id} is {status}; only proposed runs cancel."
)


@dataclass(frozen=True)
class Owed:
    account_id: int
    key: str
    kind: AccountKind
    household_id: int | None
    producer_id: int | None
    amount_fen: int


def owed_amounts(session, accounts: sa.ColumnElement, period_end: date) -> dict[int, Owed]:
    """What each account selected by ``accounts`` is owed up to ``period_end`` (one statement)."""
    counts_for_period = sa.or_(
        JournalEntry.kind.in_(_PAYOUT_KINDS), Posting.effective_on <= period_end
    )
    rows = session.execute(
        sa.select(
            LedgerAccount.id,
            LedgerAccount.key,
            LedgerAccount.kind,
            LedgerAccount.household_id,
            LedgerAccount.producer_id,
            sa.func.sum(Posting.amount_fen),
            sa.func.sum(sa.case((counts_for_period, Posting.amount_fen), else_=0)),
        )
        .join(Posting, Posting.account_id == LedgerAccount.id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(accounts)
        .group_by(LedgerAccount.id)
        .order_by(LedgerAccount.id)
    ).all()
    owed = {}
    for account_id, key, kind, household_id, producer_id, balance, for_period in rows:
        amount = min(-int(for_period), -int(balance))
        if amount > 0:
            owed[account_id] = Owed(account_id, key, kind, household_id, producer_id, amount)
    return owed


# --- reading ---------------------------------------------------------------------------------


def require_payout_role(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.official):
        raise PermissionDenied(FOR_ADMINS_AND_OFFICIALS())


def get_run(session, actor: Actor, run_id: int, *, for_update: bool = False) -> PayoutRun:
    """The run with its lines, if the actor may see it (404 otherwise)."""
    require_payout_role(actor)
    # Approvals and bank returns of one run queue on its lock (SQLite serializes writers anyway).
    return PAYOUT_RUNS.get(
        session, run_id, actor, options=[selectinload(PayoutRun.lines)], lock=for_update
    )


def list_runs(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    require_payout_role(actor)
    stmt = PAYOUT_RUNS.restrict(sa.select(PayoutRun), actor)
    if filters.get("status"):
        stmt = stmt.where(PayoutRun.status == filters["status"])
    if filters.get("region_id"):
        stmt = stmt.where(PayoutRun.region_id == filters["region_id"])
    return page_of(session, stmt, order_by=[PayoutRun.id.desc()], page=page, page_size=page_size)


# --- proposing -------------------------------------------------------------------------------


# --- approving -------------------------------------------------------------------------------


def approve_run(session, actor: Actor, run_id: int) -> PayoutRun:
    """The checker's approval: every line is moved to in transit in the ledger. Approving an
    approved run again changes nothing."""
    run = get_run(session, actor, run_id, for_update=True)
    check_not_a_maker(actor, [run.proposed_by_id], PROPOSER_CANNOT_APPROVE())
    if run.status in (RunStatus.approved, RunStatus.settled):
        return run
    if run.status is RunStatus.cancelled:
        raise Conflict(RUN_CANCELLED(run_id=run.id))

    # A refund reversing income from these accounts at this moment either lands before our
    # balance check (and is seen) or waits until the payout is written.
    payees = LedgerAccount.id.in_([line.account_id for line in run.lines])
    journal.lock_accounts(session, payees)
    owed = owed_amounts(session, payees, run.period_end)
    owed_now = {
        line.id: owed[line.account_id].amount_fen if line.account_id in owed else 0
        for line in run.lines
    }
    short = {
        f"lines.{line.id}": [
            LINE_OWED_LESS(proposed_fen=line.amount_fen, owed_fen=owed_now[line.id])
        ]
        for line in run.lines
        if line.amount_fen > owed_now[line.id]
    }
    if short:
        raise Conflict(OWED_FELL(), errors=short)
    today = shanghai_today()
    keys = {item.account_id: item.key for item in owed.values()}
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.payout_approved,
                effective_on=today,
                memo=f"payout run {run.id} ({run.batch_serial})",
                created_by_id=actor.user_id,
                payout_line_id=line.id,
                legs=[
                    Leg(keys[line.account_id], line.amount_fen, household_id=line.household_id),
                    Leg(journal.PAYOUTS_IN_TRANSIT, -line.amount_fen),
                ],
            )
            for line in run.lines
        ],
    )
    for line in run.lines:
        line.status = LineStatus.in_transit
    run.status = RunStatus.approved
    run.approved_by_id = actor.user_id
    run.approved_at = utcnow()
    session.flush()
    return run


def cancel_run(session, actor: Actor, run_id: int) -> PayoutRun:
    """Drop a proposed run, freeing its payees for another; an approved run cannot be."""
    run = get_run(session, actor, run_id, for_update=True)
    if run.status is RunStatus.cancelled:
        return run
    if run.status is not RunStatus.proposed:
        raise Conflict(ONLY_PROPOSED_CANCEL(run_id=run.id, status=run.status.value))
    run.status = RunStatus.cancelled
    session.flush()
    return run
