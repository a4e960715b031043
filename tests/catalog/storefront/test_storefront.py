"""The public storefront list: filters, Chinese search, sorting, pagination, statement counts."""

import io
import json
from datetime import timedelta

import pytest

from marketplace.catalog.models import ProductStatus
from marketplace.db import utcnow


@pytest.fixture
def shop(world, listed, category, today, make_producer):
    now = utcnow()
    hazelnut_farm = make_producer(
        world.station_a, name="榛子合作社", region_id=world.tree.village_a2.id
    )
    valid = {
        "certificate_number": "FP-1",
        "certificate_level": "provincial",
        "certificate_valid_from": today - timedelta(days=10),
        "certificate_valid_to": today + timedelta(days=10),
    }

    class Shop:
        blueberry = listed(
            world.station_a,
            world.producer_a,
            name="野生蓝莓 500g",
            skus=[
                {"spec": "500g 礼盒", "price_fen": 6800, "stock": 20, "weight_grams": 600},
                {"spec": "1kg 礼盒", "price_fen": 12800, "stock": 5},
                {"spec": "停售款", "price_fen": 100, "stock": 5, "is_active": False},
            ],
            published_at=now - timedelta(days=3),
            **valid,
        )
        hazelnut = listed(
            world.station_a,
            hazelnut_farm,
            name="榛子",
            subtitle="Organic HONEY roasted",
            category=category("mountain_produce"),
            skus=[{"spec": "1斤", "price_fen": 3000, "stock": 50}],
            published_at=now - timedelta(days=2),
        )
        ginseng = listed(
            world.station_b,
            world.producer_b,
            name="林下参",
            category=category("medicinal_herbs"),
            skus=[{"spec": "5支", "price_fen": 58000, "stock": 2}],
            published_at=now - timedelta(days=1),
            certificate_number="FP-OLD",
            certificate_level="county",
            certificate_valid_from=today - timedelta(days=400),
            certificate_valid_to=today - timedelta(days=1),
        )
        fungus = listed(
            world.station_c,
            world.producer_c,
            name="黑木耳",
            category=category("farm_produce"),
            skus=[{"spec": "250g", "price_fen": 1500, "stock": 9}],
            published_at=now,
            certificate_number="FP-OPEN",
            certificate_level="national",
            certificate_valid_from=today,
            certificate_valid_to=None,
        )
        draft = listed(world.station_a, world.producer_a, name="蓝莓干", status=ProductStatus.draft)
        delisted = listed(
            world.station_a, world.producer_a, name="蓝莓酱", status=ProductStatus.delisted
        )

    return Shop


def names(client, query="", headers=None):
    response = client.get(f"/api/v1/products{query}", headers=headers or {})
    assert response.status_code == 200, response.json
    return [p["name"] for p in response.json]


def test_lists_active_products_newest_first(client, shop):
    assert names(client) == ["黑木耳", "林下参", "榛子", "野生蓝莓 500g"]


def test_card_shape(client, world, shop, today):
    response = client.get(f"/api/v1/products?producer_id={world.producer_a.id}&sort=price_desc")
    card = response.json[0]
    assert card == {
        "id": shop.blueberry.id,
        "name": "野生蓝莓 500g",
        "subtitle": None,
        "unit": "盒",
        "min_price_fen": 6800,
        "currency": "CNY",
        "published_at": card["published_at"],
        "category": {"code": "fruit", "name": "水果"},
        "producer": {
            "id": world.producer_a.id,
            "name": "青松蓝莓种植专业合作社",
            "kind": "cooperative",
        },
        "origin_village": {"id": world.tree.village_a1.id, "name": "蓝莓村"},
        "station": {"id": world.station_a.id, "name": "蓝莓村电商服务站"},
        "certificate": {
            "number": "FP-1",
            "level": "provincial",
            "valid_from": (today - timedelta(days=10)).isoformat(),
            "valid_to": (today + timedelta(days=10)).isoformat(),
            "valid_today": True,
        },
        "image_url": None,
        "skus": [
            {
                "id": card["skus"][0]["id"],
                "code": f"P{shop.blueberry.id}-0",
                "spec": "500g 礼盒",
                "price_fen": 6800,
                "currency": "CNY",
                "stock": 20,
                "weight_grams": 600,
            },
            {
                "id": card["skus"][1]["id"],
                "code": f"P{shop.blueberry.id}-1",
                "spec": "1kg 礼盒",
                "price_fen": 12800,
                "currency": "CNY",
                "stock": 5,
                "weight_grams": None,
            },
        ],
    }
    assert card["published_at"].startswith(str(shop.blueberry.published_at.year))
    assert response.headers["Content-Type"].startswith("application/json")


def test_card_shows_the_first_image(client, world, shop, images):
    first = images.png(2, 2)
    for data in (first, images.png(5, 5)):
        client.post(
            f"/api/v1/products/{shop.hazelnut.id}/images",
            data={"file": (io.BytesIO(data), "p.png")},
            headers=world.a,
            content_type="multipart/form-data",
        )
    card = client.get("/api/v1/products?q=榛子").json[0]
    assert card["image_url"].startswith("/api/v1/media/")
    with client.get(card["image_url"]) as served:
        assert served.data == first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?category=medicinal_herbs", ["林下参"]),
        ("?category=unknown_code", []),
        ("?certified=true", ["黑木耳", "野生蓝莓 500g"]),
        ("?certified=false", ["黑木耳", "林下参", "榛子", "野生蓝莓 500g"]),
        ("?min_price_fen=3000&max_price_fen=6800", ["榛子", "野生蓝莓 500g"]),
        ("?min_price_fen=50000", ["林下参"]),
        ("?max_price_fen=1500", ["黑木耳"]),
        ("?q=蓝莓", ["野生蓝莓 500g"]),
        ("?q=%E8%93%9D%E8%8E%93", ["野生蓝莓 500g"]),  # 蓝莓, percent-encoded
        ("?q=organic honey", ["榛子"]),
        ("?q=ORGANIC", ["榛子"]),
        ("?q=人参村", ["林下参"]),  # the village name is searchable
        ("?q=山货", ["榛子"]),  # and the category's
        ("?q=%25", []),  # a literal %, not a wildcard
        ("?q=_", []),
        ("?q=/", []),  # the escape character itself
    ],
)
def test_filters(client, shop, query, expected):
    assert names(client, query) == expected


def test_place_filters(client, world, shop):
    tree = world.tree
    assert names(client, f"?village_id={tree.village_a2.id}") == ["榛子"]
    assert names(client, f"?region={tree.township_a.id}") == ["榛子", "野生蓝莓 500g"]
    assert names(client, f"?region={tree.county.id}") == ["林下参", "榛子", "野生蓝莓 500g"]
    assert names(client, f"?region={tree.other_county.id}") == ["黑木耳"]
    assert names(client, f"?region={tree.village_b1.id}") == ["林下参"]
    assert names(client, "?region=999999") == []
    assert names(client, f"?station_id={world.station_b.id}") == ["林下参"]
    assert names(client, f"?producer_id={world.producer_c.id}") == ["黑木耳"]
    combined = f"?region={tree.county.id}&category=fruit&certified=true&q=蓝莓"
    assert names(client, combined) == ["野生蓝莓 500g"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["黑木耳", "林下参", "榛子", "野生蓝莓 500g"]),
        ("price_asc", ["黑木耳", "榛子", "野生蓝莓 500g", "林下参"]),
        ("price_desc", ["林下参", "野生蓝莓 500g", "榛子", "黑木耳"]),
        ("name", sorted(["黑木耳", "林下参", "榛子", "野生蓝莓 500g"])),
    ],
)
def test_sorts(client, shop, sort, expected):
    assert names(client, f"?sort={sort}") == expected


def test_pagination(client, shop):
    response = client.get("/api/v1/products?page=2&page_size=3")
    assert [p["name"] for p in response.json] == ["野生蓝莓 500g"]
    assert response.headers["X-Total-Count"] == "4"
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination == {
        "total": 4,
        "total_is_lower_bound": False,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
        "next_cursor": None,
    }
    beyond = client.get("/api/v1/products?page=9&page_size=3")
    assert beyond.json == []
    assert beyond.headers["X-Total-Count"] == "4"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?sort=cheapest", "sort"),
        ("?page_size=101", "page_size"),
        ("?page=0", "page"),
        ("?min_price_fen=500&max_price_fen=100", "max_price_fen"),
        ("?min_price_fen=12.5", "min_price_fen"),
        ("?village_id=abc", "village_id"),
        ("?certified=maybe", "certified"),
        ("?q=" + "蓝" * 51, "q"),
    ],
)
def test_bad_query_is_422_naming_the_field(client, shop, query, field):
    response = client.get(f"/api/v1/products{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert set(response.json["errors"]) == {field}


def test_a_bad_token_is_401_not_an_anonymous_list(client, shop):
    response = client.get("/api/v1/products", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_logged_in_buyers_see_the_same_list(client, world, shop):
    assert names(client, headers=world.buyer_h) == names(client)


@pytest.mark.parametrize("anonymous", [True, False])
def test_statement_count_does_not_depend_on_page_size(
    client, world, listed, count_queries, anonymous
):
    for i in range(8):
        listed(
            world.station_a,
            world.producer_a,
            skus=[{"spec": f"{n}", "price_fen": 100 + n, "stock": n} for n in range(1 + i % 3)],
        )
    headers = {} if anonymous else world.buyer_h
    counts = []
    for size in (2, 50):
        with count_queries() as counted:
            response = client.get(f"/api/v1/products?page_size={size}", headers=headers)
        assert len(response.json) == min(size, 8)
        counts.append(counted.count)
    assert counts[0] == counts[1]
    # A missed cache: lookup, page with its total, SKUs, store. With a token: who, page, SKUs.
    assert counts[0] == (4 if anonymous else 3)


def test_a_product_published_through_the_api_is_found_by_search(client, world):
    created = client.post(
        "/api/v1/products",
        json={
            "producer_id": world.producer_a.id,
            "category": "fruit",
            "name": "冻干蓝莓",
            "subtitle": "Freeze-dried BLUEBERRY",
            "unit": "袋",
            "skus": [{"code": "DG-100", "spec": "100g", "price_fen": 2990, "stock": 30}],
        },
        headers=world.a,
    ).json
    assert names(client, "?q=blueberry") == []  # a draft is not for sale
    client.post(f"/api/v1/products/{created['id']}/publish", headers=world.a)
    assert names(client, "?q=blueberry") == ["冻干蓝莓"]
    assert names(client, "?q=冻干") == ["冻干蓝莓"]
    assert names(client, "?q=合作社") == ["冻干蓝莓"]  # the producer's name
