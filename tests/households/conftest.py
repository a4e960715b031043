"""Registry fixtures: users of each role scoped to the shared region tree."""

import pytest

from marketplace.accounts.models import Role


@pytest.fixture
def station_user(make_station, make_user):
    """``station_user(village)``: a station user whose station is in ``village``."""

    def make(village):
        return make_user(Role.station, station_id=make_station(village).id)

    return make


@pytest.fixture
def admin(make_user, auth):
    return auth(make_user(Role.admin))


@pytest.fixture
def station_a1(regions, station_user, auth):
    """Headers of a station user working in village_a1."""
    return auth(station_user(regions.village_a1))


@pytest.fixture
def official_a(regions, make_user, auth):
    """Headers of an official of township_a (villages a1 and a2)."""
    return auth(make_user(Role.official, region_id=regions.township_a.id))


@pytest.fixture
def buyer(make_user, auth):
    return auth(make_user(Role.buyer))


@pytest.fixture
def household_in():
    """``household_in(village, **over)``: a valid POST /households body."""

    def body(village, id_number, **over):
        data = {
            "registry_number": "2205241042010099",
            "head_name": "孙秀英",
            "head_id_number": id_number,
            "members_count": 4,
            "village_id": village.id,
            "phone": "13904351234",
            "address": "一组7号",
            "poverty_causes": ["illness", "lack_of_skills"],
            "helper_name": "周红梅",
            "helper_phone": "18704351103",
            "status": "lifted",
            "status_effective_from": "2019-12-31",
        }
        data.update(over)
        return data

    return body
