"""A relevance page sought in one class among the newest products (search.py) is the page the
reference ranks from every match: the same cards, the same bounded total and the same next
cursor, page by page and cursor by cursor, whatever the query, the page size, the filters and
how many newest products the class is sought in (from a window too small to hold any page to
one holding the whole catalog); and the total, remembered from the walk's first page on, is the
one the reference counts on every page."""

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import event as sa_event

from marketplace.catalog.storefront import listing, local_pages, ordering, search
from marketplace.db import utcnow

#: Names, subtitles and producers' names are drawn from few characters, so that the queries
#: below match in every class: in the name, as typed elsewhere, and apart.
PIECES = ["蓝", "莓", "山", "果", "蓝莓", "山果", "Berry", "berries", " "]


@pytest.fixture
def catalog(world, listed, make_producer, regions, category):
    rng = random.Random(21)
    now = utcnow()
    producers = [
        world.producer_a,  # 青松蓝莓种植专业合作社…: the query as typed, outside the name
        make_producer(world.station_a, name="山果合作社", region_id=regions.village_a2.id),
    ]
    herbs = category("medicinal_herbs")
    products = []
    for index in range(40):
        products.append(
            listed(
                world.station_a,
                producers[index % 2],
                name="".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 4))) + "礼盒",
                subtitle="".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 3))) or None,
                # Publishing times tie in threes, so the id's tie-break counts.
                published_at=now - timedelta(hours=index // 3),
                **({"category": herbs} if index % 5 == 0 else {}),
            )
        )
    return products


@pytest.fixture
def window(monkeypatch):
    """``window(n)``: seek relevance pages among the n newest products (statements anew)."""

    def set_window(size: int):
        monkeypatch.setattr(search, "WINDOW", size)
        listing._relevance_statement.cache_clear()

    yield set_window
    listing._relevance_statement.cache_clear()


class _SilentWatch:
    """A catalog generation that never moves: the walk's totals are remembered from its first
    page on (local_pages.LocalPages.total)."""

    def poll(self, known):
        return 1

    def close(self):
        pass


def by_pages(connection, filters: dict, page_size: int, reference: bool) -> list:
    """The pages one after another by number; totals remembered but by the reference."""
    totals = None if reference else local_pages.LocalPages(_SilentWatch())
    pages, page = [], 1
    while (page - 1) * page_size < listing.TOTAL_BOUND:
        found = listing.list_storefront(
            connection,
            filters,
            page=page,
            page_size=page_size,
            media_prefix="/media/",
            reference=reference,
            totals=totals,
        )
        pages.append(found)
        if len(found[0]) < page_size:
            return pages
        page += 1
    return pages


def by_cursor(connection, filters: dict, page_size: int, reference: bool) -> list:
    """The pages one after another by cursor; totals remembered but by the reference."""
    totals = None if reference else local_pages.LocalPages(_SilentWatch())
    pages, following = [], None
    while True:
        cursor = {"cursor": ordering.Cursor.decode(following)} if following else {}
        found = listing.list_storefront(
            connection,
            {**filters, **cursor},
            page=1,
            page_size=page_size,
            media_prefix="/media/",
            reference=reference,
            totals=totals,
        )
        pages.append(found)
        following = found[2]
        if following is None:
            return pages


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.lists(st.sampled_from([*PIECES[:-1], "ber", "礼"]), min_size=1, max_size=2).map(
        " ".join
    ),
    page_size=st.integers(1, 7),
    window_size=st.sampled_from([1, 3, 10, 25, 2_000]),
    in_category=st.booleans(),
)
@example(query="蓝莓", page_size=3, window_size=10, in_category=False)
@example(query="莓蓝", page_size=2, window_size=2_000, in_category=False)
@example(query="berr", page_size=5, window_size=25, in_category=True)
def test_relevance_pages_are_the_reference_pages(
    session, catalog, window, query, page_size, window_size, in_category
):
    window(window_size)
    connection = session.connection()
    filters = {"q": query, **({"category": "medicinal_herbs"} if in_category else {})}
    note(f"filters={filters}")
    for walk in (by_pages, by_cursor):
        reference = walk(connection, filters, page_size, True)
        assert walk(connection, filters, page_size, False) == reference, walk.__name__


def test_a_page_the_name_matches_fill_is_not_ranked_from_every_match(session, catalog, window):
    """The name matches come first: a page they fill is read from the newest products of that
    class alone, and no statement ranks every match (the relevance CASE is never run)."""
    window(2_000)
    connection = session.connection()
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    in_name = sorted(
        (p for p in catalog if "蓝莓" in p.name), key=lambda p: (p.published_at, p.id), reverse=True
    )
    assert len(in_name) >= 2
    sa_event.listen(connection, "before_cursor_execute", record)
    try:
        cards, _, following = listing.list_storefront(
            connection, {"q": "蓝莓"}, page=1, page_size=2, media_prefix=""
        )
    finally:
        sa_event.remove(connection, "before_cursor_execute", record)
    assert [card["id"] for card in cards] == [p.id for p in in_name[:2]]
    assert ordering.Cursor.decode(following).value == search.IN_NAME
    assert statements and not any("CASE WHEN" in statement for statement in statements)
