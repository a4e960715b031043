"""Producers and co-operative memberships.

A producer is managed by one station and lies within that station's county, whoever creates
it (an admin naming the station, or a station for itself): a station serves the producers
around it, and the county's officials then see every producer their stations manage. A
household sells as one producer, from its own village; a co-operative sits in a village; an
enterprise may sit at any level of the tree.

Memberships are history: changing a household's shares ends the old membership the day before
and starts a new one, so dividends computed for any past day use the shares of that day.
"""

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import check_version, page_of
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.producers.models import (
    CooperativeMembership,
    Producer,
    ProducerKind,
    Station,
)
from marketplace.producers.scoping import PRODUCERS
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import county_id_of, in_subtree_of, is_within

_CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: kinds that must sit in a village (an enterprise may sit at any level)
_VILLAGE_KINDS = {ProducerKind.household, ProducerKind.cooperative}


def credit_code_problem(code: str) -> str | None:
    """Why a unified social credit code (统一社会信用代码, GB 32100-2015) is invalid, or None."""
    if len(code) != 18:
        return "must be 18 characters"
    unknown = sorted({c for c in code if c not in _CREDIT_CHARSET})
    if unknown:
        return f"contains characters never used in credit codes: {''.join(unknown)}"
    values = [_CREDIT_CHARSET.index(c) for c in code]
    total = sum(v * w for v, w in zip(values[:17], _CREDIT_WEIGHTS, strict=True))
    if values[17] != (31 - total % 31) % 31:
        return "has a wrong check character"
    return None


def normalize_credit_code(code: str) -> str:
    return code.strip().upper()


def region_or_error(session, region_id: int, field: str, errors: dict) -> Region | None:
    region = session.get(Region, region_id)
    if region is None:
        errors[field] = [f"no region with id {region_id}"]
    return region


def village_or_error(session, region_id: int, field: str, errors: dict) -> Region | None:
    region = region_or_error(session, region_id, field, errors)
    if region is not None and region.level is not RegionLevel.village:
        errors[field] = [f"must be a village; region {region_id} is a {region.level.value}"]
        return None
    return region


# --- producers -------------------------------------------------------------------------------

_PRODUCER_LOADS = (selectinload(Producer.region), selectinload(Producer.station))


def list_producers(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = PRODUCERS.restrict(sa.select(Producer), actor)
    if filters.get("kind") is not None:
        stmt = stmt.where(Producer.kind == filters["kind"])
    if filters.get("station_id") is not None:
        stmt = stmt.where(Producer.station_id == filters["station_id"])
    if filters.get("is_active") is not None:
        stmt = stmt.where(Producer.is_active.is_(filters["is_active"]))
    if filters.get("within") is not None:
        stmt = stmt.where(in_subtree_of(Producer.region_id, filters["within"]))
    if filters.get("q"):
        stmt = stmt.where(Producer.name.contains(filters["q"], autoescape=True))
    return page_of(
        session,
        stmt,
        order_by=[Producer.id],
        page=page,
        page_size=page_size,
        options=_PRODUCER_LOADS,
    )


def get_producer(session, actor: Actor, producer_id: int) -> Producer:
    return PRODUCERS.get(session, producer_id, actor, options=_PRODUCER_LOADS)


def _managing_station(session, actor: Actor, station_id: int | None, errors: dict):
    if actor.role is Role.station:
        if station_id is not None and station_id != actor.station_id:
            errors["station_id"] = ["a station creates producers for itself only"]
        return session.get(Station, actor.station_id)
    if station_id is None:
        errors["station_id"] = ["required: the station that will manage this producer"]
        return None
    station = session.get(Station, station_id)
    if station is None:
        errors["station_id"] = [f"no station with id {station_id}"]
    return station


def _check_region(session, region_id, kind, county_id, errors) -> None:
    check = village_or_error if kind in _VILLAGE_KINDS else region_or_error
    region = check(session, region_id, "region_id", errors)
    if region is not None and county_id and not is_within(session, region.id, county_id):
        errors["region_id"] = ["must lie within the county of the managing station"]


def _check_credit_code(session, code, producer_id, errors) -> str | None:
    code = normalize_credit_code(code)
    problem = credit_code_problem(code)
    if problem:
        errors["credit_code"] = [problem]
        return None
    taken = sa.select(Producer.id).where(Producer.credit_code == code)
    if producer_id is not None:
        taken = taken.where(Producer.id != producer_id)
    if session.execute(taken).first():
        errors["credit_code"] = ["already registered for another producer"]
    return code


def _household_in_county(session, household_id: int, county_id: int) -> Household | None:
    """The household if it lives in the county; one outside is treated exactly like a missing
    one, so callers learn nothing about households beyond their county."""
    return session.execute(
        sa.select(Household).where(
            Household.id == household_id, in_subtree_of(Household.village_id, county_id)
        )
    ).scalar_one_or_none()


def _selling_household(session, household_id, county_id, errors) -> Household | None:
    household = _household_in_county(session, household_id, county_id)
    if household is None:
        errors["household_id"] = [f"no household {household_id} in the station's county"]
        return None
    seller = session.execute(
        sa.select(Producer.id).where(Producer.household_id == household_id)
    ).scalar_one_or_none()
    if seller is not None:
        errors["household_id"] = [f"already sells as producer {seller}"]
    return household


def create_producer(session, actor: Actor, data: dict) -> Producer:
    """Register a producer. A station user creates it for its own station; an admin names the
    station. See the module docstring for where each kind may sit."""
    errors: dict = {}
    data = dict(data)
    kind = data["kind"]
    station = _managing_station(session, actor, data.pop("station_id", None), errors)
    county_id = county_id_of(session, station.village_id) if station else None
    if kind is ProducerKind.household:
        for field in ("credit_code", "legal_representative"):
            if field in data:
                errors[field] = ["only for co-operatives and enterprises"]
        if data.get("household_id") is None:
            errors["household_id"] = ["required for a household seller"]
        elif station is not None:  # without a station there is no county to look in
            household = _selling_household(session, data["household_id"], county_id, errors)
            if household is not None:
                if data.setdefault("region_id", household.village_id) != household.village_id:
                    errors["region_id"] = ["a household sells from its own village"]
                data.setdefault("name", household.head_name)
    else:
        if "household_id" in data:
            errors["household_id"] = ["only for kind household"]
        for field in ("name", "credit_code", "region_id"):
            if field not in data:
                errors[field] = [f"required for a {kind.value}"]
        if "credit_code" in data:
            data["credit_code"] = _check_credit_code(session, data["credit_code"], None, errors)
        if "region_id" in data:
            _check_region(session, data["region_id"], kind, county_id, errors)
    if errors:
        raise ValidationFailed(errors)
    producer = Producer(**data, station=station)
    session.add(producer)
    session.flush()
    return get_producer(session, actor, producer.id)


def update_producer(session, actor: Actor, producer_id: int, data: dict) -> Producer:
    """Change a producer. Its kind and household are fixed; only admins move it to another
    station. The region must stay within the managing station's county."""
    producer = get_producer(session, actor, producer_id)
    check_version(producer, data.pop("version"))
    errors: dict = {}
    station = producer.station
    if data.get("station_id", producer.station_id) != producer.station_id:
        if not actor.is_admin:
            raise PermissionDenied(
                "Only an admin moves a producer to another station.",
                errors={"station_id": ["only an admin may change this"]},
            )
        station = session.get(Station, data["station_id"])
        if station is None:
            errors["station_id"] = [f"no station with id {data['station_id']}"]
    if producer.kind is ProducerKind.household:
        for field in ("credit_code", "legal_representative"):
            if data.get(field) is not None:
                errors[field] = ["only for co-operatives and enterprises"]
        if data.get("region_id", producer.region_id) != producer.region_id:
            errors["region_id"] = ["a household sells from its own village"]
    elif "credit_code" in data:
        data["credit_code"] = _check_credit_code(session, data["credit_code"], producer.id, errors)
    if station is not None and ("region_id" in data or "station_id" in data):
        county_id = county_id_of(session, station.village_id)
        region_id = data.get("region_id", producer.region_id)
        _check_region(session, region_id, producer.kind, county_id, errors)
    if errors:
        raise ValidationFailed(errors)
    for key, value in data.items():
        setattr(producer, key, value)
    session.flush()
    if "region_id" in data or "station_id" in data:
        session.refresh(producer, ["region", "station"])
    return producer


# --- co-operative memberships ----------------------------------------------------------------


def _in_force_on(day: date):
    return sa.and_(
        CooperativeMembership.joined_on <= day,
        sa.or_(CooperativeMembership.left_on.is_(None), CooperativeMembership.left_on >= day),
    )


def active_members(session, cooperative_id: int, on_date: date) -> list[tuple[int, int]]:
    """``(household_id, shares)`` of the members of a co-operative on ``on_date``, sorted by
    household id: the basis for splitting a sale of that day among the members."""
    rows = session.execute(
        sa.select(CooperativeMembership.household_id, sa.func.sum(CooperativeMembership.shares))
        .where(CooperativeMembership.cooperative_id == cooperative_id, _in_force_on(on_date))
        .group_by(CooperativeMembership.household_id)
        .order_by(CooperativeMembership.household_id)
    )
    return [(household_id, int(shares)) for household_id, shares in rows]


def list_members(session, actor: Actor, producer_id: int, filters: dict, *, page, page_size):
    """A co-operative's memberships, all periods unless ``on`` picks the ones of one day."""
    cooperative = PRODUCERS.get(session, producer_id, actor)
    stmt = sa.select(CooperativeMembership).where(
        CooperativeMembership.cooperative_id == cooperative.id
    )
    if filters.get("on") is not None:
        stmt = stmt.where(_in_force_on(filters["on"]))
    if filters.get("household_id") is not None:
        stmt = stmt.where(CooperativeMembership.household_id == filters["household_id"])
    return page_of(
        session,
        stmt,
        order_by=[
            CooperativeMembership.household_id,
            CooperativeMembership.joined_on,
            CooperativeMembership.id,
        ],
        page=page,
        page_size=page_size,
        options=[selectinload(CooperativeMembership.household)],
    )


def _cooperative_for_change(session, actor: Actor, producer_id: int) -> Producer:
    producer = PRODUCERS.get(session, producer_id, actor)
    if producer.kind is not ProducerKind.cooperative:
        raise ValidationFailed(
            {"producer_id": [f"producer {producer_id} is a {producer.kind.value}, not a co-op"]}
        )
    # Membership checks read, then write: one writer per co-operative at a time (PostgreSQL;
    # SQLite serializes writers anyway and renders no FOR UPDATE).
    session.execute(sa.select(Producer.id).where(Producer.id == producer.id).with_for_update())
    return producer


def add_member(session, actor: Actor, producer_id: int, data: dict) -> CooperativeMembership:
    """A household joins a co-operative. It must live in the co-operative's county and not
    already be a member on or after ``joined_on``."""
    cooperative = _cooperative_for_change(session, actor, producer_id)
    household_id = data["household_id"]
    county_id = county_id_of(session, cooperative.region_id)
    household = _household_in_county(session, household_id, county_id)
    if household is None:
        raise ValidationFailed(
            {"household_id": [f"no household {household_id} in the co-operative's county"]}
        )
    overlapping = session.execute(
        sa.select(CooperativeMembership.joined_on)
        .where(
            CooperativeMembership.cooperative_id == cooperative.id,
            CooperativeMembership.household_id == household_id,
            sa.or_(
                CooperativeMembership.left_on.is_(None),
                CooperativeMembership.left_on >= data["joined_on"],
            ),
        )
        .limit(1)
    ).scalar_one_or_none()
    if overlapping is not None:
        raise ValidationFailed(
            {"household_id": [f"already a member in that period (joined {overlapping})"]}
        )
    membership = CooperativeMembership(
        cooperative_id=cooperative.id,
        household=household,
        shares=data["shares"],
        joined_on=data["joined_on"],
    )
    session.add(membership)
    session.flush()
    return membership


def change_member(
    session, actor: Actor, producer_id: int, membership_id: int, data: dict
) -> CooperativeMembership:
    """End a membership (``left_on``), or change its shares from ``effective_from``: the old
    membership then ends the day before and a new one starts. Returns the membership that
    results: the ended one, or the new one."""
    cooperative = _cooperative_for_change(session, actor, producer_id)
    membership = session.execute(
        sa.select(CooperativeMembership)
        .where(
            CooperativeMembership.id == membership_id,
            CooperativeMembership.cooperative_id == cooperative.id,
        )
        .options(selectinload(CooperativeMembership.household))
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound(f"Membership {membership_id} of producer {producer_id} not found.")
    changed = "left_on" if "left_on" in data else "shares"
    if membership.left_on is not None:
        raise ValidationFailed(
            {changed: [f"the membership ended on {membership.left_on}; history stays as it was"]}
        )
    if "left_on" in data:
        if data["left_on"] < membership.joined_on:
            raise ValidationFailed({"left_on": [f"before joining on {membership.joined_on}"]})
        membership.left_on = data["left_on"]
        session.flush()
        return membership
    if data["shares"] == membership.shares:
        raise ValidationFailed({"shares": [f"already {membership.shares}"]})
    if data["effective_from"] <= membership.joined_on:
        raise ValidationFailed(
            {"effective_from": [f"must be after joining on {membership.joined_on}"]}
        )
    membership.left_on = data["effective_from"] - timedelta(days=1)
    successor = CooperativeMembership(
        cooperative_id=cooperative.id,
        household=membership.household,
        shares=data["shares"],
        joined_on=data["effective_from"],
    )
    session.add(successor)
    session.flush()
    return successor
