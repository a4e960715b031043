"""Livestream sessions: scheduling, their state machine, and the SKUs they feature at live
prices.

A station manages its own sessions; admins manage county-led ones (organised by a region)
and any other; officials read those of their subtree. A session moves scheduled → live →
ended, or scheduled → cancelled, each move an event; ending a session funds its pledges
(pledges.py). Checkout honours a session through the
orders domain's live code and live prices (orders/models.py), kept in step here in the same
transaction as every change of the session.
"""

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, Sku
from marketplace.db import check_version, page_of, utcnow
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.livestreams import pledges
from marketplace.livestreams.models import LivestreamSession, SessionEvent, SessionState
from marketplace.livestreams.scoping import SESSIONS
from marketplace.orders.models import LiveCode, LivePrice
from marketplace.producers.models import Station
from marketplace.regions.models import Region
from marketplace.regions.service import in_subtree

#: Where a session may go from each state.
TRANSITIONS = {
    SessionState.scheduled: frozenset({SessionState.live, SessionState.cancelled}),
    SessionState.live: frozenset({SessionState.ended}),
    SessionState.ended: frozenset(),
    SessionState.cancelled: frozenset(),
}
#: Sessions whose featured SKUs may still change.
_OPEN = (SessionState.scheduled, SessionState.live)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


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


def get_session(session, actor: Actor, session_id: int, *, lock: bool = False):
    return SESSIONS.get(session, session_id, actor, options=_loads(), lock=lock)


def featured(session, session_ids) -> dict[int, list]:
    """The featured SKUs of each session, with what buyers see of them."""
    rows = session.execute(
        sa.select(
            LivePrice.session_id,
            LivePrice.id,
            LivePrice.sku_id,
            LivePrice.price_fen,
            LivePrice.cap,
            LivePrice.sold,
            Sku.code,
            Sku.spec,
            Sku.price_fen.label("catalog_price_fen"),
            Sku.product_id,
            Product.name.label("product_name"),
        )
        .join(Sku, Sku.id == LivePrice.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(LivePrice.session_id.in_(list(session_ids)))
        .order_by(LivePrice.id)
    )
    found: dict[int, list] = {session_id: [] for session_id in session_ids}
    for row in rows:
        found[row.session_id].append(
            {
                "live_price_id": row.id,
                "sku_id": row.sku_id,
                "sku_code": row.code,
                "spec": row.spec,
                "product_id": row.product_id,
                "product_name": row.product_name,
                "catalog_price_fen": row.catalog_price_fen,
                "live_price_fen": row.price_fen,
                "cap": row.cap,
                "sold": row.sold,
                "left": None if row.cap is None else row.cap - row.sold,
            }
        )
    return found


def with_featured(session, sessions: list[LivestreamSession]) -> list[LivestreamSession]:
    by_session = featured(session, [s.id for s in sessions])
    for live_session in sessions:
        live_session.featured = by_session[live_session.id]
    return sessions


def public_session(session, code: str) -> LivestreamSession:
    """A session's public page, by its code: what anyone watching may order at which price."""
    found = session.execute(
        sa.select(LivestreamSession).where(
            LivestreamSession.code == code,
            LivestreamSession.state.in_((SessionState.scheduled, SessionState.live)),
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No scheduled or live session has the code {code}.")
    return with_featured(session, [found])[0]


# --- managing ---------------------------------------------------------------------------------


def _check_manager(actor: Actor) -> None:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied("Sessions are managed by their station or by admins.")


def _organiser(session, actor: Actor, data: dict, errors: dict) -> dict:
    station_id, region_id = data.get("station_id"), data.get("region_id")
    if actor.role is Role.station:
        if region_id is not None:
            errors["region_id"] = ["county-led sessions are organised by admins"]
        if station_id not in (None, actor.station_id):
            errors["station_id"] = ["a station organises its own sessions"]
        return {"station_id": actor.station_id, "region_id": None}
    if (station_id is None) == (region_id is None):
        errors["station_id"] = ["name the organising station, or region_id for a county-led one"]
    elif station_id is not None and session.get(Station, station_id) is None:
        errors["station_id"] = [f"no station with id {station_id}"]
    elif region_id is not None and session.get(Region, region_id) is None:
        errors["region_id"] = [f"no region with id {region_id}"]
    return {"station_id": station_id, "region_id": region_id}


#: A session's schedule lies in these years; anything else is a typing error.
_YEARS = range(2000, 2100)


def _check_schedule(start: datetime, end: datetime, errors: dict) -> None:
    for name, moment in (("scheduled_start", start), ("scheduled_end", end)):
        if moment.year not in _YEARS:
            errors[name] = [f"a year from {_YEARS.start} to {_YEARS.stop - 1}"]
    if not errors and end <= start:
        errors["scheduled_end"] = ["must be after scheduled_start"]


def create_session(session, actor: Actor, data: dict) -> LivestreamSession:
    _check_manager(actor)
    errors: dict = {}
    organiser = _organiser(session, actor, data, errors)
    _check_schedule(data["scheduled_start"], data["scheduled_end"], errors)
    code = data.get("code") or _new_code()
    if session.execute(sa.select(LiveCode.id).where(LiveCode.code == code)).first():
        errors["code"] = ["already the code of another session"]
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
    session.add(LiveCode(code=code, session_id=live_session.id, is_live=False))
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
    _check_manager(actor)
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
            {name: [f"fixed once the session is {live_session.state.value}"] for name in refused}
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
    ending or cancelling closes them."""
    _check_manager(actor)
    live_session = get_session(session, actor, session_id, lock=True)
    current = live_session.state
    if target not in TRANSITIONS[current]:
        raise IllegalMove(
            f"Session {live_session.code} cannot go from {current.value} to {target.value}.",
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
            f"Another session is live in room {live_session.room_id} on "
            f"{live_session.platform.value}; end it first.",
            errors={"room_id": ["another session is live in this room"]},
        ) from error
    session.execute(
        sa.update(LiveCode)
        .where(LiveCode.session_id == live_session.id)
        .values(is_live=target is SessionState.live)
    )
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
        pledges.fund_session_pledges(session, actor, live_session)
    session.refresh(live_session, ["events"])
    return live_session


# --- featured SKUs and live prices ------------------------------------------------------------


def _sku_for(session, live_session: LivestreamSession, sku_id: int):
    """The SKU, if this session may feature it: its organiser's own, or (county-led) one a
    station of its region lists; otherwise a 422 on sku_id."""
    stmt = sa.select(Sku).where(Sku.id == sku_id)
    if live_session.station_id is not None:
        stmt = stmt.where(Sku.station_id == live_session.station_id)
    else:
        path = session.execute(
            sa.select(Region.path).where(Region.id == live_session.region_id)
        ).scalar_one()
        stations = sa.select(Station.id).where(in_subtree(Station.village_id, path))
        stmt = stmt.where(Sku.station_id.in_(stations))
    sku = session.execute(stmt).scalar_one_or_none()
    if sku is None:
        raise ValidationFailed(
            {"sku_id": ["not a SKU this session's organiser lists"]},
        )
    return sku


def feature(session, actor: Actor, session_id: int, sku_id: int, data: dict) -> dict:
    """Feature a SKU at a live price (above 0, not above its catalog price), with an optional
    cap on the units sold at that price; or change its price or cap. A cap below what was
    already sold is refused."""
    _check_manager(actor)
    live_session = get_session(session, actor, session_id)
    if live_session.state not in _OPEN:
        raise Conflict(
            f"Session {live_session.code} is {live_session.state.value}; its featured SKUs "
            "are final."
        )
    sku = _sku_for(session, live_session, sku_id)
    errors: dict = {}
    if data["price_fen"] > sku.price_fen:
        errors["price_fen"] = [f"above the catalog price, {sku.price_fen} fen"]
    existing = session.execute(
        sa.select(LivePrice)
        .where(LivePrice.session_id == live_session.id, LivePrice.sku_id == sku.id)
        .with_for_update()
    ).scalar_one_or_none()
    sold = existing.sold if existing else 0
    if data.get("cap") is not None and data["cap"] < sold:
        errors["cap"] = [f"below the {sold} units already sold at the live price"]
    if errors:
        raise ValidationFailed(errors)
    if existing is None:
        existing = LivePrice(session_id=live_session.id, sku_id=sku.id, sold=0)
        session.add(existing)
    existing.price_fen = data["price_fen"]
    existing.cap = data.get("cap")
    session.flush()
    return featured(session, [live_session.id])[live_session.id]


def unfeature(session, actor: Actor, session_id: int, sku_id: int) -> None:
    _check_manager(actor)
    live_session = get_session(session, actor, session_id)
    if live_session.state not in _OPEN:
        raise Conflict(f"Session {live_session.code} is {live_session.state.value}.")
    price = session.execute(
        sa.select(LivePrice)
        .where(LivePrice.session_id == live_session.id, LivePrice.sku_id == sku_id)
        .with_for_update()
    ).scalar_one_or_none()
    if price is None:
        raise NotFound(f"SKU {sku_id} is not featured in session {live_session.code}.")
    if price.sold:
        raise Conflict(
            f"{price.sold} units were sold at this live price; set its cap to {price.sold} "
            "to stop selling at it instead.",
            errors={"sku_id": ["has sales at the live price"]},
        )
    session.delete(price)
    session.flush()
