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
from marketplace.reasons import reason
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import county_id_of, in_subtree_of, is_within

NOT_FOUND = reason("pledge.not_found", "Pledge {pledge_id} not found.")
#: The amounts in yuan, as the text has always shown them; the problem carries them in fen too.
PAYER_OWED_TOO_LITTLE = reason(
    "pledge.payer_owed_too_little",
    "{payer} is owed {owed_yuan} yuan; the pledge needs {pledged_yuan} yuan, "
    "{shortfall_yuan} more.",
)
AMOUNT_ABOVE_OWED = reason(
    "pledge.amount_above_owed", "{pledged_fen} fen pledged, {owed_fen} fen owed to the payer"
)
RECORDED_BY_STATION_OR_ADMIN = reason(
    "pledge.record_station_or_admin",
    "Pledges are recorded by the session's station or by admins.",
)
SESSION_NOT_OPEN = reason(
    "pledge.session_not_open",
    "Session {session_code} is {state}: pledges are made before it ends.",
)
AMOUNT_EACH_REQUIRED = reason("pledge.amount_each_required", "what each household gets")
SHARE_ONLY_FOR_SHARE_OF_NET = reason(
    "pledge.share_only_for_share_of_net", "only for a share_of_net pledge"
)
HOUSEHOLDS_REQUIRED = reason("pledge.households_required", "name the households")
HOUSEHOLD_NAMED_TWICE = reason("pledge.household_named_twice", "a household is named twice")
HOUSEHOLD_OUTSIDE_COUNTY = reason(
    "pledge.household_outside_county", "no household {household_id} in the county"
)
SHARE_REQUIRED = reason(
    "pledge.share_required", "the share of the net sales, in basis points (200 = 2%)"
)
AMOUNT_ONLY_FOR_PER_HOUSEHOLD = reason(
    "pledge.amount_only_for_per_household", "only for a per_household pledge"
)
VILLAGE_NOT_OF_COUNTY = reason("pledge.village_not_of_county", "a village of the session's county")
PAYER_NAME_REQUIRED = reason("pledge.payer_name_required", "who gives the money")
PRODUCER_ONLY_WHEN_PAYING = reason(
    "pledge.producer_only_when_producer_pays", "only when a producer pays"
)
PRODUCER_REQUIRED = reason("pledge.producer_required", "the producer that pays")
NO_SUCH_PRODUCER = reason("pledge.no_such_producer", "the producer that pays")
HOUSEHOLD_DOES_NOT_PLEDGE = reason(
    "pledge.household_cannot_pledge", "a household's income is its own: it does not pledge"
)
PRODUCER_NOT_ORGANISERS = reason(
    "pledge.producer_not_organisers", "not a producer of the session's organiser"
)
MANAGED_BY_STATION_OR_ADMIN = reason(
    "pledge.manage_station_or_admin",
    "Pledges are managed by the session's station or by admins.",
)
NOT_WITHDRAWABLE = reason(
    "pledge.not_withdrawable", "Pledge {pledge_id} is {state}: it can no longer be withdrawn."
)


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
        raise NotFound(NOT_FOUND(pledge_id=pledge_id))
    session.refresh(found, ["households"])
    return found


def awaiting_approval(
    session, actor: Actor, *, page: int, page_size: int
) -> tuple[list[Pledge], int]:
    """A page of the funded pledges, visible to the actor, whose disbursement waits for a
    second user, oldest first, and how many wait in all."""
    waiting = PLEDGES.restrict(sa.select(Pledge), actor).where(Pledge.state == PledgeState.funded)
    total = session.execute(sa.select(sa.func.count()).select_from(waiting.subquery())).scalar_one()
    rows = session.execute(
        waiting.order_by(Pledge.id).limit(page_size).offset((page - 1) * page_size)
    ).scalars()
    return list(rows), total


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


def payer_receivable(session, pledge: Pledge) -> int:
    """What a producer that paid ``pledge`` owes back now, 0 when nothing: a refund after the
    pledge was funded takes back proceeds the pledge was drawn from, and the payer's account
    goes into debit. The pledge stands (its households keep what they were given); the
    payer's later proceeds settle the debit, and nothing is paid out to it meanwhile."""
    if pledge.payer_kind is not PayerKind.producer or pledge.fund_id is None:
        return 0
    producer = session.get(Producer, pledge.producer_id)
    return max(0, -owed_to(session, producer))


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def too_large(payer: str, owed: int, pledged: int) -> PledgeTooLarge:
    return PledgeTooLarge(
        PAYER_OWED_TOO_LITTLE(
            payer=payer,
            owed_yuan=_yuan(owed),
            pledged_yuan=_yuan(pledged),
            shortfall_yuan=_yuan(pledged - owed),
        ),
        errors={"amount_each_fen": [AMOUNT_ABOVE_OWED(pledged_fen=pledged, owed_fen=owed)]},
        owed_fen=owed,
        pledged_fen=pledged,
        shortfall_fen=pledged - owed,
    )


def create_pledge(session, actor: Actor, session_id: int, data: dict) -> Pledge:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(RECORDED_BY_STATION_OR_ADMIN())
    # The session's lock: a pledge made while it ends waits, and then is refused.
    live_session = SESSIONS.get(session, session_id, actor, lock=True)
    if live_session.state not in OPEN:
        raise Conflict(
            SESSION_NOT_OPEN(session_code=live_session.code, state=live_session.state.value)
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
        errors["amount_each_fen"] = [AMOUNT_EACH_REQUIRED()]
    if data.get("share_bp") is not None or data.get("village_id") is not None:
        errors["share_bp"] = [SHARE_ONLY_FOR_SHARE_OF_NET()]
    household_ids = sorted(set(data.get("household_ids") or []))
    if not household_ids:
        errors["household_ids"] = [HOUSEHOLDS_REQUIRED()]
        return []
    if len(household_ids) != len(data["household_ids"]):
        errors["household_ids"] = [HOUSEHOLD_NAMED_TWICE()]
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
        errors["household_ids"] = [HOUSEHOLD_OUTSIDE_COUNTY(household_id=i) for i in missing]
    return household_ids


def _check_share_terms(session, data: dict, county_id: int, errors: dict) -> None:
    """A share-of-net pledge's terms: its share, and a village of the session's county."""
    if data.get("share_bp") is None:
        errors["share_bp"] = [SHARE_REQUIRED()]
    if data.get("amount_each_fen") is not None or data.get("household_ids"):
        errors["amount_each_fen"] = [AMOUNT_ONLY_FOR_PER_HOUSEHOLD()]
    village = session.get(Region, data["village_id"]) if data.get("village_id") else None
    if (
        village is None
        or village.level is not RegionLevel.village
        or not is_within(session, village.id, county_id)
    ):
        errors["village_id"] = [VILLAGE_NOT_OF_COUNTY()]


def _payer(session, live_session, data: dict, errors: dict) -> Producer | None:
    if data["payer_kind"] is PayerKind.outside:
        if not data.get("payer_name"):
            errors["payer_name"] = [PAYER_NAME_REQUIRED()]
        if data.get("producer_id") is not None:
            errors["producer_id"] = [PRODUCER_ONLY_WHEN_PAYING()]
        return None
    if not data.get("producer_id"):
        errors["producer_id"] = [PRODUCER_REQUIRED()]
        return None
    producer = session.get(Producer, data["producer_id"])
    if producer is None:
        errors["producer_id"] = [NO_SUCH_PRODUCER()]
        return None
    if producer.kind is ProducerKind.household:
        errors["producer_id"] = [HOUSEHOLD_DOES_NOT_PLEDGE()]
        return None
    if live_session.station_id is not None:
        ours = producer.station_id == live_session.station_id
    else:
        ours = is_within(session, producer.region_id, live_session.region_id)
    if not ours:
        errors["producer_id"] = [PRODUCER_NOT_ORGANISERS()]
        return None
    return producer


def cancel_pledge(session, actor: Actor, pledge_id: int) -> Pledge:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(MANAGED_BY_STATION_OR_ADMIN())
    pledge = get_pledge(session, actor, pledge_id, lock=True)
    if pledge.state is not PledgeState.pledged:
        raise Conflict(NOT_WITHDRAWABLE(pledge_id=pledge.id, state=pledge.state.value))
    pledge.state = PledgeState.cancelled
    session.flush()
    return pledge
