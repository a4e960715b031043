"""How a pledge reaches its households: funded when its session ends (or later, by its station,
when the payer was owed too little then), and disbursed once a second user approves.

Funded once, disbursed once: every move takes the pledge's row lock first and checks its state
under it; the fund and the disbursement are unique to the pledge in the database as well.
"""

import sqlalchemy as sa

from marketplace import i18n
from marketplace.accounts.approvals import check_not_a_maker
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import utcnow
from marketplace.errors import Conflict, PermissionDenied
from marketplace.households.models import Household
from marketplace.ledger import funds, journal
from marketplace.ledger.allocation import basis_points, largest_remainder
from marketplace.ledger.models import AssistanceFund, DisbursementMode, FundSource, LedgerAccount
from marketplace.ledger.pledges.models import Pledge, PledgeHousehold, PledgeKind, PledgeState
from marketplace.ledger.pledges.service import (
    get_pledge,
    organiser_county,
    owed_to,
    payer_account,
    too_large,
)
from marketplace.livestreams.models import LivestreamSession, Platform, SessionState
from marketplace.livestreams.signals import session_ended
from marketplace.orders.models import Order, OrderLine, PaymentStatus
from marketplace.producers.models import Producer
from marketplace.reasons import REASONS, coded, reason

#: Payment states of an order whose lines count as sales (refunds are subtracted per line).
_SOLD = (PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded)

FUNDED_BY_STATION_OR_ADMIN = reason(
    "pledge.fund_station_or_admin", "Pledges are funded by the session's station or by admins."
)
ALREADY_FUNDED = reason(
    "pledge.already_funded", "Pledge {pledge_id} is {state} (fund {fund_id}): funded only once."
)
NOT_FUNDABLE = reason("pledge.not_fundable", "Pledge {pledge_id} is {state}: funded only once.")
SESSION_NOT_ENDED = reason(
    "pledge.session_not_ended", "Session {session_code} has not ended: its pledges wait for it."
)
COMES_TO_NOTHING = reason(
    "pledge.comes_to_nothing",
    "The pledge comes to nothing: the session's net sales were {basis_fen} fen.",
)
APPROVER_NOT_ADMIN_OR_OFFICIAL = reason(
    "pledge.approve_admin_or_official",
    "A pledge's disbursement is approved by admins or officials.",
)
ALREADY_DISBURSED = reason(
    "pledge.already_disbursed",
    "Pledge {pledge_id} was disbursed already (disbursement {disbursement_id}).",
)
NOT_YET_FUNDED = reason("pledge.not_yet_funded", "Pledge {pledge_id} is {state}: fund it first.")
AWAITS_PLATFORM_IMPORT = reason(
    "pledge.awaits_platform_import",
    "its share is of sales mostly made on {platform}: fund it once the platform's exports of "
    "the session are imported",
)
APPROVER_IS_PROPOSER = reason(
    "pledge.approver_is_proposer",
    "The user who recorded a pledge, or proposed its disbursement, cannot approve it.",
)


def net_sales(session, live_session_id: int, producer_id: int | None = None) -> int:
    """The session's sales less their refunds, in fen (of one producer's lines, if named)."""
    stmt = (
        sa.select(
            sa.func.coalesce(sa.func.sum(OrderLine.line_total_fen - OrderLine.refunded_fen), 0)
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.livestream_session_id == live_session_id, Order.payment_status.in_(_SOLD))
    )
    if producer_id is not None:
        stmt = stmt.where(OrderLine.producer_id == producer_id)
    return int(session.execute(stmt).scalar_one())


def fund_session_pledges(session, actor: Actor, live_session: LivestreamSession) -> None:
    """At the session's end: fund each of its pledges that can be. One that cannot keeps its
    state and says why (``not_funded``), to be funded later (``fund_pledge``): its payer is owed
    too little (with the figures), it comes to nothing, or it is a share of the net sales of a
    session on an outside platform, whose sales arrive with the platform's exports after the
    end: the station funds it once they are imported."""
    waiting = session.execute(
        sa.select(Pledge)
        .where(Pledge.session_id == live_session.id, Pledge.state == PledgeState.pledged)
        .order_by(Pledge.id)
    ).scalars()
    for pledge in list(waiting):
        if pledge.kind is PledgeKind.share_of_net and live_session.platform is not Platform.own:
            pledge.not_funded = _not_funded(AWAITS_PLATFORM_IMPORT(platform=live_session.platform))
            continue
        try:
            with session.begin_nested():
                fund_pledge(session, actor, pledge.id)
        except Conflict as refused:
            figures = ("owed_fen", "pledged_fen", "shortfall_fen")
            session.refresh(pledge)
            pledge.not_funded = _not_funded(
                refused.detail,
                **{name: refused.extra[name] for name in figures if name in refused.extra},
            )
    session.flush()


def _not_funded(why, **figures) -> dict:
    """What ``Pledge.not_funded`` keeps: the reason's English text, its code and parameters
    (read back in the reader's language: ``not_funded_in_language``), and the figures."""
    return {"reason": str(why), **coded(why), **figures}


def not_funded_in_language(kept: dict | None, language: str) -> dict | None:
    """``Pledge.not_funded`` with its reason in ``language``. One kept before it carried its
    code, or whose code no reason declares, stays the English it was written in."""
    if kept is None or kept.get("code") not in REASONS:
        return kept
    return {**kept, "reason": i18n.kept_in_language(kept, language)}


def fund_pledge(session, actor: Actor, pledge_id: int) -> Pledge:
    """Turn an ended session's pledge into a fund holding its money, with the disbursement
    proposed (``actor`` is its maker). 409 when already funded, or when the payer is owed less
    than the pledge (with the figures)."""
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(FUNDED_BY_STATION_OR_ADMIN())
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is not PledgeState.pledged:
        if pledge.fund_id:
            raise Conflict(
                ALREADY_FUNDED(
                    pledge_id=pledge.id, state=pledge.state.value, fund_id=pledge.fund_id
                )
            )
        raise Conflict(NOT_FUNDABLE(pledge_id=pledge.id, state=pledge.state.value))
    live_session = session.get(LivestreamSession, pledge.session_id)
    if live_session.state is not SessionState.ended:
        raise Conflict(SESSION_NOT_ENDED(session_code=live_session.code))
    parts, basis = _parts(session, pledge, live_session)
    amount = sum(part for _, part in parts)
    if amount <= 0:
        raise Conflict(
            COMES_TO_NOTHING(basis_fen=basis),
            basis_fen=basis,
        )
    producer = session.get(Producer, pledge.producer_id) if pledge.producer_id else None
    if producer is not None:
        paying = payer_account(producer)
        # A payout or refund taking from the same account waits, and then sees this.
        journal.lock_accounts(session, LedgerAccount.key == paying)
        owed = owed_to(session, producer)
        if amount > owed:
            raise too_large(producer.name, owed, amount)
    fund = AssistanceFund(
        name=f"{live_session.code} 直播承诺 #{pledge.id}",
        source=FundSource.enterprise_pledge if producer else FundSource.campaign,
        region_id=organiser_county(session, live_session),
        description=f"{pledge.payer_name}: {pledge.memo}"[:500],
        bound=True,
        created_by_id=actor.user_id,
    )
    session.add(fund)
    session.flush()
    funds.record_contribution(
        session,
        fund.id,
        payer_account=paying if producer else journal.fund_source(fund.id),
        amount_fen=amount,
        contributor=pledge.payer_name,
        reference=f"pledge-{pledge.id}",
        created_by_id=actor.user_id,
    )
    _record_parts(session, pledge, parts)
    pledge.amount_fen, pledge.basis_fen = amount, basis
    pledge.fund_id, pledge.state = fund.id, PledgeState.funded
    pledge.proposed_by_id, pledge.funded_at = actor.user_id, utcnow()
    pledge.not_funded = None
    session.flush()
    return get_pledge(session, actor, pledge.id)


def _parts(session, pledge: Pledge, live_session) -> tuple[list[tuple[int, int]], int | None]:
    """(household id, amount) for each household, and the net sales a share was taken of."""
    if pledge.kind is PledgeKind.per_household:
        return [(h.household_id, pledge.amount_each_fen) for h in pledge.households], None
    basis = net_sales(session, live_session.id, pledge.producer_id)
    total = basis_points(basis, pledge.share_bp)
    households = session.execute(
        sa.select(Household.id).where(Household.village_id == pledge.village_id)
    ).scalars()
    weights = [(household_id, 1) for household_id in households]
    if not weights or total <= 0:
        return [], basis
    return sorted(largest_remainder(total, weights).items()), basis


def _record_parts(session, pledge: Pledge, parts: list[tuple[int, int]]) -> None:
    session.execute(sa.delete(PledgeHousehold).where(PledgeHousehold.pledge_id == pledge.id))
    session.execute(
        sa.insert(PledgeHousehold),
        [
            {"pledge_id": pledge.id, "household_id": household_id, "amount_fen": amount}
            for household_id, amount in parts
            if amount > 0
        ],
    )


# --- approving --------------------------------------------------------------------------------


def approve_pledge(session, actor: Actor, pledge_id: int) -> Pledge:
    """The checker: hands the funded pledge to its households. Not its maker; admins, or an
    official of the fund's county."""
    if actor.role not in (Role.admin, Role.official):
        raise PermissionDenied(APPROVER_NOT_ADMIN_OR_OFFICIAL())
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is PledgeState.disbursed:
        raise Conflict(
            ALREADY_DISBURSED(pledge_id=pledge.id, disbursement_id=pledge.disbursement_id)
        )
    if pledge.state is not PledgeState.funded:
        raise Conflict(NOT_YET_FUNDED(pledge_id=pledge.id, state=pledge.state.value))
    # Whoever recorded the pledge, or funded it (or ended the session that funded it), made it.
    check_not_a_maker(actor, [pledge.created_by_id, pledge.proposed_by_id], APPROVER_IS_PROPOSER())
    # share_of_net: equal weights, as promised
    per_household = pledge.kind is PledgeKind.per_household
    disbursement = funds.record_disbursement(
        session,
        pledge.fund_id,
        [(h.household_id, None if per_household else 1, h.amount_fen) for h in pledge.households],
        mode=DisbursementMode.fixed if per_household else DisbursementMode.weights,
        memo=f"{pledge.payer_name}: {pledge.memo}"[:300],
        created_by_id=actor.user_id,
    )
    pledge.disbursement_id, pledge.state = disbursement.id, PledgeState.disbursed
    pledge.approved_by_id, pledge.disbursed_at = actor.user_id, utcnow()
    session.flush()
    return pledge


@session_ended.connect
def _fund_when_the_session_ends(live_session, *, session, actor) -> None:
    fund_session_pledges(session, actor, live_session)
