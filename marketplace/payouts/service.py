"""Payout runs: propose what is owed, approve it (maker-checker), and move it to in transit.

What a payee is owed for a run ending on ``period_end`` is what its account accrued up to that
day, less everything already moved out by payouts (whatever their date), and never more than
the account's balance today (a refund dated after the period may have reversed part of it):

    owed = min(accrued up to period_end - paid out or in transit, current balance)

Liabilities are credit-normal (negative balances), so both terms are negated sums of postings.
Approval checks every line against this again, so no payout ever exceeds what was accrued and
no income account is ever pushed into debit by a payout.

The bank's side (downloads and the return file) is in ``settlement``.
"""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.households.models import Household, PayoutAccount
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import AccountKind, EntryKind, JournalEntry, LedgerAccount, Posting
from marketplace.payouts.models import LineStatus, PayeeKind, PayoutLine, PayoutRun, RunStatus
from marketplace.payouts.scoping import PAYOUT_RUNS
from marketplace.producers.models import Producer
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.scoping import OVERSEEN_REGIONS
from marketplace.regions.service import in_subtree_of

#: entries that move money out of (or, on a bank return, back into) a payee's account
_PAYOUT_KINDS = (EntryKind.payout_approved, EntryKind.payout_returned)
_PRODUCER_KINDS = (AccountKind.coop_retained, AccountKind.producer_payable)


@dataclass(frozen=True)
class Owed:
    account_id: int
    key: str
    kind: AccountKind
    household_id: int | None
    producer_id: int | None
    amount_fen: int


@dataclass(frozen=True)
class Proposal:
    run: PayoutRun
    #: payees owed money that the run leaves out, each with the reason
    skipped: list[dict]


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


def _require_payout_role(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.official):
        raise PermissionDenied("Payout runs are for admins and officials.")


def get_run(session, actor: Actor, run_id: int, *, for_update: bool = False) -> PayoutRun:
    """The run with its lines, if the actor may see it (404 otherwise)."""
    _require_payout_role(actor)
    # Approvals and bank returns of one run queue on its lock (SQLite serializes writers anyway).
    return PAYOUT_RUNS.get(
        session, run_id, actor, options=[selectinload(PayoutRun.lines)], lock=for_update
    )


def list_runs(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    _require_payout_role(actor)
    stmt = PAYOUT_RUNS.restrict(sa.select(PayoutRun), actor)
    if filters.get("status"):
        stmt = stmt.where(PayoutRun.status == filters["status"])
    if filters.get("region_id"):
        stmt = stmt.where(PayoutRun.region_id == filters["region_id"])
    return page_of(session, stmt, order_by=[PayoutRun.id.desc()], page=page, page_size=page_size)


# --- proposing -------------------------------------------------------------------------------


def _region_for(session, actor: Actor, region_id: int) -> Region:
    region = OVERSEEN_REGIONS.get(session, region_id, actor)
    if region.level not in (RegionLevel.county, RegionLevel.township):
        raise ValidationFailed({"region_id": ["must be a county or a township"]})
    return region


def _open_lines(session, account_ids) -> dict[int, int]:
    """account id -> the run holding an open line for it (proposed, or sent and unanswered)."""
    rows = session.execute(
        sa.select(PayoutLine.account_id, PayoutLine.run_id)
        .join(PayoutRun, PayoutRun.id == PayoutLine.run_id)
        .where(
            PayoutLine.account_id.in_(account_ids),
            sa.or_(
                PayoutLine.status == LineStatus.in_transit,
                sa.and_(
                    PayoutLine.status == LineStatus.proposed,
                    PayoutRun.status == RunStatus.proposed,
                ),
            ),
        )
    ).all()
    return dict(rows)


def _last_failures(session, household_ids) -> dict[int, PayoutLine]:
    """Households whose latest payout line failed: the line, with the bank's reason."""
    latest = (
        sa.select(sa.func.max(PayoutLine.id))
        .where(PayoutLine.household_id.in_(household_ids))
        .group_by(PayoutLine.household_id)
    )
    lines = session.scalars(
        sa.select(PayoutLine).where(
            PayoutLine.id.in_(latest), PayoutLine.status == LineStatus.failed
        )
    ).all()
    return {line.household_id: line for line in lines}


def propose_run(session, actor: Actor, data: dict) -> Proposal:
    """A run proposing, for every household and producer of the region, what it is owed."""
    _require_payout_role(actor)
    region = _region_for(session, actor, data["region_id"])
    period_end = data["period_end"]
    if period_end > shanghai_today():
        raise ValidationFailed({"period_end": ["must not be in the future"]})
    serial = data.get("batch_serial") or str(uuid.uuid4())
    if session.execute(
        sa.select(PayoutRun.id).where(PayoutRun.batch_serial == serial)
    ).scalar_one_or_none():
        raise Conflict(f"The batch serial {serial} is already used by another payout run.")

    households = sa.select(Household.id).where(in_subtree_of(Household.village_id, region.id))
    producers = sa.select(Producer.id).where(in_subtree_of(Producer.region_id, region.id))
    owed = owed_amounts(
        session,
        sa.or_(
            sa.and_(
                LedgerAccount.kind == AccountKind.household_income,
                LedgerAccount.household_id.in_(households),
            ),
            sa.and_(
                LedgerAccount.kind.in_(_PRODUCER_KINDS), LedgerAccount.producer_id.in_(producers)
            ),
        ),
        period_end,
    )
    busy = _open_lines(session, list(owed))
    if busy:
        conflicts = [
            {
                "household_id": owed[account_id].household_id,
                "producer_id": owed[account_id].producer_id,
                "run_id": run_id,
            }
            for account_id, run_id in sorted(busy.items())
        ]
        raise Conflict(
            "Some payees are still in an open payout run; approve, settle or cancel it first.",
            conflicts=conflicts,
        )

    household_ids = [o.household_id for o in owed.values() if o.household_id]
    found = session.execute(
        sa.select(Household, PayoutAccount)
        .outerjoin(PayoutAccount, PayoutAccount.household_id == Household.id)
        .where(Household.id.in_(household_ids))
    ).all()
    payout_accounts = {household.id: (household, account) for household, account in found}
    failures = _last_failures(session, household_ids)
    producer_names = dict(
        session.execute(
            sa.select(Producer.id, Producer.name).where(
                Producer.id.in_([o.producer_id for o in owed.values() if o.producer_id])
            )
        ).all()
    )

    lines, skipped = [], []
    for item in owed.values():
        if item.household_id is None:
            lines.append(
                PayoutLine(
                    payee_kind=PayeeKind.producer,
                    producer_id=item.producer_id,
                    account_id=item.account_id,
                    amount_fen=item.amount_fen,
                    status=LineStatus.proposed,
                    payee_name=producer_names[item.producer_id],
                )
            )
            continue
        household, account = payout_accounts[item.household_id]
        failed = failures.get(household.id)
        reason = None
        if account is None:
            reason = "no one-card payout account"
        elif failed is not None and account.updated_at <= failed.settled_at:
            reason = (
                f"the last payout (line {failed.id}) failed: {failed.failure_reason}; "
                "correct the payout account first"
            )
        if reason:
            skipped.append(
                {"household_id": household.id, "amount_fen": item.amount_fen, "reason": reason}
            )
            continue
        lines.append(
            PayoutLine(
                payee_kind=PayeeKind.household,
                household_id=household.id,
                account_id=item.account_id,
                amount_fen=item.amount_fen,
                status=LineStatus.proposed,
                payee_name=household.head_name,
                phone=household.phone,
                bank_name=account.bank_name,
                card_encrypted=account.card_encrypted,
                card_masked=account.card_masked,
                holder_name=account.holder_name,
                holder_id_encrypted=account.holder_id_encrypted,
                holder_id_masked=account.holder_id_masked,
            )
        )
    if not lines and skipped:
        raise Conflict("Everyone owed money was skipped; see `skipped`.", skipped=skipped)
    if not lines:
        raise ValidationFailed(
            {"region_id": ["nobody in this region is owed anything up to period_end"]},
            detail="Nothing to pay.",
        )
    run = PayoutRun(
        region_id=region.id,
        period_end=period_end,
        project_name=data["project_name"],
        batch_serial=serial,
        status=RunStatus.proposed,
        total_fen=sum(line.amount_fen for line in lines),
        proposed_by_id=actor.user_id,
    )
    run.lines = lines
    session.add(run)
    session.flush()
    return Proposal(run, skipped)


# --- approving -------------------------------------------------------------------------------


def approve_run(session, actor: Actor, run_id: int) -> PayoutRun:
    """The checker's approval: every line is moved to in transit in the ledger. Approving an
    approved run again changes nothing."""
    run = get_run(session, actor, run_id, for_update=True)
    if run.proposed_by_id == actor.user_id:
        raise PermissionDenied("The user who proposed a payout run cannot approve it.")
    if run.status in (RunStatus.approved, RunStatus.settled):
        return run
    if run.status is RunStatus.cancelled:
        raise Conflict(f"Payout run {run.id} was cancelled.")

    # A refund reversing income from these accounts at this moment either lands before our
    # balance check (and is seen) or waits until the payout is written.
    payees = LedgerAccount.id.in_([line.account_id for line in run.lines])
    journal.lock_accounts(session, payees)
    owed = owed_amounts(session, payees, run.period_end)
    short = {
        f"lines.{line.id}": [
            f"proposes {line.amount_fen} fen but only "
            f"{owed[line.account_id].amount_fen if line.account_id in owed else 0} fen is owed now"
        ]
        for line in run.lines
        if line.amount_fen > (owed[line.account_id].amount_fen if line.account_id in owed else 0)
    }
    if short:
        raise Conflict(
            "What some payees are owed fell since the run was proposed (a refund); cancel it "
            "and propose again.",
            errors=short,
        )
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
        raise Conflict(f"Payout run {run.id} is {run.status.value}; only proposed runs cancel.")
    run.status = RunStatus.cancelled
    session.flush()
    return run
