"""CRUD of the household registry: /api/v1/households."""

import json

import pytest
import sqlalchemy as sa

from marketplace.households.models import (
    Household,
    HouseholdStatus,
    HouseholdStatusChange,
    MonitoringType,
    PayoutAccount,
)
from marketplace.producers.models import CooperativeMembership, ProducerKind

URL = "/api/v1/households"


def household_count(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Household)).scalar_one()


# --- list ------------------------------------------------------------------------------------


def test_list_paginates_with_village_names(client, regions, make_household, admin):
    made = [make_household(regions.village_a1) for _ in range(3)]
    response = client.get(URL, query_string={"page": 1, "page_size": 2}, headers=admin)
    assert response.status_code == 200
    assert [h["id"] for h in response.json] == [made[0].id, made[1].id]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    first = response.json[0]
    assert first["village"] == {
        "id": regions.village_a1.id,
        "code": regions.village_a1.code,
        "name": "蓝莓村",
    }
    assert first["status"] == "lifted"
    assert first["version"] == 1


def test_list_is_scoped_to_the_station_village(client, regions, make_household, station_a1, admin):
    mine = make_household(regions.village_a1)
    theirs = make_household(regions.village_a2, head_name="外村人")
    response = client.get(URL, headers=station_a1)
    assert [h["id"] for h in response.json] == [mine.id]
    assert "外村人" not in response.get_data(as_text=True)
    assert {h["id"] for h in client.get(URL, headers=admin).json} == {mine.id, theirs.id}


def test_list_is_scoped_to_the_official_subtree(client, regions, make_household, official_a):
    a1 = make_household(regions.village_a1)
    a2 = make_household(regions.village_a2)
    make_household(regions.village_b1)
    make_household(regions.other_village)
    response = client.get(URL, headers=official_a)
    assert response.status_code == 200
    assert {h["id"] for h in response.json} == {a1.id, a2.id}


def test_list_filters(client, regions, make_household, admin):
    a1 = make_household(regions.village_a1, head_name="张秋实", status=HouseholdStatus.in_poverty)
    b1 = make_household(
        regions.village_b1,
        head_name="李满仓",
        status=HouseholdStatus.monitoring,
        monitoring_type=MonitoringType.marginal,
    )
    other = make_household(regions.other_village, head_name="张大年")

    def ids(**query):
        response = client.get(URL, query_string=query, headers=admin)
        assert response.status_code == 200, response.json
        return {h["id"] for h in response.json}

    assert ids(village_id=regions.village_a1.id) == {a1.id}
    assert ids(within=regions.county.id) == {a1.id, b1.id}
    assert ids(within=regions.township_b.id) == {b1.id}
    assert ids(status="monitoring") == {b1.id}
    assert ids(monitoring_type="marginal") == {b1.id}
    assert ids(registry_number=other.registry_number) == {other.id}
    assert ids(q="张") == {a1.id, other.id}
    assert ids(q="%") == set()  # LIKE wildcards are literal

    def looked_up(number):
        response = client.post(f"{URL}/lookup", json={"id_number": number}, headers=admin)
        assert response.status_code == 200, response.json
        return {h["id"] for h in response.json}

    assert looked_up(b1.plain_id_number) == {b1.id}
    assert looked_up(b1.plain_id_number.lower()) == {b1.id}  # a trailing x is an X


def test_an_id_number_in_a_url_is_refused_and_says_where_to_send_it(
    client, regions, make_household, admin
):
    household = make_household(regions.village_a1)
    response = client.get(URL, query_string={"id_number": household.plain_id_number}, headers=admin)
    assert response.status_code == 400
    assert response.json["code"] == "household.id_number_in_url"
    assert "/api/v1/households/lookup" in response.json["detail"]
    assert household.plain_id_number not in response.get_data(as_text=True)
    bad = client.post(f"{URL}/lookup", json={"id_number": "123"}, headers=admin)
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]


def test_exact_lookup_by_id_number_stays_in_scope(
    client, regions, make_household, station_a1, id_number
):
    elsewhere = make_household(regions.village_b1)
    lookup = f"{URL}/lookup"
    response = client.post(
        lookup, json={"id_number": elsewhere.plain_id_number}, headers=station_a1
    )
    assert response.status_code == 200
    assert response.json == []
    unknown = client.post(lookup, json={"id_number": id_number()}, headers=station_a1)
    assert unknown.json == []
    buyer = client.post(lookup, json={"id_number": id_number()}, headers={})
    assert buyer.status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "rich"}, "status"),
        ({"monitoring_type": "nope"}, "monitoring_type"),
        ({"village_id": "x"}, "village_id"),
        ({"within": "x"}, "within"),
        ({"page_size": 0}, "page_size"),
    ],
)
def test_list_bad_filters_are_422_naming_the_field(client, regions, admin, query, field):
    response = client.get(URL, query_string=query, headers=admin)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_list_runs_a_constant_number_of_statements(
    client, regions, make_household, admin, count_queries
):
    make_household(regions.village_a1)
    with count_queries() as one:
        assert len(client.get(URL, headers=admin).json) == 1
    for village in (regions.village_a2, regions.village_b1, regions.village_b2):
        make_household(village)
        make_household(village)
    with count_queries() as many:
        assert len(client.get(URL, headers=admin).json) == 7
    assert many.count == one.count
    assert many.count == 3  # the token, the count, the page with its villages


def test_registry_needs_a_login_and_a_registry_role(client, regions, make_household, buyer):
    household = make_household(regions.village_a1)
    assert client.get(URL).status_code == 401
    assert client.get(f"{URL}/{household.id}").status_code == 401
    assert client.get(URL, headers=buyer).status_code == 403
    assert client.get(f"{URL}/{household.id}", headers=buyer).status_code == 403
    response = client.get(f"{URL}/{household.id}/payout-account", headers=buyer)
    assert response.status_code == 403
    assert household.registry_number not in response.get_data(as_text=True)


# --- detail ----------------------------------------------------------------------------------


def test_detail(client, regions, make_household, station_a1):
    household = make_household(regions.village_a1, phone="13904351234")
    response = client.get(f"{URL}/{household.id}", headers=station_a1)
    assert response.status_code == 200
    assert response.json["registry_number"] == household.registry_number
    assert response.json["phone"] == "13904351234"
    assert response.json["poverty_causes"] == ["illness"]


def test_detail_outside_scope_is_404_without_data(
    client, regions, make_household, station_a1, official_a
):
    elsewhere = make_household(regions.village_b1, head_name="外村人")
    for headers in (station_a1, official_a):
        response = client.get(f"{URL}/{elsewhere.id}", headers=headers)
        assert response.status_code == 404
        assert response.json["code"] == "record.not_found"
        assert response.json["params"] == {"kind": "Household", "id": elsewhere.id}
        body = response.get_data(as_text=True)
        assert "外村人" not in body and elsewhere.registry_number not in body


# --- create ----------------------------------------------------------------------------------


def test_admin_registers_a_household_with_its_first_status(
    client, session, regions, admin, household_in, id_number
):
    number = id_number()
    body = household_in(regions.village_b1, number, status="monitoring", monitoring_type="marginal")
    response = client.post(URL, json=body, headers=admin)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["status"] == "monitoring" and created["monitoring_type"] == "marginal"
    assert created["village"]["id"] == regions.village_b1.id
    assert created["version"] == 1
    row = session.get(Household, created["id"])
    assert number not in row.head_id_encrypted and row.head_id_lookup != number
    history = (
        session.execute(
            sa.select(HouseholdStatusChange).where(HouseholdStatusChange.household_id == row.id)
        )
        .scalars()
        .all()
    )
    assert [(c.status, str(c.effective_from)) for c in history] == [
        (HouseholdStatus.monitoring, "2019-12-31")
    ]


def test_station_registers_in_its_own_village(client, regions, station_a1, household_in, id_number):
    body = household_in(regions.village_a1, id_number())
    response = client.post(URL, json=body, headers=station_a1)
    assert response.status_code == 201, response.json


def test_station_cannot_register_in_another_village(
    client, session, regions, station_a1, household_in, id_number
):
    # Regions are public reference data, so naming the field reveals nothing: 422, not 404.
    body = household_in(regions.village_a2, id_number())
    response = client.post(URL, json=body, headers=station_a1)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["village_id"]
    assert household_count(session) == 0


def test_official_cannot_write(client, session, regions, official_a, household_in, id_number):
    response = client.post(
        URL, json=household_in(regions.village_a1, id_number()), headers=official_a
    )
    assert response.status_code == 403
    assert household_count(session) == 0


def test_create_needs_a_login(client, session, regions, household_in, id_number):
    assert client.post(URL, json=household_in(regions.village_a1, id_number())).status_code == 401
    assert household_count(session) == 0


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"head_id_number": "220524198803151235"}, "head_id_number"),  # wrong check digit
        ({"head_id_number": "22052419880315123"}, "head_id_number"),  # 17 characters
        ({"head_id_number": "220524198802301234"}, "head_id_number"),  # 30 February
        ({"members_count": 0}, "members_count"),
        ({"members_count": "3"}, "members_count"),
        ({"poverty_causes": ["laziness"]}, "poverty_causes"),
        ({"poverty_causes": ["illness", "illness"]}, "poverty_causes"),
        ({"phone": "0435-1234567"}, "phone"),
        ({"helper_phone": "1234"}, "helper_phone"),
        ({"status": "rich"}, "status"),
        ({"status": "monitoring"}, "monitoring_type"),
        ({"status": "lifted", "monitoring_type": "marginal"}, "monitoring_type"),
        ({"status_effective_from": "2999-01-01"}, "status_effective_from"),
        ({"registry_number": "12"}, "registry_number"),
        ({"village_id": 999999}, "village_id"),
        ({"head_name": ""}, "head_name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_bad_input_is_422_naming_the_field_and_writes_nothing(
    client, session, regions, admin, household_in, id_number, over, field
):
    body = household_in(regions.village_a1, id_number(), **over)
    response = client.post(URL, json=body, headers=admin)
    assert response.status_code == 422, response.json
    # list items are named by position: poverty_causes.0
    assert field in {name.split(".")[0] for name in response.json["errors"]}
    assert household_count(session) == 0


def test_create_refuses_a_village_that_is_not_a_village(
    client, regions, admin, household_in, id_number
):
    response = client.post(URL, json=household_in(regions.township_a, id_number()), headers=admin)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["village_id"]


def test_registry_number_and_head_id_are_unique(
    client, session, regions, make_household, admin, household_in
):
    existing = make_household(regions.village_b1)
    body = household_in(
        regions.village_a1,
        existing.plain_id_number,
        registry_number=existing.registry_number,
    )
    response = client.post(URL, json=body, headers=admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"registry_number", "head_id_number"}
    assert household_count(session) == 1


def test_a_station_learns_nothing_of_households_beyond_its_village(
    client, session, regions, make_household, station_a1, household_in, caplog
):
    """The registry is not an oracle: an ID number or registry number held elsewhere in the
    county only "cannot be registered here", and the attempt is logged for the admins."""
    elsewhere = make_household(regions.village_b1)
    body = household_in(
        regions.village_a1, elsewhere.plain_id_number, registry_number=elsewhere.registry_number
    )
    with caplog.at_level("WARNING", logger="marketplace.households.service"):
        response = client.post(URL, json=body, headers=station_a1)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "registry_number": ["cannot be registered here"],
        "head_id_number": ["cannot be registered here"],
    }
    unavailable = [{"code": "household.number_unavailable", "params": {}}]
    assert response.json["reasons"] == {
        "registry_number": unavailable,
        "head_id_number": unavailable,
    }
    assert "household" not in response.json["detail"] + str(response.json["errors"])
    logged = [r.getMessage() for r in caplog.records if "registry conflict" in r.getMessage()]
    assert len(logged) == 2 and all(str(elsewhere.id) in line for line in logged)
    assert household_count(session) == 1


def test_a_station_is_told_plainly_about_its_own_village(
    client, regions, make_household, station_a1, household_in
):
    neighbour = make_household(regions.village_a1)
    body = household_in(regions.village_a1, neighbour.plain_id_number)
    response = client.post(URL, json=body, headers=station_a1)
    assert response.status_code == 422
    assert response.json["errors"]["head_id_number"] == [
        f"already the head of household {neighbour.id}"
    ]


# --- update ----------------------------------------------------------------------------------


def test_patch_edits_and_bumps_the_version(
    client, session, regions, make_household, station_a1, id_number
):
    household = make_household(regions.village_a1)
    new_number = id_number()
    response = client.patch(
        f"{URL}/{household.id}",
        json={
            "version": 1,
            "members_count": 5,
            "phone": None,
            "poverty_causes": ["disaster"],
            "head_id_number": new_number,
        },
        headers=station_a1,
    )
    assert response.status_code == 200, response.json
    assert response.json["members_count"] == 5
    assert response.json["phone"] is None
    assert response.json["poverty_causes"] == ["disaster"]
    assert response.json["version"] == 2
    session.expire_all()
    row = session.get(Household, household.id)
    assert row.head_id_masked == new_number[:3] + "*" * 11 + new_number[-4:]
    found = client.post(f"{URL}/lookup", json={"id_number": new_number}, headers=station_a1)
    assert [h["id"] for h in found.json] == [household.id]


def test_patch_moves_a_household_to_another_village(client, regions, make_household, admin):
    household = make_household(regions.village_a1)
    response = client.patch(
        f"{URL}/{household.id}",
        json={"version": 1, "village_id": regions.village_b2.id},
        headers=admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["village"]["name"] == "木耳村"


def test_patch_with_an_old_version_is_409_and_changes_nothing(
    client, session, regions, make_household, admin
):
    household = make_household(regions.village_a1)
    first = client.patch(
        f"{URL}/{household.id}", json={"version": 1, "members_count": 6}, headers=admin
    )
    assert first.status_code == 200
    stale = client.patch(
        f"{URL}/{household.id}", json={"version": 1, "members_count": 2}, headers=admin
    )
    assert stale.status_code == 409
    assert stale.json["code"] == "version.stale"
    assert stale.json["params"] == {
        "kind": "Household",
        "id": household.id,
        "version": 2,
        "given": 1,
    }
    session.expire_all()
    assert session.get(Household, household.id).members_count == 6


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"members_count": 4}, "version"),
        ({"version": 1, "members_count": -1}, "members_count"),
        ({"version": 1, "head_id_number": "123"}, "head_id_number"),
        ({"version": 1, "status": "lifted"}, "status"),  # only through status changes
        ({"version": 1, "village_id": 999999}, "village_id"),
    ],
)
def test_patch_bad_input_is_422_and_changes_nothing(
    client, session, regions, make_household, admin, body, field
):
    household = make_household(regions.village_a1)
    response = client.patch(f"{URL}/{household.id}", json=body, headers=admin)
    assert response.status_code == 422
    assert field in response.json["errors"]
    session.expire_all()
    row = session.get(Household, household.id)
    assert (row.members_count, row.version, row.village_id) == (3, 1, regions.village_a1.id)


def test_patch_to_taken_numbers_is_422(client, session, regions, make_household, admin):
    one = make_household(regions.village_a1)
    two = make_household(regions.village_a1)
    response = client.patch(
        f"{URL}/{two.id}",
        json={
            "version": 1,
            "registry_number": one.registry_number,
            "head_id_number": one.plain_id_number,
        },
        headers=admin,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"registry_number", "head_id_number"}
    session.expire_all()
    assert session.get(Household, two.id).registry_number == two.registry_number


def test_station_cannot_move_a_household_out_of_its_village(
    client, session, regions, make_household, station_a1
):
    household = make_household(regions.village_a1)
    response = client.patch(
        f"{URL}/{household.id}",
        json={"version": 1, "village_id": regions.village_a2.id, "members_count": 9},
        headers=station_a1,
    )
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["village_id"]
    session.expire_all()
    assert session.get(Household, household.id).members_count == 3


def test_patch_outside_scope_is_404(client, session, regions, make_household, station_a1):
    elsewhere = make_household(regions.village_a2, head_name="外村人")
    response = client.patch(
        f"{URL}/{elsewhere.id}", json={"version": 1, "head_name": "改名"}, headers=station_a1
    )
    assert response.status_code == 404
    assert "外村人" not in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Household, elsewhere.id).head_name == "外村人"


def test_patch_by_official_or_anonymous_is_refused(client, regions, make_household, official_a):
    household = make_household(regions.village_a1)
    url = f"{URL}/{household.id}"
    assert client.patch(url, json={"version": 1, "members_count": 2}).status_code == 401
    assert (
        client.patch(url, json={"version": 1, "members_count": 2}, headers=official_a).status_code
        == 403
    )


# --- delete ----------------------------------------------------------------------------------


def test_admin_deletes_a_household_with_its_history_and_account(
    client, session, regions, make_household, admin
):
    household = make_household(regions.village_a1)
    body = {
        "bank_name": "吉林农村信用社",
        "card_number": "6228480000000000011",
        "holder_name": household.head_name,
        "holder_id_number": household.plain_id_number,
    }
    assert (
        client.put(f"{URL}/{household.id}/payout-account", json=body, headers=admin).status_code
        == 200
    )
    response = client.delete(f"{URL}/{household.id}", headers=admin)
    assert response.status_code == 204
    assert household_count(session) == 0
    for model in (HouseholdStatusChange, PayoutAccount):
        assert session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0
    assert client.get(f"{URL}/{household.id}", headers=admin).status_code == 404


def test_delete_is_for_admins_only(
    client, session, regions, make_household, station_a1, official_a
):
    household = make_household(regions.village_a1)
    assert client.delete(f"{URL}/{household.id}").status_code == 401
    assert client.delete(f"{URL}/{household.id}", headers=station_a1).status_code == 403
    assert client.delete(f"{URL}/{household.id}", headers=official_a).status_code == 403
    assert household_count(session) == 1


def test_delete_unknown_is_404(client, admin):
    assert client.delete(f"{URL}/999999", headers=admin).status_code == 404


def test_delete_refuses_a_household_that_sells(
    client, session, regions, make_household, make_station, make_producer, admin
):
    household = make_household(regions.village_a1)
    station = make_station(regions.village_a1)
    make_producer(station, kind=ProducerKind.household, household_id=household.id)
    response = client.delete(f"{URL}/{household.id}", headers=admin)
    assert response.status_code == 409
    assert household_count(session) == 1


def test_delete_refuses_a_cooperative_member(
    client, session, regions, make_household, make_station, make_producer, admin
):
    household = make_household(regions.village_a1)
    cooperative = make_producer(make_station(regions.village_a1))
    session.add(
        CooperativeMembership(
            cooperative_id=cooperative.id,
            household_id=household.id,
            shares=10,
            joined_on=household.created_at.date(),
        )
    )
    session.flush()
    response = client.delete(f"{URL}/{household.id}", headers=admin)
    assert response.status_code == 409
    session.expire_all()
    assert household_count(session) == 1
    history = sa.select(sa.func.count()).select_from(HouseholdStatusChange)
    assert session.execute(history).scalar_one() == 1
