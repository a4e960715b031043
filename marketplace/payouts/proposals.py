"""Proposing a payout run: for every household and producer of a county or township, what it
is owed up to the run's ``period_end`` (``service.owed_amounts``), as one line each. Households
that cannot be paid (no one-card account, or a last payout that failed on an account not
corrected since) are left out, each with why; a payee still in an open run is a conflict.
"""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.clock import shanghai_today
from marketplace.errors import Conflict, ValidationFailed
from marketplace.households.models import Household, PayoutAccount
from marketplace.ledger.models import AccountKind, LedgerAccount
from marketplace.payouts.models import LineStatus, PayeeKind, PayoutLine, PayoutRun, RunStatus
from marketplace.payouts.service import Owed, owed_amounts, require_payout_role
from marketplace.producers.models import Producer, ProducerPayoutAccount
from marketplace.reasons import Message, coded, reason
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.scoping import OVERSEEN_REGIONS
from marketplace.regions.service import in_subtree_of

_PRODUCER_KINDS = (AccountKind.coop_retained, AccountKind.producer_payable)

NOT_COUNTY_OR_TOWNSHIP = reason(
    "payout_run.region_not_county_or_township", "must be a county or a township"
)
PERIOD_IN_FUTURE = reason("payout_run.period_end_in_future", "must not be in the future")
BATCH_SERIAL_TAKEN = reason(
    "payout_run.batch_serial_taken",
    "The batch serial {batch_serial} is already used by another payout run.",
)
PAYEES_IN_OPEN_RUN = reason(
    "payout_run.payees_in_open_run",
    "Some payees are still in an open payout run; approve, settle or cancel it first.",
)
# Why a household owed money is left out of a run (``skipped``).
NO_PAYOUT_ACCOUNT = reason("payout_run.skipped_no_payout_account", "no one-card payout account")
LAST_PAYOUT_FAILED = reason(
    "payout_run.skipped_last_payout_failed",
    "the last payout (line {line_id}) failed: {failure_reason}; correct the payout account first",
)
EVERYONE_SKIPPED = reason(
    "payout_run.everyone_skipped", "Everyone owed money was skipped; see `skipped`."
)
NOTHING_TO_PAY = reason("payout_run.nothing_to_pay", "Nothing to pay.")
NOBODY_OWED = reason(
    "payout_run.nobody_owed", "nobody in this region is owed anything up to period_end"
)


@dataclass(frozen=True)
class Proposal:
    run: PayoutRun
    #: payees owed money that the run leaves out, each with the reason (its text, code and
    #: parameters)
    skipped: list[dict]


def _region_for(session, actor: Actor, region_id: int) -> Region:
    region = OVERSEEN_REGIONS.get(session, region_id, actor)
    if region.level not in (RegionLevel.county, RegionLevel.township):
        raise ValidationFailed({"region_id": [NOT_COUNTY_OR_TOWNSHIP()]})
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
    require_payout_role(actor)
    region = _region_for(session, actor, data["region_id"])
    period_end = data["period_end"]
    if period_end > shanghai_today():
        raise ValidationFailed({"period_end": [PERIOD_IN_FUTURE()]})
    serial = data.get("batch_serial") or str(uuid.uuid4())
    if session.execute(
        sa.select(PayoutRun.id).where(PayoutRun.batch_serial == serial)
    ).scalar_one_or_none():
        raise Conflict(BATCH_SERIAL_TAKEN(batch_serial=serial))
    owed = _owed_in(session, region, period_end)
    _refuse_open_lines(session, owed)
    lines, skipped = _proposed_lines(session, owed)
    if not lines and skipped:
        raise Conflict(EVERYONE_SKIPPED(), skipped=skipped)
    if not lines:
        raise ValidationFailed({"region_id": [NOBODY_OWED()]}, detail=NOTHING_TO_PAY())
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


def _owed_in(session, region: Region, period_end: date) -> dict[int, Owed]:
    """What the households and producers of the region's subtree are owed."""
    households = sa.select(Household.id).where(in_subtree_of(Household.village_id, region.id))
    producers = sa.select(Producer.id).where(in_subtree_of(Producer.region_id, region.id))
    return owed_amounts(
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


def _refuse_open_lines(session, owed: dict[int, Owed]) -> None:
    """A payee with a line still open in another run is a conflict naming each one."""
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
        raise Conflict(PAYEES_IN_OPEN_RUN(), conflicts=conflicts)


def _proposed_lines(session, owed: dict[int, Owed]) -> tuple[list[PayoutLine], list[dict]]:
    """A line for each payee owed money, and the households left out, each with why."""
    household_ids = [o.household_id for o in owed.values() if o.household_id]
    found = session.execute(
        sa.select(Household, PayoutAccount)
        .outerjoin(PayoutAccount, PayoutAccount.household_id == Household.id)
        .where(Household.id.in_(household_ids))
    ).all()
    payout_accounts = {household.id: (household, account) for household, account in found}
    failures = _last_failures(session, household_ids)
    producers = {
        producer.id: (producer, account)
        for producer, account in session.execute(
            sa.select(Producer, ProducerPayoutAccount)
            .outerjoin(ProducerPayoutAccount, ProducerPayoutAccount.producer_id == Producer.id)
            .where(Producer.id.in_([o.producer_id for o in owed.values() if o.producer_id]))
        ).all()
    }

    lines, skipped = [], []
    for item in owed.values():
        if item.household_id is None:
            lines.append(_producer_line(item, *producers[item.producer_id]))
            continue
        household, account = payout_accounts[item.household_id]
        why = _why_skipped(account, failures.get(household.id))
        if why is not None:
            skipped.append(
                {
                    "household_id": household.id,
                    "amount_fen": item.amount_fen,
                    "reason": why,
                    **coded(why),
                }
            )
            continue
        lines.append(_household_line(item, household, account))
    return lines, skipped


def _why_skipped(account: PayoutAccount | None, failed: PayoutLine | None) -> Message | None:
    """Why a household owed money cannot be paid in this run, if it cannot."""
    if account is None:
        return NO_PAYOUT_ACCOUNT()
    if failed is not None and account.updated_at <= failed.settled_at:
        return LAST_PAYOUT_FAILED(line_id=failed.id, failure_reason=failed.failure_reason)
    return None


def _producer_line(
    item: Owed, producer: Producer, account: ProducerPayoutAccount | None
) -> PayoutLine:
    """A producer's line: with its payout account, paid through the bank's batch file and
    settled by its return; without one, paid by hand and settled by recording the outcome."""
    line = PayoutLine(
        payee_kind=PayeeKind.producer,
        producer_id=item.producer_id,
        account_id=item.account_id,
        amount_fen=item.amount_fen,
        status=LineStatus.proposed,
        payee_name=producer.name,
    )
    if account is not None:
        line.bank_name = account.bank_name
        line.card_encrypted = account.account_encrypted
        line.card_masked = account.account_masked
        line.holder_name = account.account_name
        line.credit_code = producer.credit_code
    return line


def _household_line(item: Owed, household: Household, account: PayoutAccount) -> PayoutLine:
    return PayoutLine(
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
