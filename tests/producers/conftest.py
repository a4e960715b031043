"""Fixtures for stations, producers and buying units: a small cast of users across two
counties, and fresh valid credit codes."""

import itertools
from types import SimpleNamespace

import pytest

from marketplace.accounts.models import Role
from marketplace.producers.models import BuyingUnit, UnitKind

_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_serial = itertools.count(1)


def with_check_character(first17: str) -> str:
    total = sum(_CHARSET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _CHARSET[(31 - total % 31) % 31]


@pytest.fixture
def credit_code():
    """``credit_code()`` -> a fresh, valid unified social credit code."""
    return lambda: with_check_character(f"93220524MA{next(_serial):07d}")


@pytest.fixture
def hidden():
    """``hidden(response, *secrets)``: a 404 problem that shows nothing of the hidden object."""

    def check(response, *secrets) -> None:
        assert response.status_code == 404, response.json
        assert response.mimetype == "application/problem+json"
        text = response.get_data(as_text=True)
        for secret in secrets:
            assert str(secret) not in text

    return check


@pytest.fixture
def make_unit(session):
    def make(**over) -> BuyingUnit:
        n = next(_serial)
        fields = {"name": f"省直机关单位{n}", "kind": UnitKind.government}
        fields.update(over)
        unit = BuyingUnit(**fields)
        session.add(unit)
        session.flush()
        return unit

    return make


@pytest.fixture
def cast(regions, make_station, make_user, make_unit, auth):
    """Stations in two townships of one county and one far away, and a user of every role.

    ``cast.h.<who>`` are the request headers of each user.
    """
    station_a = make_station(regions.village_a1, name="蓝莓村服务站")
    station_b = make_station(regions.village_b1, name="人参村服务站")
    station_far = make_station(regions.other_village, name="远山村服务站")
    unit = make_unit(name="县财政局", region_id=regions.county.id)
    other_unit = make_unit(name="远山国企", region_id=regions.other_county.id)
    users = {
        "admin": make_user(Role.admin),
        "station_a": make_user(Role.station, station_id=station_a.id),
        "station_b": make_user(Role.station, station_id=station_b.id),
        "station_far": make_user(Role.station, station_id=station_far.id),
        "official_a": make_user(Role.official, region_id=regions.township_a.id),
        "official_county": make_user(Role.official, region_id=regions.county.id),
        "official_far": make_user(Role.official, region_id=regions.other_county.id),
        "buyer": make_user(Role.buyer),
        "unit": make_user(Role.unit, unit_id=unit.id),
        "other_unit": make_user(Role.unit, unit_id=other_unit.id),
    }
    return SimpleNamespace(
        regions=regions,
        station_a=station_a,
        station_b=station_b,
        station_far=station_far,
        unit=unit,
        other_unit=other_unit,
        users=SimpleNamespace(**users),
        h=SimpleNamespace(**{name: auth(user) for name, user in users.items()}),
    )
