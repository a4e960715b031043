"""Pledges made in a session ("500 yuan to each of these 20 households from the seller's
proceeds", "2% of tonight's net sales to the households of 靠山屯"): reading, making and
withdrawing them. How they reach the households is in ``funding.py``.

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
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.households.scoping import HOUSEHOLDS
from marketplace.ledger import journal
from marketplace.ledger.pledges.models import (
    PayerKind,
    Pledge,
    PledgeHousehold,
    PledgeKind,
    PledgeState,
)
from marketplace.ledger.pledges.scoping import PLEDGES
from marketplace.livestreams.models import LivestreamSession
from marketplace.livestreams.scoping import SESSIONS
from marketplace.livestreams.service import OPEN
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import county_id_of, in_subtree_of, is_within


class PledgeTooLarge(Conflict):
    code, title = "pledge-too-large", "The payer is owed less than the pledge"


# --- reading ----------------------------------------------------------------------------------


def list_pledges(session, actor: Actor, session_id: int) -> list[Pledge]:
    SESSIONS.get(session, session_id, actor)
    return list(
        session.execute(
            PLEDGES.restrict(sa.select(Pledge), actor)
            .where(Pledge.session_id == session_id)
            .options(selectinload(Pledge.households))
            .order_by(Pledge.id)
        ).scalars()
    )


def get_pledge(session, actor: Actor, pledge_id: int, *, lock: bool = False) -> Pledge:
    stmt = PLEDGES.restrict(sa.select(Pledge), actor).where(Pledge.id == pledge_id)
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
            PLEDGES.restrict(sa.select(Pledge), actor)
            .where(Pledge.state == PledgeState.funded)
            .order_by(Pledge.id)
            .limit(limit)
        ).scalars()
    )


# --- making a pledge --------------------------------------------------------------------------


def organiser_county(session, live_session: LivestreamSession) -> int:
    """The organiser's county: the households and villages a pledge may name."""
    if live_session.region_id is not None:
        region_id = live_session.region_id
    else:
        region_id = session.execute(
            sa.select(Station.village_id).where(Station.id == live_session.station_id)
        ).scalar_one()
    return county_id_of(session, region_id)


def payer_account(producer: Producer) -> str:
    if producer.kind is ProducerKind.cooperative:
        return journal.coop_retained(producer.id)
    return journal.producer_payable(producer.id)


def owed_to(session, producer: Producer) -> int:
    """What the marketplace owes the producer now (its account is credit-normal)."""
    key = payer_account(producer)
    return -journal.balances(session, [key])[key]


def too_large(payer: str, owed: int, pledged: int) -> PledgeTooLarge:
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
    if live_session.state not in OPEN:
        raise Conflict(
            f"Session {live_session.code} is {live_session.state.value}: pledges are made "
            "before it ends."
        )
    county_id = organiser_county(session, live_session)
    errors: dict = {}
    producer = _payer(session, live_session, data, errors)
    if data["kind"] is PledgeKind.per_household:
        household_ids = _named_households(session, actor, data, county_id, errors)
    else:
        household_ids = []
        _check_share_terms(session, data, county_id, errors)
    if errors:
        raise ValidationFailed(errors)
    if producer is not None and data["kind"] is PledgeKind.per_household:
        pledged = data["amount_each_fen"] * len(household_ids)
        owed = owed_to(session, producer)
        if pledged > owed:
            raise too_large(producer.name, owed, pledged)
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


def _named_households(session, actor: Actor, data: dict, county_id: int, errors) -> list[int]:
    """A per-household pledge's terms: its amount, and the households it names, which must
    be of the county and visible to the actor (a station names its village's households; an
    admin any of the county's; others are "not found", as everywhere)."""
    if data.get("amount_each_fen") is None:
        errors["amount_each_fen"] = ["what each household gets"]
    if data.get("share_bp") is not None or data.get("village_id") is not None:
        errors["share_bp"] = ["only for a share_of_net pledge"]
    household_ids = sorted(set(data.get("household_ids") or []))
    if not household_ids:
        errors["household_ids"] = ["name the households"]
        return []
    if len(household_ids) != len(data["household_ids"]):
        errors["household_ids"] = ["a household is named twice"]
        return []
    found = set(
        session.execute(
            HOUSEHOLDS.restrict(
                sa.select(Household.id).where(
                    Household.id.in_(household_ids),
                    in_subtree_of(Household.village_id, county_id),
                ),
                actor,
            )
        ).scalars()
    )
    missing = [i for i in household_ids if i not in found]
    if missing:
        errors["household_ids"] = [f"no household {i} in the county" for i in missing]
    return household_ids


def _check_share_terms(session, data: dict, county_id: int, errors: dict) -> None:
    """A share-of-net pledge's terms: its share, and a village of the session's county."""
    if data.get("share_bp") is None:
        errors["share_bp"] = ["the share of the net sales, in basis points (200 = 2%)"]
    if data.get("amount_each_fen") is not None or data.get("household_ids"):
        errors["amount_each_fen"] = ["only for a per_household pledge"]
    village = session.get(Region, data["village_id"]) if data.get("village_id") else None
    if (
        village is None
        or village.level is not RegionLevel.village
        or not is_within(session, village.id, county_id)
    ):
        errors["village_id"] = ["a village of the session's county"]


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
        ours = is_within(session, producer.region_id, live_session.region_id)
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
