"""The region tree: public reads, admin-only writes, subtree queries by path."""

import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.regions.models import Region


def test_list_is_public_and_in_tree_order(client, regions):
    response = client.get("/api/v1/regions?page_size=100")
    assert response.status_code == 200
    names = [r["name"] for r in response.json]
    assert names.index("青松县") < names.index("白山镇") < names.index("蓝莓村")


def test_within_returns_the_whole_subtree_and_nothing_else(client, regions):
    response = client.get(f"/api/v1/regions?within={regions.township_a.id}")
    assert {r["name"] for r in response.json} == {"白山镇", "蓝莓村", "榛子村"}
    villages = client.get(f"/api/v1/regions?within={regions.county.id}&level=village")
    assert {r["name"] for r in villages.json} == {"蓝莓村", "榛子村", "人参村", "木耳村"}


def test_subtree_query_is_one_statement_whatever_the_depth(client, regions, count_queries):
    with count_queries() as county:
        client.get(f"/api/v1/regions?within={regions.county.id}&level=village")
    with count_queries() as township:
        client.get(f"/api/v1/regions?within={regions.township_a.id}")
    # at most the root lookup, the count and the page; never one per level or per row
    assert county.count == township.count <= 3


def test_filters_are_validated(client):
    response = client.get("/api/v1/regions?level=province&within=abc")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"level", "within"}


def test_within_an_unknown_region_matches_nothing(client, regions):
    """As a filter on any other unknown id does: an empty page, not an error (the same on
    every list that takes ``within``: tests/test_filters.py)."""
    response = client.get("/api/v1/regions?within=999999")
    assert response.status_code == 200
    assert response.json == []


def test_admin_builds_the_tree_with_paths_and_levels(client, session, make_user, auth):
    headers = auth(make_user(Role.admin))
    county = client.post(
        "/api/v1/regions", json={"code": "220599000000", "name": "新县"}, headers=headers
    )
    assert county.status_code == 201
    assert county.json["level"] == "county"
    town = client.post(
        "/api/v1/regions",
        json={"code": "220599001000", "name": "新镇", "parent_id": county.json["id"]},
        headers=headers,
    )
    assert town.json["level"] == "township"
    village = client.post(
        "/api/v1/regions",
        json={"code": "220599001001", "name": "新村", "parent_id": town.json["id"]},
        headers=headers,
    )
    assert village.status_code == 201
    assert village.json["level"] == "village"
    assert village.json["path"] == f"/{county.json['id']}/{town.json['id']}/{village.json['id']}/"
    below = client.post(
        "/api/v1/regions",
        json={"code": "220599001002", "name": "再下", "parent_id": village.json["id"]},
        headers=headers,
    )
    assert below.status_code == 422
    assert "parent_id" in below.json["errors"]


def test_code_must_fit_the_parent_and_be_unique(client, session, regions, make_user, auth):
    headers = auth(make_user(Role.admin))
    before = session.execute(sa.select(sa.func.count()).select_from(Region)).scalar_one()
    outside = client.post(
        "/api/v1/regions",
        json={"code": "999999001000", "name": "错镇", "parent_id": regions.county.id},
        headers=headers,
    )
    assert outside.status_code == 422 and "code" in outside.json["errors"]
    duplicate = client.post(
        "/api/v1/regions", json={"code": regions.county.code, "name": "重复县"}, headers=headers
    )
    assert duplicate.status_code == 422 and "code" in duplicate.json["errors"]
    malformed = client.post("/api/v1/regions", json={"code": "12ab", "name": ""}, headers=headers)
    assert malformed.status_code == 422
    assert set(malformed.json["errors"]) == {"code", "name"}
    after = session.execute(sa.select(sa.func.count()).select_from(Region)).scalar_one()
    assert before == after


def test_only_admins_change_regions(client, regions, make_user, auth):
    body = {"code": "220599000000", "name": "新县"}
    assert client.post("/api/v1/regions", json=body).status_code == 401
    official = make_user(Role.official, region_id=regions.county.id)
    assert client.post("/api/v1/regions", json=body, headers=auth(official)).status_code == 403


def test_get_one(client, regions):
    response = client.get(f"/api/v1/regions/{regions.village_b1.id}")
    assert response.json["name"] == "人参村"
    assert response.json["parent_id"] == regions.township_b.id
