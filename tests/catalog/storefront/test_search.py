"""Search of the storefront: every Chinese character and every word of the query must be in a
product's text; the product whose name holds the query comes first, then one whose other text
(its village's name) holds it as typed, then one holding its characters apart; a renamed
producer is found by its new name."""

import json
from datetime import timedelta

import pytest

from marketplace.catalog.storefront import search
from marketplace.db import utcnow


@pytest.fixture
def blueberries(world, listed, make_producer, regions):
    """Four products that match 蓝莓 in four ways, published so that newest-first alone would
    list them in the reverse of their relevance."""
    now = utcnow()
    farm = make_producer(world.station_a, name="长白山合作社", region_id=regions.village_a2.id)

    def product(name, hours_ago, **over):
        return listed(
            world.station_a,
            over.pop("producer", world.producer_a),
            name=name,
            published_at=now - timedelta(hours=hours_ago),
            **over,
        )

    return {
        # the characters apart, in the subtitle only
        "apart": product("山货礼盒", 1, subtitle="蓝色浆果 红莓", producer=farm),
        # the query as typed, but in the producer's name (青松蓝莓种植专业合作社), not the name
        "elsewhere": product("冻干果", 2),
        # in the name, older
        "older_name": product("野生蓝莓 500g", 4),
        # in the name, newer
        "newer_name": product("蓝莓果酱", 3),
        "unrelated": product("榛子", 0, producer=farm),
    }


def ids(client, query: str) -> list[int]:
    response = client.get("/api/v1/products?" + query)
    assert response.status_code == 200, response.json
    return [card["id"] for card in response.json]


def test_relevance_orders_name_then_as_typed_then_apart(client, blueberries):
    expected = ["newer_name", "older_name", "elsewhere", "apart"]
    assert ids(client, "q=蓝莓") == [blueberries[name].id for name in expected]
    # Asked for, another sort still applies to the same matches.
    newest = ids(client, "q=蓝莓&sort=newest")
    assert set(newest) == set(ids(client, "q=蓝莓")) and newest[0] == blueberries["apart"].id


def test_every_character_must_be_there(client, blueberries):
    assert ids(client, "q=蓝莓酱") == [blueberries["newer_name"].id]
    assert ids(client, "q=莓蓝") != []  # characters in any order
    assert ids(client, "q=蓝莓 蛋糕") == []


def test_words_are_case_folded_and_found_from_their_start(client, world, listed):
    honey = listed(world.station_a, world.producer_a, name="椴树蜜", subtitle="Organic HONEY")
    assert ids(client, "q=honey") == [honey.id]
    assert ids(client, "q=ORGANIC hon") == [honey.id]


def test_a_query_of_no_characters_or_words_matches_nothing(client, blueberries):
    assert ids(client, "q=！！") == []


def test_the_cursor_pages_through_relevance(client, blueberries):
    seen, cursor = [], None
    while True:
        response = client.get(
            "/api/v1/products?q=蓝莓&page_size=1" + (f"&cursor={cursor}" if cursor else "")
        )
        seen += [card["id"] for card in response.json]
        cursor = json.loads(response.headers["X-Pagination"])["next_cursor"]
        if cursor is None:
            break
    assert seen == ids(client, "q=蓝莓")


def test_a_renamed_producer_is_found_by_its_new_name(client, world, blueberries):
    renamed = client.patch(
        f"/api/v1/producers/{world.producer_a.id}",
        json={"name": "松江野果合作社", "version": world.producer_a.version},
        headers=world.admin_h if hasattr(world, "admin_h") else world.a,
    )
    assert renamed.status_code == 200, renamed.json
    found = set(ids(client, "q=松江野果"))
    assert blueberries["elsewhere"].id in found and blueberries["older_name"].id in found
    assert blueberries["elsewhere"].id not in ids(client, "q=青松蓝莓种植")


def test_terms_are_characters_and_words():
    assert search.terms("野生蓝莓 Organic HONEY·500g！蓝") == [
        "野",
        "生",
        "蓝",
        "莓",
        "organic",
        "honey",
        "500g",
    ]


def test_a_searched_page_is_compiled_once_not_on_every_request():
    """The search's own SQL elements are part of the statements' cache key: without one,
    SQLAlchemy compiled every searched page's statements anew on each request ("no key")."""
    from marketplace.catalog.storefront import listing, ordering

    for sort in ordering.SORTS:
        for shape in ({"q"}, {"q", "after"}):
            for statement in listing._statements(frozenset(shape), sort):
                assert statement._generate_cache_key() is not None, (sort, shape)
    for rank in search.CLASSES:
        for words in (False, True):
            statement = listing._relevance_statement(frozenset({"q"}), rank, words)
            assert statement._generate_cache_key() is not None, (rank, words)
