"""Producers: households selling their own produce, co-operatives and enterprises.

A producer is managed by one station and lies within that station's county, whoever creates
it (an admin naming the station, or a station for itself): a station serves the producers
around it, and the county's officials then see every producer their stations manage. A
household sells as one producer, from its own village; a co-operative sits in a village; an
enterprise may sit at any level of the tree.

Co-operative memberships are ``memberships.py``'s.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import check_version, page_of
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.producers.scoping import PRODUCERS
from marketplace.producers.signals import producer_renamed
from marketplace.reasons import reason
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import NO_SUCH_REGION, county_id_of, in_subtree_of, is_within

_CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: kinds that must sit in a village (an enterprise may sit at any level)
_VILLAGE_KINDS = {ProducerKind.household, ProducerKind.cooperative}

CREDIT_CODE_LENGTH = reason("credit_code.length", "must be 18 characters")
CREDIT_CODE_CHARACTERS = reason(
    "credit_code.characters", "contains characters never used in credit codes: {characters}"
)
CREDIT_CODE_CHECK = reason("credit_code.check_character", "has a wrong check character")
NOT_A_VILLAGE = reason("region.not_a_village", "must be a village; region {region_id} is a {level}")
NO_SUCH_STATION = reason("station.unknown", "no station with id {station_id}")
#: a field that only an admin may change, refused to anyone else
ADMIN_ONLY = reason("field.admin_only", "only an admin may change this")
OTHER_STATION = reason("producer.other_station", "a station creates producers for itself only")
STATION_REQUIRED = reason(
    "producer.station_required", "required: the station that will manage this producer"
)
OUTSIDE_STATION_COUNTY = reason(
    "producer.outside_station_county", "must lie within the county of the managing station"
)
CREDIT_CODE_TAKEN = reason("producer.credit_code_taken", "already registered for another producer")
HOUSEHOLD_OUTSIDE_COUNTY = reason(
    "producer.household_outside_county", "no household {household_id} in the station's county"
)
HOUSEHOLD_SELLS_ALREADY = reason(
    "producer.household_sells_already", "already sells as producer {producer_id}"
)
NOT_FOR_HOUSEHOLD_SELLER = reason(
    "producer.not_for_household_seller", "only for co-operatives and enterprises"
)
HOUSEHOLD_REQUIRED = reason("producer.household_required", "required for a household seller")
OWN_VILLAGE_ONLY = reason("producer.own_village_only", "a household sells from its own village")
HOUSEHOLD_KIND_ONLY = reason("producer.household_kind_only", "only for kind household")
REQUIRED_FOR_KIND = reason("producer.required_for_kind", "required for a {kind}")
MOVE_ADMIN_ONLY = reason(
    "producer.move_admin_only", "Only an admin moves a producer to another station."
)


class InvalidCreditCode(ValueError):
    """A unified social credit code that cannot be one; ``reason`` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def check_credit_code(code: str) -> None:
    """Raise InvalidCreditCode unless ``code`` is a valid unified social credit code
    (统一社会信用代码, GB 32100-2015)."""
    if len(code) != 18:
        raise InvalidCreditCode(CREDIT_CODE_LENGTH())
    unknown = sorted({c for c in code if c not in _CREDIT_CHARSET})
    if unknown:
        raise InvalidCreditCode(CREDIT_CODE_CHARACTERS(characters="".join(unknown)))
    values = [_CREDIT_CHARSET.index(c) for c in code]
    total = sum(v * w for v, w in zip(values[:17], _CREDIT_WEIGHTS, strict=True))
    if values[17] != (31 - total % 31) % 31:
        raise InvalidCreditCode(CREDIT_CODE_CHECK())


def normalize_credit_code(code: str) -> str:
    return code.strip().upper()


def region_or_error(session, region_id: int, field: str, errors: dict) -> Region | None:
    region = session.get(Region, region_id)
    if region is None:
        errors[field] = [NO_SUCH_REGION(region_id=region_id)]
    return region


def village_or_error(session, region_id: int, field: str, errors: dict) -> Region | None:
    region = region_or_error(session, region_id, field, errors)
    if region is not None and region.level is not RegionLevel.village:
        errors[field] = [NOT_A_VILLAGE(region_id=region_id, level=region.level.value)]
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
            errors["station_id"] = [OTHER_STATION()]
        return session.get(Station, actor.station_id)
    if station_id is None:
        errors["station_id"] = [STATION_REQUIRED()]
        return None
    station = session.get(Station, station_id)
    if station is None:
        errors["station_id"] = [NO_SUCH_STATION(station_id=station_id)]
    return station


def _check_region(session, region_id, kind, county_id, errors) -> None:
    check = village_or_error if kind in _VILLAGE_KINDS else region_or_error
    region = check(session, region_id, "region_id", errors)
    if region is not None and county_id and not is_within(session, region.id, county_id):
        errors["region_id"] = [OUTSIDE_STATION_COUNTY()]


def _check_credit_code(session, code, producer_id, errors) -> str | None:
    code = normalize_credit_code(code)
    try:
        check_credit_code(code)
    except InvalidCreditCode as invalid:
        errors["credit_code"] = [invalid.reason]
        return None
    taken = sa.select(Producer.id).where(Producer.credit_code == code)
    if producer_id is not None:
        taken = taken.where(Producer.id != producer_id)
    if session.execute(taken).first():
        errors["credit_code"] = [CREDIT_CODE_TAKEN()]
    return code


def household_in_county(session, household_id: int, county_id: int) -> Household | None:
    """The household if it lives in the county; one outside is treated exactly like a missing
    one, so callers learn nothing about households beyond their county."""
    return session.execute(
        sa.select(Household).where(
            Household.id == household_id, in_subtree_of(Household.village_id, county_id)
        )
    ).scalar_one_or_none()


def _selling_household(session, household_id, county_id, errors) -> Household | None:
    household = household_in_county(session, household_id, county_id)
    if household is None:
        errors["household_id"] = [HOUSEHOLD_OUTSIDE_COUNTY(household_id=household_id)]
        return None
    seller = session.execute(
        sa.select(Producer.id).where(Producer.household_id == household_id)
    ).scalar_one_or_none()
    if seller is not None:
        errors["household_id"] = [HOUSEHOLD_SELLS_ALREADY(producer_id=seller)]
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
                errors[field] = [NOT_FOR_HOUSEHOLD_SELLER()]
        if data.get("household_id") is None:
            errors["household_id"] = [HOUSEHOLD_REQUIRED()]
        elif station is not None:  # without a station there is no county to look in
            household = _selling_household(session, data["household_id"], county_id, errors)
            if household is not None:
                if data.setdefault("region_id", household.village_id) != household.village_id:
                    errors["region_id"] = [OWN_VILLAGE_ONLY()]
                data.setdefault("name", household.head_name)
    else:
        if "household_id" in data:
            errors["household_id"] = [HOUSEHOLD_KIND_ONLY()]
        for field in ("name", "credit_code", "region_id"):
            if field not in data:
                errors[field] = [REQUIRED_FOR_KIND(kind=kind.value)]
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
            raise PermissionDenied(MOVE_ADMIN_ONLY(), errors={"station_id": [ADMIN_ONLY()]})
        station = session.get(Station, data["station_id"])
        if station is None:
            errors["station_id"] = [NO_SUCH_STATION(station_id=data["station_id"])]
    if producer.kind is ProducerKind.household:
        for field in ("credit_code", "legal_representative"):
            if data.get(field) is not None:
                errors[field] = [NOT_FOR_HOUSEHOLD_SELLER()]
        if data.get("region_id", producer.region_id) != producer.region_id:
            errors["region_id"] = [OWN_VILLAGE_ONLY()]
    elif "credit_code" in data:
        data["credit_code"] = _check_credit_code(session, data["credit_code"], producer.id, errors)
    if station is not None and ("region_id" in data or "station_id" in data):
        county_id = county_id_of(session, station.village_id)
        region_id = data.get("region_id", producer.region_id)
        _check_region(session, region_id, producer.kind, county_id, errors)
    if errors:
        raise ValidationFailed(errors)
    renamed = data.get("name", producer.name) != producer.name
    for key, value in data.items():
        setattr(producer, key, value)
    session.flush()
    if "region_id" in data or "station_id" in data:
        session.refresh(producer, ["region", "station"])
    if renamed:
        producer_renamed.send(producer, session=session)
    return producer
