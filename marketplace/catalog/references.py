"""What a product names, checked: the station that lists it, its producer, its category and its
village of origin. Each refusal goes under the field that named the row, so that one request
learns of every bad reference at once (the caller raises them together)."""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Category
from marketplace.errors import ValidationFailed
from marketplace.producers.models import Producer, Station
from marketplace.reasons import reason
from marketplace.regions.models import Region, RegionLevel

STATION_LISTS_ITS_OWN = reason(
    "product.station_lists_its_own", "a station lists its own products only"
)
STATION_REQUIRED = reason("product.station_required", "required: name the station that lists it")
NO_SUCH_STATION = reason("product.no_such_station", "no station with id {station_id}")
PRODUCER_NOT_OF_STATION = reason(
    "product.producer_not_of_station", "not a producer managed by the listing station"
)
PRODUCER_INACTIVE = reason("product.producer_inactive", "the producer is inactive")
UNKNOWN_CATEGORY = reason("product.unknown_category", "unknown category code {code!r}")
NOT_A_VILLAGE = reason("product.origin_not_a_village", "must be a village")
ORIGIN_REQUIRED = reason(
    "product.origin_village_required", "required: the producer's region is not a village"
)


def listing_station(session, actor: Actor, requested: int | None) -> int:
    """The station that lists a new product: a station's own; the one an admin names."""
    if actor.role is Role.station:
        if requested is not None and requested != actor.station_id:
            raise ValidationFailed({"station_id": [STATION_LISTS_ITS_OWN()]})
        return actor.station_id
    if requested is None:
        raise ValidationFailed({"station_id": [STATION_REQUIRED()]})
    if session.get(Station, requested) is None:
        raise ValidationFailed({"station_id": [NO_SUCH_STATION(station_id=requested)]})
    return requested


def producer_of_station(session, producer_id: int, station_id: int, errors: dict):
    producer = session.get(Producer, producer_id)
    if producer is None or producer.station_id != station_id:
        errors["producer_id"] = [PRODUCER_NOT_OF_STATION()]
        return None
    if not producer.is_active:
        errors["producer_id"] = [PRODUCER_INACTIVE()]
        return None
    return producer


def category(session, code: str, errors: dict) -> Category | None:
    found = session.execute(sa.select(Category).where(Category.code == code)).scalar_one_or_none()
    if found is None:
        errors["category"] = [UNKNOWN_CATEGORY(code=code)]
    return found


def village(session, village_id: int, errors: dict) -> Region | None:
    found = session.get(Region, village_id)
    if found is None or found.level is not RegionLevel.village:
        errors["origin_village_id"] = [NOT_A_VILLAGE()]
        return None
    return found


def producers_village(session, producer: Producer, errors: dict) -> Region:
    """The origin of a product that names none: its producer's region, which must be a
    village."""
    found = session.get(Region, producer.region_id)
    if found.level is not RegionLevel.village:
        errors["origin_village_id"] = [ORIGIN_REQUIRED()]
    return found
