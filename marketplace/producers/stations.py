"""Village service stations and their operators.

Admins create and change stations; a station's own operators may correct only its address
and phone; officials read the stations of their subtree.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role, User
from marketplace.db import check_version, page_of
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.producers.models import Station
from marketplace.producers.scoping import STATIONS
from marketplace.producers.service import ADMIN_ONLY, village_or_error
from marketplace.reasons import reason
from marketplace.regions.service import in_subtree_of

#: what a station's own operators may change about it
OPERATOR_EDITABLE = frozenset({"address", "phone"})

_STATION_LOADS = (selectinload(Station.village),)

VALUE_TAKEN = reason("station.value_taken", "already used by another station")
OPERATOR_FIELDS_ONLY = reason(
    "station.operator_fields_only", "A station's operators may change only its address and phone."
)


def list_stations(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = STATIONS.restrict(sa.select(Station), actor)
    if filters.get("within") is not None:
        stmt = stmt.where(in_subtree_of(Station.village_id, filters["within"]))
    if filters.get("is_active") is not None:
        stmt = stmt.where(Station.is_active.is_(filters["is_active"]))
    if filters.get("q"):
        stmt = stmt.where(Station.name.contains(filters["q"], autoescape=True))
    return page_of(
        session,
        stmt,
        order_by=[Station.code],
        page=page,
        page_size=page_size,
        options=_STATION_LOADS,
    )


def get_station(session, actor: Actor, station_id: int) -> Station:
    return STATIONS.get(session, station_id, actor, options=_STATION_LOADS)


def _check_unique(session, data: dict, station_id: int | None, errors: dict) -> None:
    for field in ("code", "name"):
        if field not in data:
            continue
        taken = sa.select(Station.id).where(getattr(Station, field) == data[field])
        if station_id is not None:
            taken = taken.where(Station.id != station_id)
        if session.execute(taken).first():
            errors[field] = [VALUE_TAKEN()]


def create_station(session, actor: Actor, data: dict) -> Station:
    """A new station in a village (admins)."""
    errors: dict = {}
    village_or_error(session, data["village_id"], "village_id", errors)
    _check_unique(session, data, None, errors)
    if errors:
        raise ValidationFailed(errors)
    station = Station(**data)
    session.add(station)
    session.flush()
    return get_station(session, actor, station.id)


def update_station(session, actor: Actor, station_id: int, data: dict) -> Station:
    """Change a station: admins anything, the station's operators its address and phone."""
    station = get_station(session, actor, station_id)
    check_version(station, data.pop("version"))
    if actor.role is Role.station:
        refused = sorted(set(data) - OPERATOR_EDITABLE)
        if refused:
            raise PermissionDenied(
                OPERATOR_FIELDS_ONLY(),
                errors={field: [ADMIN_ONLY()] for field in refused},
            )
    errors: dict = {}
    if "village_id" in data:
        village_or_error(session, data["village_id"], "village_id", errors)
    _check_unique(session, data, station.id, errors)
    if errors:
        raise ValidationFailed(errors)
    for key, value in data.items():
        setattr(station, key, value)
    session.flush()
    if "village_id" in data:
        session.refresh(station, ["village"])
    return station


def list_operators(session, actor: Actor, station_id: int, *, page: int, page_size: int):
    """The users who operate a station."""
    station = get_station(session, actor, station_id)
    stmt = sa.select(User).where(User.role == Role.station, User.station_id == station.id)
    return page_of(session, stmt, order_by=[User.id], page=page, page_size=page_size)
