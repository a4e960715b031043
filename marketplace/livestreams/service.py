"""Livestream sessions: scheduling and their state machine.

A station manages its own sessions; admins manage county-led ones (organised by a region)
and any other; officials read those of their subtree. A session moves scheduled → live →
ended, or scheduled → cancelled, each move an event. Checkout reads a session's state and live
prices directly (``live_prices.py``): a session's live prices apply exactly while it is live.
Ending a session is announced (``signals.session_ended``) in the same transaction, so that the
domains above this one (the ledger funds the session's pledges) act on it without being
imported here.
"""

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import check_version, page_of, utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.livestreams.models import LivestreamSession, SessionEvent, SessionState
from marketplace.livestreams.scoping import SESSIONS
from marketplace.livestreams.signals import session_ended
from marketplace.producers.models import Station
from marketplace.reasons import reason
from marketplace.regions.models import Region
from marketplace.regions.service import in_subtree_of

#: Where a session may go from each state.
TRANSITIONS = {
    SessionState.scheduled: frozenset({SessionState.live, SessionState.cancelled}),
    SessionState.live: frozenset({SessionState.ended}),
    SessionState.ended: frozenset(),
    SessionState.cancelled: frozenset(),
}
#: Sessions whose featured SKUs (and pledges) may still change.
OPEN = (SessionState.scheduled, SessionState.live)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

MANAGERS_ONLY = reason(
    "live_session.managers_only", "Sessions are managed by their station or by admins."
)
COUNTY_LED_BY_ADMINS = reason(
    "live_session.county_led_by_admins", "county-led sessions are organised by admins"
)
STATION_ORGANISES_ITS_OWN = reason(
    "live_session.station_organises_its_own", "a station organises its own sessions"
)
ORGANISER_REQUIRED = reason(
    "live_session.organiser_required",
    "name the organising station, or region_id for a county-led one",
)
NO_SUCH_STATION = reason("live_session.no_such_station", "no station with id {station_id}")
NO_SUCH_REGION = reason("live_session.no_such_region", "no region with id {region_id}")
YEAR_OUT_OF_RANGE = reason(
    "live_session.year_out_of_range", "a year from {first_year} to {last_year}"
)
ENDS_BEFORE_START = reason("live_session.ends_before_start", "must be after scheduled_start")
CODE_TAKEN = reason("live_session.code_taken", "already the code of another session")
FIXED_IN_STATE = reason("live_session.fixed_in_state", "fixed once the session is {state}")
ILLEGAL_MOVE = reason(
    "live_session.illegal_move", "Session {code} cannot go from {current} to {requested}."
)
ROOM_TAKEN = reason(
    "live_session.room_taken",
    "Another session is live in room {room_id} on {platform}; end it first.",
)
ROOM_BUSY = reason("live_session.room_busy", "another session is live in this room")


class IllegalMove(Conflict):
    code, title = "illegal-session-move", "The session cannot make that move from its state"


class RoomTaken(Conflict):
    code, title = "room-taken", "Another session is live in that room"


def _new_code() -> str:
    # Short enough to read out on air; no 0/O or 1/I to mishear.
    return "LS" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def _loads():
    return (selectinload(LivestreamSession.events),)


# --- reading ----------------------------------------------------------------------------------


def list_sessions(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = SESSIONS.restrict(sa.select(LivestreamSession), actor)
    for name in ("state", "platform", "station_id", "region_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(LivestreamSession, name) == filters[name])
    if filters.get("within") is not None:
        stmt = stmt.where(_organised_within(filters["within"]))
    if filters.get("starts_from") is not None:
        stmt = stmt.where(LivestreamSession.scheduled_start >= filters["starts_from"])
    if filters.get("starts_before") is not None:
        stmt = stmt.where(LivestreamSession.scheduled_start < filters["starts_before"])
    return page_of(
        session,
        stmt,
        order_by=[LivestreamSession.scheduled_start.desc(), LivestreamSession.id.desc()],
        page=page,
        page_size=page_size,
    )


def _organised_within(region_id: int) -> sa.ColumnElement:
    """Sessions a region holds as its own: organised by a station of its subtree, or by the
    region or one below it (a county-led session is its county's, not each township's)."""
    return sa.or_(
        LivestreamSession.station_id.in_(
            sa.select(Station.id).where(in_subtree_of(Station.village_id, region_id))
        ),
        in_subtree_of(LivestreamSession.region_id, region_id),
    )


def get_session(session, actor: Actor, session_id: int, *, lock: bool = False):
    return SESSIONS.get(session, session_id, actor, options=_loads(), lock=lock)


# --- managing ---------------------------------------------------------------------------------


def check_manager(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(MANAGERS_ONLY())


def _organiser(session, actor: Actor, data: dict, errors: dict) -> dict:
    station_id, region_id = data.get("station_id"), data.get("region_id")
    if actor.role is Role.station:
        if region_id is not None:
            errors["region_id"] = [COUNTY_LED_BY_ADMINS()]
        if station_id not in (None, actor.station_id):
            errors["station_id"] = [STATION_ORGANISES_ITS_OWN()]
        return {"station_id": actor.station_id, "region_id": None}
    if (station_id is None) == (region_id is None):
        errors["station_id"] = [ORGANISER_REQUIRED()]
    elif station_id is not None and session.get(Station, station_id) is None:
        errors["station_id"] = [NO_SUCH_STATION(station_id=station_id)]
    elif region_id is not None and session.get(Region, region_id) is None:
        errors["region_id"] = [NO_SUCH_REGION(region_id=region_id)]
    return {"station_id": station_id, "region_id": region_id}


#: A session's schedule lies in these years; anything else is a typing error.
_YEARS = range(2000, 2100)


def _check_schedule(start: datetime, end: datetime, errors: dict) -> None:
    for name, moment in (("scheduled_start", start), ("scheduled_end", end)):
        if moment.year not in _YEARS:
            errors[name] = [YEAR_OUT_OF_RANGE(first_year=_YEARS.start, last_year=_YEARS.stop - 1)]
    if not errors and end <= start:
        errors["scheduled_end"] = [ENDS_BEFORE_START()]


def create_session(session, actor: Actor, data: dict) -> LivestreamSession:
    check_manager(actor)
    errors: dict = {}
    organiser = _organiser(session, actor, data, errors)
    _check_schedule(data["scheduled_start"], data["scheduled_end"], errors)
    code = data.get("code") or _new_code()
    if session.execute(
        sa.select(LivestreamSession.id).where(LivestreamSession.code == code)
    ).first():
        errors["code"] = [CODE_TAKEN()]
    if errors:
        raise ValidationFailed(errors)
    live_session = LivestreamSession(
        code=code,
        title=data["title"],
        host_name=data["host_name"],
        host_kind=data["host_kind"],
        host_account=data.get("host_account"),
        platform=data["platform"],
        room_id=data["room_id"],
        scheduled_start=data["scheduled_start"],
        scheduled_end=data["scheduled_end"],
        state=SessionState.scheduled,
        created_by_id=actor.user_id,
        **organiser,
    )
    session.add(live_session)
    session.flush()
    session.add(
        SessionEvent(
            session_id=live_session.id,
            from_state=None,
            to_state=SessionState.scheduled,
            actor_id=actor.user_id,
            reason="scheduled",
        )
    )
    session.flush()
    return get_session(session, actor, live_session.id)


#: What may change about a session, and until when.
_EDITABLE_WHILE_SCHEDULED = {
    "title",
    "host_name",
    "host_kind",
    "host_account",
    "platform",
    "room_id",
    "scheduled_start",
    "scheduled_end",
}
_EDITABLE_LATER = {"title", "host_name", "host_kind", "host_account"}


def update_session(session, actor: Actor, session_id: int, data: dict) -> LivestreamSession:
    check_manager(actor)
    live_session = get_session(session, actor, session_id)
    check_version(live_session, data.pop("version"))
    allowed = (
        _EDITABLE_WHILE_SCHEDULED
        if live_session.state is SessionState.scheduled
        else _EDITABLE_LATER
    )
    refused = sorted(set(data) - allowed)
    if refused:
        raise ValidationFailed(
            {name: [FIXED_IN_STATE(state=live_session.state.value)] for name in refused}
        )
    errors: dict = {}
    start = data.get("scheduled_start", live_session.scheduled_start)
    end = data.get("scheduled_end", live_session.scheduled_end)
    _check_schedule(start, end, errors)
    if errors:
        raise ValidationFailed(errors)
    for name, value in data.items():
        setattr(live_session, name, value)
    session.flush()
    return live_session


def move(
    session, actor: Actor, session_id: int, target: SessionState, *, reason: str | None
) -> LivestreamSession:
    """Move a session along its state machine; going live opens its live prices to checkout,
    ending or cancelling closes them. Ending it is announced to the domains above."""
    check_manager(actor)
    live_session = get_session(session, actor, session_id, lock=True)
    current = live_session.state
    if target not in TRANSITIONS[current]:
        raise IllegalMove(
            ILLEGAL_MOVE(code=live_session.code, current=current.value, requested=target.value),
            current=current.value,
            requested=target.value,
        )
    now = utcnow()
    try:
        with session.begin_nested():
            live_session.state = target
            if target is SessionState.live:
                live_session.actual_start = now
            elif target is SessionState.ended:
                live_session.actual_end = now
            session.flush()
    except IntegrityError as error:
        # The partial unique index on (platform, room_id) of live sessions.
        raise RoomTaken(
            ROOM_TAKEN(room_id=live_session.room_id, platform=live_session.platform.value),
            errors={"room_id": [ROOM_BUSY()]},
        ) from error
    session.add(
        SessionEvent(
            session_id=live_session.id,
            from_state=current,
            to_state=target,
            actor_id=actor.user_id,
            reason=reason,
        )
    )
    session.flush()
    if target is SessionState.ended:
        session_ended.send(live_session, session=session, actor=actor)
    session.refresh(live_session, ["events"])
    return live_session
