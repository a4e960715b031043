"""Buying units: scoped reads, pairings with villages, yearly quotas in fen, their users."""

from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.producers.models import BuyingUnit, UnitPurchaseQuota, UnitVillagePairing

URL = "/api/v1/units"


def _unit_row(session, unit_id):
    return session.execute(
        sa.select(
            BuyingUnit.name, BuyingUnit.kind, BuyingUnit.contact_name, BuyingUnit.version
        ).where(BuyingUnit.id == unit_id)
    ).one()


def _pairings(session, unit):
    return session.execute(
        sa.select(UnitVillagePairing.village_id, UnitVillagePairing.since)
        .where(UnitVillagePairing.unit_id == unit.id)
        .order_by(UnitVillagePairing.id)
    ).all()


def _quotas(session, unit):
    return session.execute(
        sa.select(UnitPurchaseQuota.year, UnitPurchaseQuota.quota_fen)
        .where(UnitPurchaseQuota.unit_id == unit.id)
        .order_by(UnitPurchaseQuota.year)
    ).all()


def _names(response):
    assert response.status_code == 200, response.json
    return {u["name"] for u in response.json}


# --- units -----------------------------------------------------------------------------------


def test_each_role_lists_the_units_of_its_scope(client, session, cast, make_unit):
    paired = make_unit(name="省城国企", region_id=cast.regions.other_county.id)
    session.add(
        UnitVillagePairing(
            unit_id=paired.id, village_id=cast.regions.village_a2.id, since=date(2023, 1, 1)
        )
    )
    make_unit(name="无归属社会组织")
    assert _names(client.get(URL, headers=cast.h.admin)) == {
        "县财政局",
        "远山国企",
        "省城国企",
        "无归属社会组织",
    }
    # seated in the county, or paired with one of its villages
    assert _names(client.get(URL, headers=cast.h.official_county)) == {"县财政局", "省城国企"}
    assert _names(client.get(URL, headers=cast.h.official_a)) == {"省城国企"}
    assert _names(client.get(URL, headers=cast.h.official_far)) == {"远山国企", "省城国企"}
    assert _names(client.get(URL, headers=cast.h.unit)) == {"县财政局"}


def test_list_filters(client, cast, make_unit):
    make_unit(name="白山镇供销社", kind="other", region_id=cast.regions.township_a.id)
    admin = cast.h.admin
    assert _names(client.get(f"{URL}?kind=other", headers=admin)) == {"白山镇供销社"}
    assert _names(client.get(f"{URL}?within={cast.regions.county.id}", headers=admin)) == {
        "县财政局",
        "白山镇供销社",
    }
    assert _names(client.get(f"{URL}?q=国企", headers=admin)) == {"远山国企"}
    bad = client.get(f"{URL}?kind=ngo&within=x", headers=admin)
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"kind", "within"}


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("buyer", 403), ("station_a", 403)])
def test_list_needs_an_admin_official_or_unit_login(client, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    assert client.get(URL, headers=headers).status_code == status


def test_list_statement_count_does_not_grow_with_rows(client, cast, make_unit, count_queries):
    with count_queries() as few:
        assert len(client.get(URL, headers=cast.h.admin).json) == 2
    for _ in range(4):
        make_unit()
    with count_queries() as many:
        assert len(client.get(URL, headers=cast.h.admin).json) == 6
    assert many.count == few.count == 3  # the actor, the count, the page


def test_admin_registers_a_unit(client, session, cast, credit_code):
    code = credit_code()
    response = client.post(
        URL,
        json={
            "name": "市委组织部",
            "kind": "government",
            "credit_code": code,
            "contact_name": "周科长",
            "contact_phone": "0431-88886666",
            "region_id": cast.regions.county.id,
        },
        headers=cast.h.admin,
    )
    assert response.status_code == 201, response.json
    assert (response.json["credit_code"], response.json["version"]) == (code, 1)
    assert session.get(BuyingUnit, response.json["id"]).contact_name == "周科长"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "县财政局"}, "name"),
        ({"name": ""}, "name"),
        ({"kind": "ngo"}, "kind"),
        ({"credit_code": "91350100M000100Y44"}, "credit_code"),
        ({"credit_code": "short"}, "credit_code"),
        ({"region_id": 999999}, "region_id"),
        ({"contact_phone": "ring ring"}, "contact_phone"),
    ],
)
def test_bad_unit_input_is_422_naming_the_field_and_writes_nothing(
    client, session, cast, change, field
):
    body = {"name": "新单位", "kind": "enterprise"} | change
    before = session.scalar(sa.select(sa.func.count()).select_from(BuyingUnit))
    response = client.post(URL, json=body, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert session.scalar(sa.select(sa.func.count()).select_from(BuyingUnit)) == before


def test_a_duplicate_credit_code_is_422(client, session, cast, make_unit, credit_code):
    code = credit_code()
    make_unit(credit_code=code)
    response = client.post(
        URL, json={"name": "又一个", "kind": "other", "credit_code": code}, headers=cast.h.admin
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"credit_code"}


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("official_county", 403), ("unit", 403), ("station_a", 403)]
)
def test_only_admins_register_units(client, session, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    body = {"name": "不该出现的单位", "kind": "other"}
    assert client.post(URL, json=body, headers=headers).status_code == status
    assert (
        session.execute(sa.select(BuyingUnit).where(BuyingUnit.name == body["name"])).first()
        is None
    )


def test_unit_detail_in_and_out_of_scope(client, cast, hidden):
    own = client.get(f"{URL}/{cast.unit.id}", headers=cast.h.unit)
    assert own.status_code == 200
    assert own.json["name"] == "县财政局"
    assert client.get(f"{URL}/{cast.unit.id}", headers=cast.h.official_county).status_code == 200
    hidden(client.get(f"{URL}/{cast.unit.id}", headers=cast.h.other_unit), "县财政局")
    hidden(client.get(f"{URL}/{cast.unit.id}", headers=cast.h.official_far), "县财政局")
    assert client.get(f"{URL}/{cast.unit.id}").status_code == 401


def test_admin_changes_a_unit_and_a_stale_version_is_409(client, session, cast):
    url = f"{URL}/{cast.unit.id}"
    changed = client.patch(url, json={"version": 1, "kind": "enterprise"}, headers=cast.h.admin)
    assert changed.status_code == 200, changed.json
    assert (changed.json["kind"], changed.json["version"]) == ("enterprise", 2)
    stale = client.patch(url, json={"version": 1, "name": "迟到"}, headers=cast.h.admin)
    assert stale.status_code == 409
    assert _unit_row(session, cast.unit.id) == ("县财政局", "enterprise", None, 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "没有版本"}, "version"),
        ({"version": 1, "name": "远山国企"}, "name"),
        ({"version": 1, "credit_code": "91350100M000100Y44"}, "credit_code"),
        ({"version": 1, "region_id": 999999}, "region_id"),
    ],
)
def test_bad_unit_change_is_422_and_changes_nothing(client, session, cast, body, field):
    response = client.patch(f"{URL}/{cast.unit.id}", json=body, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert _unit_row(session, cast.unit.id) == ("县财政局", "government", None, 1)


def test_a_units_user_changes_its_contact_details_only(client, session, cast, hidden):
    url = f"{URL}/{cast.unit.id}"
    contact = client.patch(url, json={"version": 1, "contact_name": "吴主任"}, headers=cast.h.unit)
    assert contact.status_code == 200, contact.json
    renamed = client.patch(url, json={"version": 2, "name": "改名"}, headers=cast.h.unit)
    assert renamed.status_code == 403
    assert set(renamed.json["errors"]) == {"name"}
    hidden(
        client.patch(url, json={"version": 2, "contact_name": "x"}, headers=cast.h.other_unit),
        "县财政局",
    )
    assert _unit_row(session, cast.unit.id) == ("县财政局", "government", "吴主任", 2)


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("official_county", 403), ("buyer", 403)])
def test_officials_and_buyers_cannot_change_units(client, session, cast, who, status):
    headers = getattr(cast.h, who) if who else {}
    response = client.patch(
        f"{URL}/{cast.unit.id}", json={"version": 1, "contact_name": "x"}, headers=headers
    )
    assert response.status_code == status
    assert _unit_row(session, cast.unit.id).contact_name is None


def test_the_users_of_a_unit(client, cast, make_user, hidden):
    make_user(Role.unit, unit_id=cast.unit.id, display_name="采购员小吴")
    url = f"{URL}/{cast.unit.id}/users"
    for who in ("admin", "unit", "official_county"):
        response = client.get(url, headers=getattr(cast.h, who))
        assert response.status_code == 200
        assert {u["unit_id"] for u in response.json} == {cast.unit.id}
        assert "采购员小吴" in {u["display_name"] for u in response.json}
    hidden(client.get(url, headers=cast.h.other_unit), "采购员小吴")
    assert client.get(url).status_code == 401
    assert client.get(url, headers=cast.h.station_a).status_code == 403


# --- pairings --------------------------------------------------------------------------------


def test_admin_pairs_a_unit_with_villages_and_ends_a_pairing(client, session, cast):
    url = f"{URL}/{cast.unit.id}/pairings"
    created = client.post(
        url,
        json={"village_id": cast.regions.village_b2.id, "since": "2021-05-01"},
        headers=cast.h.admin,
    )
    assert created.status_code == 201, created.json
    assert created.json["village"]["name"] == "木耳村"
    listed = client.get(url, headers=cast.h.unit)
    assert [(p["village_id"], p["since"]) for p in listed.json] == [
        (cast.regions.village_b2.id, "2021-05-01")
    ]
    deleted = client.delete(f"{url}/{created.json['id']}", headers=cast.h.admin)
    assert deleted.status_code == 204
    assert _pairings(session, cast.unit) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"village_id": "township"}, "village_id"),
        ({"village_id": "paired"}, "village_id"),
        ({"village_id": 999999}, "village_id"),
        ({"since": None}, "since"),
        ({"since": "2021-13-01"}, "since"),
    ],
)
def test_bad_pairing_is_422_naming_the_field_and_writes_nothing(client, session, cast, body, field):
    url = f"{URL}/{cast.unit.id}/pairings"
    paired = {"village_id": cast.regions.village_a1.id, "since": "2020-01-01"}
    assert client.post(url, json=paired, headers=cast.h.admin).status_code == 201
    before = _pairings(session, cast.unit)
    replacements = {"township": cast.regions.township_a.id, "paired": cast.regions.village_a1.id}
    full = {"village_id": cast.regions.village_a2.id, "since": "2022-01-01"}
    full.update({k: replacements.get(v, v) for k, v in body.items()})
    full = {k: v for k, v in full.items() if v is not None}
    response = client.post(url, json=full, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert _pairings(session, cast.unit) == before


def test_pairings_are_scoped_through_their_unit(client, session, cast, hidden):
    url = f"{URL}/{cast.unit.id}/pairings"
    created = client.post(
        url,
        json={"village_id": cast.regions.village_a1.id, "since": "2020-01-01"},
        headers=cast.h.admin,
    )
    pairing_id = created.json["id"]
    hidden(client.get(url, headers=cast.h.other_unit), "蓝莓村")
    # a pairing reached through another unit does not exist
    hidden(client.delete(f"{URL}/{cast.other_unit.id}/pairings/{pairing_id}", headers=cast.h.admin))
    for who, status in (("official_county", 403), ("unit", 403), ("buyer", 403)):
        headers = getattr(cast.h, who)
        assert client.delete(f"{url}/{pairing_id}", headers=headers).status_code == status
        more = {"village_id": cast.regions.village_a2.id, "since": "2020-01-01"}
        assert client.post(url, json=more, headers=headers).status_code == status
    assert client.delete(f"{url}/{pairing_id}").status_code == 401
    assert _pairings(session, cast.unit) == [(cast.regions.village_a1.id, date(2020, 1, 1))]


def test_pairing_list_statement_count_does_not_grow_with_rows(client, session, cast, count_queries):
    def pair(village):
        session.add(
            UnitVillagePairing(unit_id=cast.unit.id, village_id=village.id, since=date(2020, 1, 1))
        )

    url = f"{URL}/{cast.unit.id}/pairings"
    pair(cast.regions.village_a1)
    session.flush()
    with count_queries() as few:
        assert len(client.get(url, headers=cast.h.admin).json) == 1
    for village in (cast.regions.village_a2, cast.regions.village_b1, cast.regions.village_b2):
        pair(village)
    session.flush()
    with count_queries() as many:
        assert len(client.get(url, headers=cast.h.admin).json) == 4
    # the actor, the unit, the count, the page, the villages
    assert many.count == few.count == 5


# --- quotas ----------------------------------------------------------------------------------


def test_admin_sets_and_replaces_yearly_quotas(client, session, cast):
    url = f"{URL}/{cast.unit.id}/quotas"
    first = client.put(f"{url}/2024", json={"quota_fen": 50_000_000}, headers=cast.h.admin)
    assert first.status_code == 200, first.json
    assert first.json == {
        "unit_id": cast.unit.id,
        "year": 2024,
        "quota_fen": 50_000_000,
        "currency": "CNY",
    }
    client.put(f"{url}/2023", json={"quota_fen": 0}, headers=cast.h.admin)
    client.put(f"{url}/2024", json={"quota_fen": 80_000_000}, headers=cast.h.admin)
    listed = client.get(url, headers=cast.h.unit)
    assert [(q["year"], q["quota_fen"]) for q in listed.json] == [(2023, 0), (2024, 80_000_000)]
    assert _quotas(session, cast.unit) == [(2023, 0), (2024, 80_000_000)]


@pytest.mark.parametrize(
    ("year", "body", "field"),
    [
        (1999, {"quota_fen": 1}, "year"),
        (2101, {"quota_fen": 1}, "year"),
        (2024, {"quota_fen": -1}, "quota_fen"),
        (2024, {"quota_fen": 100.5}, "quota_fen"),
        (2024, {"quota_fen": 100.0}, "quota_fen"),
        (2024, {"quota_fen": "100"}, "quota_fen"),
        (2024, {"quota_fen": 10**19}, "quota_fen"),
        (2024, {}, "quota_fen"),
        (2024, {"quota_fen": 1, "currency": "USD"}, "currency"),
    ],
)
def test_bad_quota_is_422_naming_the_field_and_writes_nothing(
    client, session, cast, year, body, field
):
    url = f"{URL}/{cast.unit.id}/quotas"
    client.put(f"{url}/2024", json={"quota_fen": 7}, headers=cast.h.admin)
    response = client.put(f"{url}/{year}", json=body, headers=cast.h.admin)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert _quotas(session, cast.unit) == [(2024, 7)]


def test_quotas_are_scoped_and_only_admins_set_them(client, session, cast, hidden):
    url = f"{URL}/{cast.unit.id}/quotas"
    client.put(f"{url}/2024", json={"quota_fen": 12_345}, headers=cast.h.admin)
    hidden(client.get(url, headers=cast.h.other_unit), "12345")
    hidden(client.get(url, headers=cast.h.official_far), "12345")
    assert client.get(url, headers=cast.h.official_county).status_code == 200
    for who, status in (("official_county", 403), ("unit", 403), ("buyer", 403)):
        response = client.put(f"{url}/2024", json={"quota_fen": 1}, headers=getattr(cast.h, who))
        assert response.status_code == status
    assert client.put(f"{url}/2024", json={"quota_fen": 1}).status_code == 401
    assert client.get(url).status_code == 401
    assert _quotas(session, cast.unit) == [(2024, 12_345)]


def test_quota_list_statement_count_does_not_grow_with_rows(client, session, cast, count_queries):
    url = f"{URL}/{cast.unit.id}/quotas"
    session.add(UnitPurchaseQuota(unit_id=cast.unit.id, year=2020, quota_fen=1))
    session.flush()
    with count_queries() as few:
        assert len(client.get(url, headers=cast.h.admin).json) == 1
    for year in (2021, 2022, 2023):
        session.add(UnitPurchaseQuota(unit_id=cast.unit.id, year=year, quota_fen=year))
    session.flush()
    with count_queries() as many:
        assert len(client.get(url, headers=cast.h.admin).json) == 4
    assert many.count == few.count == 4  # the actor, the unit, the count, the page
