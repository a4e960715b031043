"""Pledges made in a session ("500 yuan to each of these 20 households from the seller's
proceeds", "2% of tonight's net sales to the households of 靠山屯"), and how they reach the
households.

A pledge is made while its session is scheduled or live. When the session ends, each pledge
becomes an assistance fund: the money moves into it from the account the pledge names (a
co-operative's retained earnings or an enterprise's payable, which must hold enough: a pledge
larger than what the payer is owed is refused with the figures; or an outside source), and its
disbursement to the households is proposed. A different user than the one who proposed it
approves it (the payouts' maker-checker rule), and only then do the households have the money.

Funded once, disbursed once: every move takes the pledge's row lock first and checks its state
under it; the fund and the disbursement are unique to the pledge in the database as well.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.households.scoping import HOUSEHOLDS
from marketplace.ledger import funds, journal
from marketplace.ledger.allocation import basis_points, largest_remainder
from marketplace.ledger.models import (
    AssistanceFund,
    DisbursementMode,
    FundSource,
    LedgerAccount,
)
from marketplace.livestreams.models import (
    LivestreamSession,
    PayerKind,
    Platform,
    Pledge,
    PledgeHousehold,
    PledgeKind,
    PledgeState,
    SessionState,
)
from marketplace.livestreams.scoping import SESSIONS
from marketplace.orders.models import Order, OrderLine, PaymentStatus
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import county_path, in_subtree

#: Payment states of an order whose lines count as sales (refunds are subtracted per line).
_SOLD = (PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded)


class PledgeTooLarge(Conflict):
    code, title = "pledge-too-large", "The payer is owed less than the pledge"


# --- reading ----------------------------------------------------------------------------------


def _pledges(session, actor: Actor):
    return sa.select(Pledge).where(Pledge.session_id.in_(SESSIONS.visible_ids(actor)))


def list_pledges(session, actor: Actor, session_id: int) -> list[Pledge]:
    SESSIONS.get(session, session_id, actor)
    return list(
        session.execute(
            _pledges(session, actor)
            .where(Pledge.session_id == session_id)
            .options(selectinload(Pledge.households))
            .order_by(Pledge.id)
        ).scalars()
    )


def get_pledge(session, actor: Actor, pledge_id: int, *, lock: bool = False) -> Pledge:
    stmt = _pledges(session, actor).where(Pledge.id == pledge_id)
    if lock:
        stmt = stmt.with_for_update(of=Pledge).execution_options(populate_existing=True)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"Pledge {pledge_id} not found.")
    session.refresh(found, ["households"])
    return found


def awaiting_approval(session, actor: Actor, *, limit: int) -> list[Pledge]:
    """Funded pledges, visible to the actor, whose disbursement waits for a second user."""
    return list(
        session.execute(
            _pledges(session, actor)
            .where(Pledge.state == PledgeState.funded)
            .order_by(Pledge.id)
            .limit(limit)
        ).scalars()
    )


# --- making a pledge --------------------------------------------------------------------------


def _county_path(session, live_session: LivestreamSession) -> str:
    """The organiser's county: the households and villages a pledge may name."""
    if live_session.region_id is not None:
        region_id = live_session.region_id
    else:
        region_id = session.execute(
            sa.select(Station.village_id).where(Station.id == live_session.station_id)
        ).scalar_one()
    path = session.execute(sa.select(Region.path).where(Region.id == region_id)).scalar_one()
    return county_path(path)


def _payer_account(producer: Producer) -> str:
    if producer.kind is ProducerKind.cooperative:
        return journal.coop_retained(producer.id)
    return journal.producer_payable(producer.id)


def owed_to(session, producer: Producer) -> int:
    """What the marketplace owes the producer now (its account is credit-normal)."""
    key = _payer_account(producer)
    return -journal.balances(session, [key])[key]


def _too_large(payer: str, owed: int, pledged: int) -> PledgeTooLarge:
    return PledgeTooLarge(
        f"{payer} is owed {owed / 100:.2f} yuan; the pledge needs {pledged / 100:.2f} yuan, "
        f"{(pledged - owed) / 100:.2f} more.",
        errors={"amount_each_fen": [f"{pledged} fen pledged, {owed} fen owed to the payer"]},
        owed_fen=owed,
        pledged_fen=pledged,
        shortfall_fen=pledged - owed,
    )


def create_pledge(session, actor: Actor, session_id: int, data: dict) -> Pledge:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied("Pledges are recorded by the session's station or by admins.")
    # The session's lock: a pledge made while it ends waits, and then is refused.
    live_session = SESSIONS.get(session, session_id, actor, lock=True)
    if live_session.state not in (SessionState.scheduled, SessionState.live):
        raise Conflict(
            f"Session {live_session.code} is {live_session.state.value}: pledges are made "
            "before it ends."
        )
    county = _county_path(session, live_session)
    errors: dict = {}
    producer = _payer(session, live_session, data, errors)
    household_ids: list[int] = []
    if data["kind"] is PledgeKind.per_household:
        if data.get("amount_each_fen") is None:
            errors["amount_each_fen"] = ["what each household gets"]
        if data.get("share_bp") is not None or data.get("village_id") is not None:
            errors["share_bp"] = ["only for a share_of_net pledge"]
        household_ids = sorted(set(data.get("household_ids") or []))
        if not household_ids:
            errors["household_ids"] = ["name the households"]
        elif len(household_ids) != len(data["household_ids"]):
            errors["household_ids"] = ["a household is named twice"]
        else:
            found = set(
                session.execute(
                    # A station names the households it works with (its village's); an
                    # admin any of the county's. Others are "not found", as everywhere.
                    HOUSEHOLDS.restrict(
                        sa.select(Household.id).where(
                            Household.id.in_(household_ids),
                            in_subtree(Household.village_id, county),
                        ),
                        actor,
                    )
                ).scalars()
            )
            missing = [i for i in household_ids if i not in found]
            if missing:
                errors["household_ids"] = [f"no household {i} in the county" for i in missing]
    else:
        if data.get("share_bp") is None:
            errors["share_bp"] = ["the share of the net sales, in basis points (200 = 2%)"]
        if data.get("amount_each_fen") is not None or data.get("household_ids"):
            errors["amount_each_fen"] = ["only for a per_household pledge"]
        village = session.get(Region, data["village_id"]) if data.get("village_id") else None
        if (
            village is None
            or village.level is not RegionLevel.village
            or not village.path.startswith(county)
        ):
            errors["village_id"] = ["a village of the session's county"]
    if errors:
        raise ValidationFailed(errors)
    if producer is not None and data["kind"] is PledgeKind.per_household:
        pledged = data["amount_each_fen"] * len(household_ids)
        owed = owed_to(session, producer)
        if pledged > owed:
            raise _too_large(producer.name, owed, pledged)
    pledge = Pledge(
        session_id=live_session.id,
        kind=data["kind"],
        payer_kind=data["payer_kind"],
        producer_id=producer.id if producer else None,
        payer_name=producer.name[:100] if producer else data["payer_name"],
        amount_each_fen=data.get("amount_each_fen"),
        share_bp=data.get("share_bp"),
        village_id=data.get("village_id"),
        memo=data["memo"],
        state=PledgeState.pledged,
        created_by_id=actor.user_id,
    )
    session.add(pledge)
    session.flush()
    if household_ids:
        session.execute(
            sa.insert(PledgeHousehold),
            [{"pledge_id": pledge.id, "household_id": i} for i in household_ids],
        )
    session.flush()
    return get_pledge(session, actor, pledge.id)


def _payer(session, live_session, data: dict, errors: dict) -> Producer | None:
    if data["payer_kind"] is PayerKind.outside:
        if not data.get("payer_name"):
            errors["payer_name"] = ["who gives the money"]
        if data.get("producer_id") is not None:
            errors["producer_id"] = ["only when a producer pays"]
        return None
    producer = session.get(Producer, data["producer_id"]) if data.get("producer_id") else None
    if producer is None:
        errors["producer_id"] = ["the producer that pays"]
        return None
    if producer.kind is ProducerKind.household:
        errors["producer_id"] = ["a household's income is its own: it does not pledge"]
        return None
    if live_session.station_id is not None:
        ours = producer.station_id == live_session.station_id
    else:
        path = session.execute(
            sa.select(Region.path).where(Region.id == live_session.region_id)
        ).scalar_one()
        ours = (
            session.execute(sa.select(Region.path).where(Region.id == producer.region_id))
            .scalar_one()
            .startswith(path)
        )
    if not ours:
        errors["producer_id"] = ["not a producer of the session's organiser"]
        return None
    return producer


def cancel_pledge(session, actor: Actor, pledge_id: int) -> Pledge:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied("Pledges are managed by the session's station or by admins.")
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is not PledgeState.pledged:
        raise Conflict(
            f"Pledge {pledge.id} is {pledge.state.value}: it can no longer be withdrawn."
        )
    pledge.state = PledgeState.cancelled
    session.flush()
    return pledge


# --- funding ----------------------------------------------------------------------------------


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
            pledge.not_funded = {
                "reason": f"its share is of sales mostly made on {live_session.platform.value}: "
                "fund it once the platform's exports of the session are imported"
            }
            continue
        try:
            with session.begin_nested():
                fund_pledge(session, actor, pledge.id)
        except Conflict as refused:
            figures = ("owed_fen", "pledged_fen", "shortfall_fen")
            session.refresh(pledge)
            pledge.not_funded = {
                "reason": refused.detail,
                **{name: refused.extra[name] for name in figures if name in refused.extra},
            }
    session.flush()


def fund_pledge(session, actor: Actor, pledge_id: int) -> Pledge:
    """Turn an ended session's pledge into a fund holding its money, with the disbursement
    proposed (``actor`` is its maker). 409 when already funded, or when the payer is owed less
    than the pledge (with the figures)."""
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied("Pledges are funded by the session's station or by admins.")
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is not PledgeState.pledged:
        detail = f" (fund {pledge.fund_id})" if pledge.fund_id else ""
        raise Conflict(f"Pledge {pledge.id} is {pledge.state.value}{detail}: funded only once.")
    live_session = session.get(LivestreamSession, pledge.session_id)
    if live_session.state is not SessionState.ended:
        raise Conflict(f"Session {live_session.code} has not ended: its pledges wait for it.")
    parts, basis = _parts(session, pledge, live_session)
    amount = sum(part for _, part in parts)
    if amount <= 0:
        raise Conflict(
            f"The pledge comes to nothing: the session's net sales were {basis} fen.",
            basis_fen=basis,
        )
    producer = session.get(Producer, pledge.producer_id) if pledge.producer_id else None
    if producer is not None:
        payer_account = _payer_account(producer)
        # A payout or refund taking from the same account waits, and then sees this.
        journal.lock_accounts(session, LedgerAccount.key == payer_account)
        owed = owed_to(session, producer)
        if amount > owed:
            raise _too_large(producer.name, owed, amount)
    fund = AssistanceFund(
        name=f"{live_session.code} 直播承诺 #{pledge.id}",
        source=FundSource.enterprise_pledge if producer else FundSource.campaign,
        region_id=_county_region_id(session, live_session),
        description=f"{pledge.payer_name}: {pledge.memo}"[:500],
        bound=True,
        created_by_id=actor.user_id,
    )
    session.add(fund)
    session.flush()
    funds.record_contribution(
        session,
        fund.id,
        payer_account=payer_account if producer else journal.fund_source(fund.id),
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


def _county_region_id(session, live_session: LivestreamSession) -> int:
    path = _county_path(session, live_session)
    return int(path.strip("/"))


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
        raise PermissionDenied("A pledge's disbursement is approved by admins or officials.")
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is PledgeState.disbursed:
        raise Conflict(
            f"Pledge {pledge.id} was disbursed already (disbursement {pledge.disbursement_id})."
        )
    if pledge.state is not PledgeState.funded:
        raise Conflict(f"Pledge {pledge.id} is {pledge.state.value}: fund it first.")
    if pledge.proposed_by_id == actor.user_id:
        raise PermissionDenied("The user who proposed a pledge's disbursement cannot approve it.")
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
