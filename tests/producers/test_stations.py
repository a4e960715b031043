"""Service stations: admin-managed, scoped reads, operators that may fix address and phone."""

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.producers.models import Station

URL = "/api/v1/stations"


def _station_row(session, station_id):
    return session.execute(
        sa.select(Station.name, Station.address, Station.village_id, Station.version).where(
            Station.id == station_id
        )
    ).one()


def test_each_role_lists_the_stations_of_its_scope(client, cast):
    def names(headers):
        response = client.get(URL, headers=headers)
        assert response.status_code == 200
        return {s["name"] for s in response.json}

    assert names(cast.h.admin) >= {"蓝莓村服务站", "人参村服务站", "远山村服务站"}
    assert names(cast.h.official_a) == {"蓝莓村服务站"}
    assert names(cast.h.official_county) == {"蓝莓村服务站", "人参村服务站"}
    assert names(cast.h.station_b) == {"人参村服务站"}


def test_list_filters_and_nests_the_village(client, cast):
    within = client.get(f"{URL}?within={cast.regions.township_b.id}", headers=cast.h.admin)
    assert [s["name"] for s in within.json] == ["人参村服务站"]
    assert within.json[0]["village"]["name"] == "人参村"
    by_name = client.get(f"{URL}?q=远山", headers=cast.h.admin)
    assert [s["name"] for s in by_name.json] == ["远山村服务站"]


def test_list_rejects_bad_filters_and_an_unknown_region_matches_nothing(client, cast):
    response = client.get(f"{URL}?within=abc&is_active=maybe", headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"within", "is_active"}
    unknown = client.get(f"{URL}?within=999999", headers=cast.h.admin)
    assert unknown.status_code == 200
    assert unknown.json == []


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("buyer", 403), ("unit", 403)])
def test_list_needs_a_staff_login(client, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    assert client.get(URL, headers=headers).status_code == status


def test_list_statement_count_does_not_grow_with_rows(client, cast, make_station, count_queries):
    with count_queries() as few:
        assert len(client.get(URL, headers=cast.h.admin).json) == 3
    for village in (cast.regions.village_a2, cast.regions.village_b2, cast.regions.village_a1):
        make_station(village)
    with count_queries() as many:
        assert len(client.get(URL, headers=cast.h.admin).json) == 6
    assert many.count == few.count
    # the actor, the count, the page, the villages
    assert many.count == 4


def test_admin_opens_a_station(client, session, cast):
    body = {"code": "QS-A2", "name": "榛子村服务站", "village_id": cast.regions.village_a2.id}
    response = client.post(URL, json=body | {"phone": "0433-1234567"}, headers=cast.h.admin)
    assert response.status_code == 201, response.json
    assert response.json["version"] == 1
    assert response.json["village"]["name"] == "榛子村"
    row = session.get(Station, response.json["id"])
    assert (row.code, row.phone) == ("QS-A2", "0433-1234567")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"village_id": "township"}, "village_id"),
        ({"village_id": 999999}, "village_id"),
        ({"code": "has space"}, "code"),
        ({"name": ""}, "name"),
        ({"code": "taken"}, "code"),
        ({"name": "蓝莓村服务站"}, "name"),
        ({"phone": "call me"}, "phone"),
    ],
)
def test_bad_station_input_is_422_naming_the_field_and_writes_nothing(
    client, session, cast, change, field
):
    body = {"code": "NEW-1", "name": "新服务站", "village_id": cast.regions.village_a2.id}
    body.update(change)
    if body["village_id"] == "township":
        body["village_id"] = cast.regions.township_a.id
    if body["code"] == "taken":
        body["code"] = cast.station_a.code
    before = session.scalar(sa.select(sa.func.count()).select_from(Station))
    response = client.post(URL, json=body, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert session.scalar(sa.select(sa.func.count()).select_from(Station)) == before


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("official_county", 403), ("station_a", 403)]
)
def test_only_admins_open_stations(client, session, cast, who, status):
    body = {"code": "NEW-2", "name": "新服务站2", "village_id": cast.regions.village_a2.id}
    headers = getattr(cast.h, who) if who else {}
    assert client.post(URL, json=body, headers=headers).status_code == status
    assert session.execute(sa.select(Station).where(Station.code == "NEW-2")).first() is None


def test_station_detail_in_and_out_of_scope(client, cast, hidden):
    own = client.get(f"{URL}/{cast.station_a.id}", headers=cast.h.station_a)
    assert own.status_code == 200
    assert own.json["name"] == "蓝莓村服务站"
    assert client.get(f"{URL}/{cast.station_a.id}", headers=cast.h.official_a).status_code == 200
    hidden(client.get(f"{URL}/{cast.station_a.id}", headers=cast.h.station_b), "蓝莓村服务站")
    hidden(client.get(f"{URL}/{cast.station_b.id}", headers=cast.h.official_a), "人参村服务站")
    assert client.get(f"{URL}/{cast.station_a.id}").status_code == 401


def test_admin_changes_a_station_with_the_version_it_read(client, session, cast):
    response = client.patch(
        f"{URL}/{cast.station_a.id}",
        json={"version": 1, "name": "蓝莓村综合服务站", "village_id": cast.regions.village_a2.id},
        headers=cast.h.admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["village"]["name"] == "榛子村"
    assert _station_row(session, cast.station_a.id).name == "蓝莓村综合服务站"


def test_a_stale_version_is_409_and_changes_nothing(client, session, cast):
    response = client.patch(
        f"{URL}/{cast.station_a.id}", json={"version": 7, "name": "改名"}, headers=cast.h.admin
    )
    assert response.status_code == 409
    assert _station_row(session, cast.station_a.id) == (
        "蓝莓村服务站",
        None,
        cast.station_a.village_id,
        1,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "改名"}, "version"),
        ({"version": "one"}, "version"),
        ({"version": 1, "village_id": "township"}, "village_id"),
        ({"version": 1, "name": "人参村服务站"}, "name"),
    ],
)
def test_bad_station_change_is_422_and_changes_nothing(client, session, cast, body, field):
    if body.get("village_id") == "township":
        body["village_id"] = cast.regions.township_a.id
    response = client.patch(f"{URL}/{cast.station_a.id}", json=body, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert _station_row(session, cast.station_a.id) == (
        "蓝莓村服务站",
        None,
        cast.station_a.village_id,
        1,
    )


def test_an_operator_fixes_its_own_address_and_phone_only(client, session, cast, hidden):
    url = f"{URL}/{cast.station_a.id}"
    fixed = client.patch(
        url, json={"version": 1, "address": "村委会东侧"}, headers=cast.h.station_a
    )
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["address"] == "村委会东侧"
    renamed = client.patch(
        url, json={"version": 2, "name": "改名", "is_active": False}, headers=cast.h.station_a
    )
    assert renamed.status_code == 403
    assert set(renamed.json["errors"]) == {"name", "is_active"}
    hidden(
        client.patch(url, json={"version": 2, "address": "x"}, headers=cast.h.station_b),
        "蓝莓村服务站",
    )
    assert _station_row(session, cast.station_a.id) == (
        "蓝莓村服务站",
        "村委会东侧",
        cast.station_a.village_id,
        2,
    )


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official_a", 403), ("buyer", 403)])
def test_officials_and_buyers_cannot_change_stations(client, session, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    response = client.patch(
        f"{URL}/{cast.station_a.id}", json={"version": 1, "address": "x"}, headers=headers
    )
    assert response.status_code == status
    assert _station_row(session, cast.station_a.id).address is None


def test_operators_of_a_station(client, cast, make_user, hidden):
    make_user(Role.station, station_id=cast.station_a.id, display_name="李站长")
    url = f"{URL}/{cast.station_a.id}/operators"
    for who in ("admin", "station_a", "official_a"):
        response = client.get(url, headers=getattr(cast.h, who))
        assert response.status_code == 200
        assert {u["id"] for u in response.json} >= {cast.users.station_a.id}
        assert "李站长" in {u["display_name"] for u in response.json}
        assert {u["station_id"] for u in response.json} == {cast.station_a.id}
    hidden(client.get(url, headers=cast.h.station_b), "李站长")
    hidden(client.get(url, headers=cast.h.official_far), "李站长")
    assert client.get(url).status_code == 401
    assert client.get(url, headers=cast.h.buyer).status_code == 403
