"""A storefront page costs what it holds: totals counted up to a bound and then given as a
lower bound, page numbers refused past it, and a keyset cursor that reaches any depth in every
sort, equal page by page to what the offsets give."""

import json
from datetime import timedelta

import pytest

from marketplace.catalog.storefront import listing
from marketplace.db import utcnow
from tests.catalog.storefront.test_storefront import shop  # noqa: F401  (shared fixture)

SORTS = ("newest", "price_asc", "price_desc", "name")


@pytest.fixture
def bound(monkeypatch):
    """``bound(n)``: count exactly up to n matches for this test (statements built anew)."""

    def set_bound(value: int):
        monkeypatch.setattr(listing, "TOTAL_BOUND", value)
        listing._statements.cache_clear()
        listing._relevance_statement.cache_clear()

    yield set_bound
    listing._statements.cache_clear()
    listing._relevance_statement.cache_clear()


@pytest.fixture
def many(world, listed):
    """Seven products whose prices and names tie in pairs, so each sort's tie-break counts."""
    now = utcnow()
    return [
        listed(
            world.station_a,
            world.producer_a,
            name=f"山货 {index // 2}",
            skus=[{"spec": "1斤", "price_fen": 1000 + 100 * (index // 2), "stock": 5}],
            published_at=now - timedelta(hours=index // 2),
        )
        for index in range(7)
    ]


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def walk_by_cursor(client, query: str) -> list[int]:
    seen, cursor = [], None
    for _ in range(20):
        url = f"/api/v1/products?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url)
        assert response.status_code == 200, response.json
        seen += [card["id"] for card in response.json]
        cursor = pagination(response)["next_cursor"]
        assert response.headers["X-Next-Cursor"] == (cursor or "")
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


def walk_by_page(client, query: str) -> list[int]:
    seen = []
    for page in range(1, 20):
        cards = client.get(f"/api/v1/products?{query}&page={page}").json
        if not cards:
            return seen
        seen += [card["id"] for card in cards]
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort", SORTS)
def test_the_cursor_walks_the_same_products_as_the_pages_in_every_sort(client, many, sort):
    query = f"sort={sort}&page_size=2"
    by_cursor = walk_by_cursor(client, query)
    assert by_cursor == walk_by_page(client, query)
    assert sorted(by_cursor) == sorted(product.id for product in many)


def test_the_cursor_keeps_the_filters(client, shop):
    everything = walk_by_cursor(client, "page_size=1")
    fruit = walk_by_cursor(client, "category=fruit&page_size=1")
    assert set(fruit) < set(everything)
    assert fruit == walk_by_page(client, "category=fruit&page_size=1")


def test_past_the_bound_the_total_is_a_lower_bound(client, many, bound):
    bound(5)
    response = client.get("/api/v1/products?page_size=2")
    assert response.headers["X-Total-Count"] == "5+"
    assert pagination(response) | {"next_cursor": None} == {
        "total": 5,
        "total_is_lower_bound": True,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 1,
        "next_page": 2,
        "next_cursor": None,
    }
    # Within the bound, exact: seven products, counted to the last (another page: the first
    # is cached with the count it was built with).
    bound(7)
    response = client.get("/api/v1/products?page_size=3")
    assert response.headers["X-Total-Count"] == "7"
    assert pagination(response)["total_is_lower_bound"] is False


def test_a_page_number_past_the_bound_is_refused_and_the_cursor_goes_on(client, many, bound):
    bound(4)
    refused = client.get("/api/v1/products?page_size=2&page=3")
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["page"]
    assert refused.json["errors"]["page"][0].startswith("pages reach the first 4 products")
    assert len(walk_by_cursor(client, "page_size=2")) == len(many)


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        ("not-a-cursor", "newest"),
        ("WyJuZXdlc3QiLDEsMV0", "newest"),  # ["newest",1,1]: a price where a time belongs
        ("WyJwcmljZV9hc2MiLDEwMCwxXQ", "newest"),  # a price_asc cursor on the newest sort
        ("x" * 500, "newest"),
    ],
)
def test_a_cursor_the_list_did_not_give_is_refused_naming_it(client, many, cursor, sort):
    response = client.get(f"/api/v1/products?sort={sort}&cursor={cursor}")
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["cursor"]


def test_a_cursor_with_a_page_number_is_refused(client, many):
    cursor = pagination(client.get("/api/v1/products?page_size=2"))["next_cursor"]
    response = client.get(f"/api/v1/products?page_size=2&page=2&cursor={cursor}")
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["page"]


def test_a_cached_page_answers_with_the_cursor_it_was_built_with(client, many):
    miss = client.get("/api/v1/products?page_size=3")
    hit = client.get("/api/v1/products?page_size=3")
    assert pagination(miss)["next_cursor"] is not None
    assert pagination(hit) == pagination(miss)
    assert hit.headers["X-Next-Cursor"] == miss.headers["X-Next-Cursor"]
    assert hit.headers["ETag"] == miss.headers["ETag"]
