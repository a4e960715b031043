"""Producers: the three kinds, credit codes, station management and scoping."""

import pytest
import sqlalchemy as sa

from marketplace.producers.models import Producer, ProducerKind
from marketplace.producers.service import InvalidCreditCode, check_credit_code

URL = "/api/v1/producers"


def _count(session):
    return session.scalar(sa.select(sa.func.count()).select_from(Producer))


def _row(session, producer_id):
    return session.execute(
        sa.select(
            Producer.name,
            Producer.station_id,
            Producer.region_id,
            Producer.credit_code,
            Producer.version,
        ).where(Producer.id == producer_id)
    ).one()


# --- the credit code check (GB 32100) --------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        # the weighted sum is a multiple of 31: the check character wraps round to 0
        "91350100MA00000230",
    ],
)
def test_valid_credit_codes_pass(code):
    check_credit_code(code)


@pytest.mark.parametrize(
    ("code", "reason", "problem"),
    [
        ("91350100M000100Y44", "credit_code.check_character", "wrong check character"),
        ("91350100M000101Y43", "credit_code.check_character", "wrong check character"),
        ("91350100M000100Y4", "credit_code.length", "18 characters"),
        ("91350100I000100Y43", "credit_code.characters", "never used"),
        ("91350100m000100Y43", "credit_code.characters", "never used"),
    ],
)
def test_mutated_credit_codes_fail(code, reason, problem):
    with pytest.raises(InvalidCreditCode) as refused:
        check_credit_code(code)
    assert refused.value.reason.code == reason and problem in refused.value.reason


# --- creating producers ----------------------------------------------------------------------


def test_a_station_registers_a_cooperative_for_itself(client, session, cast, credit_code):
    code = credit_code()
    response = client.post(
        URL,
        json={
            "kind": "cooperative",
            "name": "蓝莓种植专业合作社",
            "region_id": cast.regions.village_a2.id,
            "credit_code": code.lower(),
            "legal_representative": "张三",
        },
        headers=cast.h.station_a,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["station"] == {
        "id": cast.station_a.id,
        "code": cast.station_a.code,
        "name": "蓝莓村服务站",
    }
    assert body["region"]["name"] == "榛子村"
    assert (body["credit_code"], body["version"]) == (code, 1)
    assert session.get(Producer, body["id"]).station_id == cast.station_a.id


def test_a_household_sells_under_its_heads_name_from_its_village(
    client, session, cast, make_household
):
    household = make_household(cast.regions.village_b2, head_name="赵大娘")
    response = client.post(
        URL, json={"kind": "household", "household_id": household.id}, headers=cast.h.station_a
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "赵大娘"
    assert response.json["region_id"] == cast.regions.village_b2.id
    assert response.json["household_id"] == household.id
    assert session.get(Producer, response.json["id"]).household_id == household.id


def test_a_household_sells_as_one_producer_only(client, session, cast, make_household):
    household = make_household(cast.regions.village_a1)
    first = client.post(
        URL, json={"kind": "household", "household_id": household.id}, headers=cast.h.station_a
    )
    assert first.status_code == 201
    before = _count(session)
    second = client.post(
        URL,
        json={"kind": "household", "household_id": household.id, "name": "再来一次"},
        headers=cast.h.station_b,
    )
    assert second.status_code == 422
    assert set(second.json["errors"]) == {"household_id"}
    assert _count(session) == before


def test_an_admin_registers_an_enterprise_at_township_level(client, cast, credit_code):
    response = client.post(
        URL,
        json={
            "kind": "enterprise",
            "name": "白山食品有限公司",
            "region_id": cast.regions.township_a.id,
            "station_id": cast.station_b.id,
            "credit_code": credit_code(),
        },
        headers=cast.h.admin,
    )
    assert response.status_code == 201, response.json
    assert response.json["station_id"] == cast.station_b.id


@pytest.mark.parametrize(
    ("who", "change", "fields"),
    [
        ("station_a", {"credit_code": "mutated"}, {"credit_code"}),
        ("station_a", {"credit_code": "taken"}, {"credit_code"}),
        ("station_a", {"credit_code": None}, {"credit_code"}),
        ("station_a", {"name": None, "region_id": None}, {"name", "region_id"}),
        ("station_a", {"region_id": "township"}, {"region_id"}),
        ("station_a", {"region_id": "other county"}, {"region_id"}),
        ("station_a", {"region_id": 999999}, {"region_id"}),
        ("station_a", {"station_id": "other"}, {"station_id"}),
        ("station_a", {"household_id": "someone"}, {"household_id"}),
        ("station_a", {"kind": "farm"}, {"kind"}),
        ("station_a", {"contact_phone": "none"}, {"contact_phone"}),
        ("admin", {}, {"station_id"}),
        ("admin", {"station_id": 999999}, {"station_id"}),
    ],
)
def test_bad_cooperative_input_is_422_naming_the_field_and_writes_nothing(
    client, session, cast, credit_code, make_producer, make_household, who, change, fields
):
    taken = make_producer(cast.station_b, credit_code=credit_code()).credit_code
    valid = credit_code()
    replacements = {
        "mutated": valid[:-1] + ("0" if valid[-1] != "0" else "1"),
        "taken": taken,
        "township": cast.regions.township_a.id,
        "other county": cast.regions.other_village.id,
        "other": cast.station_b.id,
        "someone": make_household(cast.regions.village_a1).id,
    }
    body = {
        "kind": "cooperative",
        "name": "新合作社",
        "region_id": cast.regions.village_a1.id,
        "credit_code": valid,
    }
    body.update({k: replacements.get(v, v) for k, v in change.items()})
    body = {k: v for k, v in body.items() if v is not None}
    before = _count(session)
    response = client.post(URL, json=body, headers=getattr(cast.h, who))
    assert response.status_code == 422
    assert set(response.json["errors"]) == fields
    assert _count(session) == before


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"household_id": None}, {"household_id"}),
        ({"household_id": 999999}, {"household_id"}),
        ({"household_id": "far away"}, {"household_id"}),
        ({"credit_code": "91350100M000100Y43"}, {"credit_code"}),
        ({"region_id": "elsewhere"}, {"region_id"}),
    ],
)
def test_bad_household_seller_input_is_422_naming_the_field(
    client, session, cast, make_household, change, fields
):
    household = make_household(cast.regions.village_a1)
    far = make_household(cast.regions.other_village, head_name="远方的人")
    body = {"kind": "household", "household_id": household.id}
    replacements = {"far away": far.id, "elsewhere": cast.regions.village_a2.id}
    body.update({k: replacements.get(v, v) for k, v in change.items()})
    body = {k: v for k, v in body.items() if v is not None}
    before = _count(session)
    response = client.post(URL, json=body, headers=cast.h.station_a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == fields
    assert "远方的人" not in response.get_data(as_text=True)
    assert _count(session) == before


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official_county", 403), ("buyer", 403)])
def test_officials_and_buyers_cannot_register_producers(
    client, session, cast, credit_code, who, status
):
    body = {
        "kind": "cooperative",
        "name": "不该出现的合作社",
        "region_id": cast.regions.village_a1.id,
        "station_id": cast.station_a.id,
        "credit_code": credit_code(),
    }
    headers = getattr(cast.h, who) if who else {}
    assert client.post(URL, json=body, headers=headers).status_code == status
    assert session.execute(sa.select(Producer).where(Producer.name == body["name"])).first() is None


# --- reading ---------------------------------------------------------------------------------


@pytest.fixture
def producers(cast, make_producer, make_household):
    """A co-operative and a household seller at station A, an enterprise at station B, a
    co-operative far away."""
    household = make_household(cast.regions.village_a1, head_name="钱二")
    return {
        "coop_a": make_producer(cast.station_a, name="蓝莓合作社"),
        "household_a": make_producer(
            cast.station_a,
            kind=ProducerKind.household,
            name="钱二",
            household_id=household.id,
        ),
        "enterprise_b": make_producer(
            cast.station_b, kind=ProducerKind.enterprise, name="人参加工厂"
        ),
        "coop_far": make_producer(cast.station_far, name="远山合作社"),
    }


def _names(response):
    assert response.status_code == 200, response.json
    return {p["name"] for p in response.json}


def test_each_role_lists_the_producers_of_its_scope(client, cast, producers):
    everything = {"蓝莓合作社", "钱二", "人参加工厂", "远山合作社"}
    assert _names(client.get(URL, headers=cast.h.admin)) == everything
    assert _names(client.get(URL, headers=cast.h.station_a)) == {"蓝莓合作社", "钱二"}
    assert _names(client.get(URL, headers=cast.h.official_a)) == {"蓝莓合作社", "钱二"}
    assert _names(client.get(URL, headers=cast.h.official_county)) == everything - {"远山合作社"}
    assert _names(client.get(URL, headers=cast.h.official_far)) == {"远山合作社"}


def test_list_filters(client, cast, producers):
    def names(query):
        return _names(client.get(f"{URL}?{query}", headers=cast.h.admin))

    assert names("kind=household") == {"钱二"}
    assert names(f"within={cast.regions.township_b.id}") == {"人参加工厂"}
    assert names(f"station_id={cast.station_far.id}") == {"远山合作社"}
    assert names("q=合作社") == {"蓝莓合作社", "远山合作社"}
    assert names("q=%25") == set()  # a literal percent sign, not a wildcard
    assert (
        _names(client.get(f"{URL}?station_id={cast.station_b.id}", headers=cast.h.station_a))
        == set()
    )


def test_list_rejects_bad_filters(client, cast):
    response = client.get(f"{URL}?kind=farm&station_id=x", headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"kind", "station_id"}
    too_big = client.get(f"{URL}?page_size=1000", headers=cast.h.admin)
    assert too_big.status_code == 422
    assert set(too_big.json["errors"]) == {"page_size"}


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("buyer", 403), ("unit", 403)])
def test_list_needs_a_staff_login(client, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    assert client.get(URL, headers=headers).status_code == status


def test_list_statement_count_does_not_grow_with_rows(
    client, cast, producers, make_producer, count_queries
):
    with count_queries() as few:
        assert len(client.get(URL, headers=cast.h.admin).json) == 4
    for station in (cast.station_a, cast.station_b, cast.station_far, cast.station_b):
        make_producer(station)
    with count_queries() as many:
        response = client.get(URL, headers=cast.h.admin)
    assert len(response.json) == 8
    assert {p["station"]["name"] for p in response.json} == {
        "蓝莓村服务站",
        "人参村服务站",
        "远山村服务站",
    }
    assert many.count == few.count
    # the actor, the count, the page, the regions, the stations
    assert many.count == 5


def test_producer_detail_in_and_out_of_scope(client, cast, producers, hidden):
    coop = producers["coop_a"]
    assert client.get(f"{URL}/{coop.id}", headers=cast.h.station_a).json["name"] == "蓝莓合作社"
    assert client.get(f"{URL}/{coop.id}", headers=cast.h.official_a).status_code == 200
    hidden(client.get(f"{URL}/{coop.id}", headers=cast.h.station_b), "蓝莓合作社", coop.credit_code)
    hidden(client.get(f"{URL}/{coop.id}", headers=cast.h.official_far), "蓝莓合作社")
    assert client.get(f"{URL}/{coop.id}").status_code == 401
    assert client.get(f"{URL}/{coop.id}", headers=cast.h.buyer).status_code == 403


# --- changing --------------------------------------------------------------------------------


def test_a_station_edits_its_producer_with_the_version_it_read(
    client, session, cast, producers, credit_code
):
    coop = producers["coop_a"]
    code = credit_code()
    response = client.patch(
        f"{URL}/{coop.id}",
        json={"version": 1, "name": "蓝莓联合社", "credit_code": code, "description": "有机"},
        headers=cast.h.station_a,
    )
    assert response.status_code == 200, response.json
    assert (response.json["name"], response.json["version"]) == ("蓝莓联合社", 2)
    assert _row(session, coop.id)[3:] == (code, 2)


def test_a_stale_version_is_409_and_changes_nothing(client, session, cast, producers):
    coop = producers["coop_a"]
    before = _row(session, coop.id)
    # Versions start at 1 (0 is refused as a bad field); the producer is at 1, not 2.
    response = client.patch(
        f"{URL}/{coop.id}", json={"version": 2, "name": "迟到的修改"}, headers=cast.h.station_a
    )
    assert response.status_code == 409
    assert _row(session, coop.id) == before


def test_only_admins_move_a_producer_within_the_county(client, session, cast, producers):
    coop = producers["coop_a"]
    url = f"{URL}/{coop.id}"
    before = _row(session, coop.id)
    by_station = client.patch(
        url, json={"version": 1, "station_id": cast.station_b.id}, headers=cast.h.station_a
    )
    assert by_station.status_code == 403
    assert set(by_station.json["errors"]) == {"station_id"}
    far = client.patch(
        url, json={"version": 1, "station_id": cast.station_far.id}, headers=cast.h.admin
    )
    assert far.status_code == 422
    assert set(far.json["errors"]) == {"region_id"}
    assert _row(session, coop.id) == before
    moved = client.patch(
        url, json={"version": 1, "station_id": cast.station_b.id}, headers=cast.h.admin
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["station"]["name"] == "人参村服务站"
    # the station lost it: now outside its scope
    assert client.get(url, headers=cast.h.station_a).status_code == 404


@pytest.mark.parametrize(
    ("target", "body", "fields"),
    [
        ("coop_a", {"name": "没有版本"}, {"version"}),
        ("coop_a", {"version": 1, "region_id": "township"}, {"region_id"}),
        ("coop_a", {"version": 1, "region_id": "other county"}, {"region_id"}),
        ("coop_a", {"version": 1, "credit_code": "91350100M000100Y44"}, {"credit_code"}),
        ("coop_a", {"version": 1, "name": ""}, {"name"}),
        ("coop_a", {"version": 1, "kind": "enterprise"}, {"kind"}),
        ("household_a", {"version": 1, "region_id": "township"}, {"region_id"}),
        ("household_a", {"version": 1, "credit_code": "91350100M000100Y43"}, {"credit_code"}),
    ],
)
def test_bad_changes_are_422_and_change_nothing(
    client, session, cast, producers, target, body, fields
):
    producer = producers[target]
    replacements = {
        "township": cast.regions.village_a2.id
        if target == "household_a"
        else cast.regions.township_a.id,
        "other county": cast.regions.other_village.id,
    }
    body = {k: replacements.get(v, v) for k, v in body.items()}
    before = _row(session, producer.id)
    response = client.patch(f"{URL}/{producer.id}", json=body, headers=cast.h.station_a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == fields
    assert _row(session, producer.id) == before


def test_a_station_cannot_change_another_stations_producer(
    client, session, cast, producers, hidden
):
    enterprise = producers["enterprise_b"]
    before = _row(session, enterprise.id)
    hidden(
        client.patch(
            f"{URL}/{enterprise.id}", json={"version": 1, "name": "被改"}, headers=cast.h.station_a
        ),
        "人参加工厂",
    )
    assert _row(session, enterprise.id) == before


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official_county", 403), ("buyer", 403)])
def test_officials_and_buyers_cannot_change_producers(
    client, session, cast, producers, who, status
):
    coop = producers["coop_a"]
    before = _row(session, coop.id)
    headers = getattr(cast.h, who) if who else {}
    response = client.patch(f"{URL}/{coop.id}", json={"version": 1, "name": "x"}, headers=headers)
    assert response.status_code == status
    assert _row(session, coop.id) == before
