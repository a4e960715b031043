"""Product management: create, read, change (optimistic concurrency), publish and delist."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductStatus, Sku

PROBLEM = "application/problem+json"


def body(world, **over):
    data = {
        "producer_id": world.producer_a.id,
        "category": "fruit",
        "name": "野生蓝莓 500g",
        "subtitle": "长白山 Wild Blueberry",
        "unit": "盒",
        "skus": [
            {"code": "LM-500", "spec": "500g 礼盒", "price_fen": 6800, "stock": 20},
            {"code": "LM-1000", "spec": "1kg 礼盒", "price_fen": 12800, "stock": 5},
        ],
    }
    data.update(over)
    return data


def product_count(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Product)).scalar_one()


def test_categories_are_public_reference_data(client):
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    codes = {c["code"]: c["name"] for c in response.json}
    assert codes["medicinal_herbs"] == "中药材"
    assert codes["mountain_produce"] == "山货"
    assert len(codes) == 9


def test_station_creates_a_draft_with_skus(client, world, valid_certificate):
    response = client.post(
        "/api/v1/products", json=body(world, certificate=valid_certificate), headers=world.a
    )
    assert response.status_code == 201, response.json
    product = response.json
    assert product["status"] == "draft"
    assert product["station"] == {"id": world.station_a.id, "name": "蓝莓村电商服务站"}
    assert product["producer"]["id"] == world.producer_a.id
    assert product["producer"]["kind"] == "cooperative"
    # The origin defaults to the producer's village.
    assert product["origin_village"] == {"id": world.tree.village_a1.id, "name": "蓝莓村"}
    assert product["category"]["code"] == "fruit"
    assert product["min_price_fen"] == 6800
    assert [s["code"] for s in product["skus"]] == ["LM-500", "LM-1000"]
    assert product["certificate"]["number"] == "FP-2024-0001"
    assert product["certificate"]["level"] == "provincial"
    assert product["version"] == 1
    assert product["images"] == []


def test_search_text_folds_names_of_everything_searchable(client, session, world):
    response = client.post("/api/v1/products", json=body(world), headers=world.a)
    product = session.get(Product, response.json["id"])
    assert "野生蓝莓" in product.search_text
    assert "wild blueberry" in product.search_text  # case-folded
    assert "青松蓝莓种植专业合作社" in product.search_text
    assert "蓝莓村" in product.search_text
    assert "水果" in product.search_text


def test_admin_must_name_the_station(client, session, world):
    before = product_count(session)
    response = client.post("/api/v1/products", json=body(world), headers=world.admin_h)
    assert response.status_code == 422
    assert "station_id" in response.json["errors"]
    response = client.post(
        "/api/v1/products", json=body(world, station_id=world.station_a.id), headers=world.admin_h
    )
    assert response.status_code == 201
    assert product_count(session) == before + 1


def test_station_cannot_list_for_another_station(client, session, world):
    before = product_count(session)
    response = client.post(
        "/api/v1/products", json=body(world, station_id=world.station_b.id), headers=world.a
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"station_id"}
    assert product_count(session) == before


def test_producer_must_be_managed_by_the_station(client, session, world):
    before = product_count(session)
    response = client.post(
        "/api/v1/products", json=body(world, producer_id=world.producer_b.id), headers=world.a
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"producer_id"}
    assert product_count(session) == before


def test_origin_village_is_required_when_the_producer_is_not_in_a_village(client, world):
    data = body(world, producer_id=world.enterprise_a.id, skus=[])
    response = client.post("/api/v1/products", json=data, headers=world.a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"origin_village_id"}
    data["origin_village_id"] = world.tree.township_a.id  # not a village
    assert client.post("/api/v1/products", json=data, headers=world.a).status_code == 422
    data["origin_village_id"] = world.tree.village_a2.id
    response = client.post("/api/v1/products", json=data, headers=world.a)
    assert response.status_code == 201
    assert response.json["origin_village"]["name"] == "榛子村"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"name": ""}, "name"),
        ({"category": "spaceships"}, "category"),
        ({"unit": None}, "unit"),
        ({"skus": [{"code": "X", "spec": "1", "price_fen": 12.5, "stock": 1}]}, "skus.0.price_fen"),
        ({"skus": [{"code": "X", "spec": "1", "price_fen": 0, "stock": 1}]}, "skus.0.price_fen"),
        (
            {"skus": [{"code": "X", "spec": "1", "price_fen": "100", "stock": 1}]},
            "skus.0.price_fen",
        ),
        ({"skus": [{"code": "X", "spec": "1", "price_fen": 100}]}, "skus.0.stock"),
        ({"skus": [{"code": "X", "spec": "1", "price_fen": 100, "stock": -1}]}, "skus.0.stock"),
        (
            {"skus": [{"code": "X", "spec": "1", "price_fen": 1, "stock": 1, "currency": "USD"}]},
            "skus.0.currency",
        ),
        (
            {
                "certificate": {
                    "number": "FP-1",
                    "level": "county",
                    "valid_from": "2024-05-01",
                    "valid_to": "2024-04-01",
                }
            },
            "certificate.valid_to",
        ),
        (
            {"certificate": {"number": "FP-1", "level": "village", "valid_from": "2024-05-01"}},
            "certificate.level",
        ),
        ({"status": "active"}, "status"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, session, world, over, field):
    before = product_count(session)
    response = client.post("/api/v1/products", json=body(world, **over), headers=world.a)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert field in response.json["errors"], response.json
    assert product_count(session) == before


def test_sku_codes_are_unique_per_station(client, session, world):
    assert client.post("/api/v1/products", json=body(world), headers=world.a).status_code == 201
    before = product_count(session)
    response = client.post("/api/v1/products", json=body(world), headers=world.a)
    assert response.status_code == 422
    assert {"skus.0.code", "skus.1.code"} <= set(response.json["errors"])
    twice = body(world, skus=[body(world)["skus"][0] | {"code": "NEW"}] * 2)
    response = client.post("/api/v1/products", json=twice, headers=world.a)
    assert response.status_code == 422
    assert "skus.1.code" in response.json["errors"]
    assert product_count(session) == before
    # Another station may use the same codes.
    other = body(world, producer_id=world.producer_b.id)
    assert client.post("/api/v1/products", json=other, headers=world.b).status_code == 201


def test_writes_need_a_login_and_a_managing_role(client, world):
    assert client.post("/api/v1/products", json=body(world)).status_code == 401
    for headers in (world.official_a_h, world.buyer_h):
        assert client.post("/api/v1/products", json=body(world), headers=headers).status_code == 403


# --- reading one ----------------------------------------------------------------------------


def test_active_product_is_public_with_its_active_skus_only(client, world, listed):
    product = listed(
        world.station_a,
        world.producer_a,
        skus=[
            {"spec": "500g", "price_fen": 6800, "stock": 3},
            {"spec": "旧款", "price_fen": 5000, "stock": 0, "is_active": False},
        ],
    )
    response = client.get(f"/api/v1/products/{product.id}")
    assert response.status_code == 200
    assert [s["spec"] for s in response.json["skus"]] == ["500g"]
    # Its station sees every SKU.
    own = client.get(f"/api/v1/products/{product.id}", headers=world.a)
    assert [s["spec"] for s in own.json["skus"]] == ["500g", "旧款"]
    assert (
        client.get(f"/api/v1/products/{product.id}", headers=world.b).json["skus"]
        == (response.json["skus"])
    )


def test_draft_is_visible_only_to_who_manages_or_oversees_it(client, world, listed):
    draft = listed(world.station_a, world.producer_a, status=ProductStatus.draft)
    url = f"/api/v1/products/{draft.id}"
    for headers in (world.a, world.admin_h, world.official_a_h):
        assert client.get(url, headers=headers).status_code == 200
    for headers in ({}, world.b, world.buyer_h, world.official_far_h):
        response = client.get(url, headers=headers)
        assert response.status_code == 404
        assert draft.name not in response.get_data(as_text=True)


def test_unknown_product_is_404(client):
    assert client.get("/api/v1/products/987654").status_code == 404


def test_get_product_statement_count_does_not_grow_with_skus(client, world, listed, count_queries):
    few = listed(world.station_a, world.producer_a)
    many = listed(
        world.station_a,
        world.producer_a,
        skus=[{"spec": f"{i}", "price_fen": 100 + i, "stock": i} for i in range(12)],
    )
    with count_queries() as one:
        client.get(f"/api/v1/products/{few.id}")
    with count_queries() as other:
        client.get(f"/api/v1/products/{many.id}")
    assert one.count == other.count <= 4


# --- changing -------------------------------------------------------------------------------


def test_patch_changes_fields_and_bumps_the_version(client, session, world):
    created = client.post("/api/v1/products", json=body(world), headers=world.a).json
    response = client.patch(
        f"/api/v1/products/{created['id']}",
        json={"version": 1, "name": "有机蓝莓", "category": "mountain_produce", "subtitle": None},
        headers=world.a,
    )
    assert response.status_code == 200, response.json
    assert response.json["name"] == "有机蓝莓"
    assert response.json["category"]["code"] == "mountain_produce"
    assert response.json["subtitle"] is None
    assert response.json["version"] == 2
    product = session.get(Product, created["id"])
    assert "有机蓝莓" in product.search_text and "山货" in product.search_text


def test_stale_version_is_409_and_leaves_the_row_as_it_was(client, session, world):
    created = client.post("/api/v1/products", json=body(world), headers=world.a).json
    url = f"/api/v1/products/{created['id']}"
    assert (
        client.patch(url, json={"version": 1, "name": "第一次"}, headers=world.a).status_code == 200
    )
    response = client.patch(url, json={"version": 1, "name": "第二次"}, headers=world.a)
    assert response.status_code == 409
    assert response.json["type"].endswith("stale-version")
    session.expire_all()
    product = session.get(Product, created["id"])
    assert (product.name, product.version) == ("第一次", 2)


def test_patch_needs_the_version(client, world):
    created = client.post("/api/v1/products", json=body(world), headers=world.a).json
    response = client.patch(
        f"/api/v1/products/{created['id']}", json={"name": "x"}, headers=world.a
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"version"}


def test_patch_with_a_bad_field_changes_nothing(client, session, world):
    created = client.post("/api/v1/products", json=body(world), headers=world.a).json
    url = f"/api/v1/products/{created['id']}"
    response = client.patch(
        url,
        json={"version": 1, "name": "改名", "producer_id": world.producer_b.id},
        headers=world.a,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"producer_id"}
    session.expire_all()
    product = session.get(Product, created["id"])
    assert (product.name, product.producer_id, product.version) == (
        "野生蓝莓 500g",
        world.producer_a.id,
        1,
    )


def test_another_stations_product_is_404_without_data(client, session, world, listed):
    theirs = listed(world.station_b, world.producer_b, name="林下参")
    url = f"/api/v1/products/{theirs.id}"
    for method, path, payload in (
        ("patch", url, {"version": 1, "name": "偷改"}),
        ("post", url + "/delist", None),
        ("post", url + "/publish", None),
    ):
        response = getattr(client, method)(path, json=payload, headers=world.a)
        assert response.status_code == 404
        assert "林下参" not in response.get_data(as_text=True)
    session.expire_all()
    product = session.get(Product, theirs.id)
    assert (product.name, product.status) == ("林下参", ProductStatus.active)


def test_officials_only_read(client, world, listed):
    product = listed(world.station_a, world.producer_a)
    url = f"/api/v1/products/{product.id}"
    assert client.patch(url, json={"version": 1}, headers=world.official_a_h).status_code == 403
    assert client.patch(url, json={"version": 1}).status_code == 401


# --- publishing -----------------------------------------------------------------------------


def test_publish_and_delist_move_through_the_states(client, session, world):
    created = client.post("/api/v1/products", json=body(world), headers=world.a).json
    url = f"/api/v1/products/{created['id']}"
    published = client.post(url + "/publish", headers=world.a)
    assert published.status_code == 200
    assert published.json["status"] == "active"
    first_published_at = published.json["published_at"]
    assert first_published_at is not None
    assert client.post(url + "/publish", headers=world.a).status_code == 409
    delisted = client.post(url + "/delist", headers=world.a)
    assert delisted.json["status"] == "delisted"
    assert client.post(url + "/delist", headers=world.a).status_code == 409
    relisted = client.post(url + "/publish", headers=world.a)
    assert relisted.json["status"] == "active"
    assert relisted.json["published_at"] == first_published_at


def test_publish_needs_an_active_sku(client, session, world):
    created = client.post("/api/v1/products", json=body(world, skus=[]), headers=world.a).json
    response = client.post(f"/api/v1/products/{created['id']}/publish", headers=world.a)
    assert response.status_code == 422
    assert response.json["reasons"] == {"skus": [{"code": "product.no_active_sku", "params": {}}]}
    assert session.get(Product, created["id"]).status is ProductStatus.draft


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "field"),
    [(-400, -1, "certificate.valid_to"), (3, 90, "certificate.valid_from")],
)
def test_publish_needs_a_certificate_valid_today(
    client, session, world, today, valid_from, valid_to, field
):
    certificate = {
        "number": "FP-OLD",
        "level": "county",
        "valid_from": (today + timedelta(days=valid_from)).isoformat(),
        "valid_to": (today + timedelta(days=valid_to)).isoformat(),
    }
    created = client.post(
        "/api/v1/products", json=body(world, certificate=certificate), headers=world.a
    ).json
    response = client.post(f"/api/v1/products/{created['id']}/publish", headers=world.a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    session.expire_all()
    assert session.get(Product, created["id"]).status is ProductStatus.draft


def test_certificate_can_be_removed(client, world, valid_certificate):
    created = client.post(
        "/api/v1/products", json=body(world, certificate=valid_certificate), headers=world.a
    ).json
    response = client.patch(
        f"/api/v1/products/{created['id']}",
        json={"version": 1, "certificate": None},
        headers=world.a,
    )
    assert response.status_code == 200
    assert response.json["certificate"] is None


# --- the management list --------------------------------------------------------------------


def test_management_list_shows_own_products_in_every_state(client, world, listed):
    active = listed(world.station_a, world.producer_a)
    draft = listed(world.station_a, world.producer_a, status=ProductStatus.draft)
    listed(world.station_b, world.producer_b)
    response = client.get("/api/v1/station/products", headers=world.a)
    assert response.status_code == 200
    assert [p["id"] for p in response.json] == [draft.id, active.id]
    assert "X-Pagination" in response.headers
    only_drafts = client.get("/api/v1/station/products?status=draft", headers=world.a)
    assert [p["id"] for p in only_drafts.json] == [draft.id]


def test_management_list_scopes_officials_and_admins(client, world, listed):
    mine = listed(world.station_a, world.producer_a)
    theirs = listed(world.station_b, world.producer_b)
    far = listed(world.station_c, world.producer_c)
    ids = lambda r: {p["id"] for p in r.json}  # noqa: E731
    assert ids(client.get("/api/v1/station/products", headers=world.official_a_h)) == {mine.id}
    assert ids(client.get("/api/v1/station/products", headers=world.official_far_h)) == {far.id}
    admin = client.get(
        f"/api/v1/station/products?station_id={world.station_b.id}", headers=world.admin_h
    )
    assert ids(admin) == {theirs.id}


def test_management_list_needs_a_managing_login(client, world):
    assert client.get("/api/v1/station/products").status_code == 401
    assert client.get("/api/v1/station/products", headers=world.buyer_h).status_code == 403
    response = client.get("/api/v1/station/products?status=sold", headers=world.a)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"status"}


def test_management_list_statement_count_is_constant(client, world, listed, count_queries):
    for _ in range(6):
        listed(world.station_a, world.producer_a)
    counts = []
    for size in (2, 6):
        with count_queries() as counted:
            response = client.get(f"/api/v1/station/products?page_size={size}", headers=world.a)
        assert len(response.json) == size
        counts.append(counted.count)
    assert counts[0] == counts[1]


def test_sku_rows_follow_the_product(session, world, listed):
    product = listed(world.station_a, world.producer_a)
    assert session.execute(
        sa.select(Sku.station_id).where(Sku.product_id == product.id)
    ).scalars().all() == [world.station_a.id]
