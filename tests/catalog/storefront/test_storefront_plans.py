"""On PostgreSQL, with a catalog large enough that the planner means it (30,000 products, every
one active and analysed), the first page of each sort, with and without a category, starts in
an index and scans no table that grows with the catalog; a search reads its GIN index, and its
first page by relevance is sought in the newest index, a bounded walk; the count stops at its
bound."""

import json
import re

import pytest
import sqlalchemy as sa
from psycopg.sql import Literal
from sqlalchemy import event

from marketplace.catalog.storefront import listing, ordering, search
from marketplace.clock import shanghai_today

pytestmark = pytest.mark.postgres

PRODUCTS = 30_000


@pytest.fixture
def large_catalog(session, world, category):
    fruit, herbs = category("fruit"), category("medicinal_herbs")
    session.execute(
        sa.text(
            """
            INSERT INTO products (station_id, producer_id, origin_village_id, category_id, name,
                unit, status, min_price_fen, search_text, created_at, updated_at,
                published_at, version)
            SELECT :station, :producer, :village,
                CASE WHEN n % 3 = 0 THEN :herbs ELSE :fruit END,
                '山货 ' || n, '斤', 'active', 100 + n % 5000, '山货 ' || n,
                now(), now(), now() - make_interval(secs => n), 1
            FROM generate_series(1, :count) AS n
            """
        ),
        {
            "station": world.station_a.id,
            "producer": world.producer_a.id,
            "village": world.producer_a.region_id,
            "fruit": fruit.id,
            "herbs": herbs.id,
            "count": PRODUCTS,
        },
    )
    session.execute(sa.text("ANALYZE products"))
    return {"fruit": fruit, "herbs": herbs}


def plan_of(session, statement, parameters) -> dict:
    """The plan of the statement as the driver runs it (an expanding IN rendered with its
    values): the statement is run once and its text explained with the same parameters."""
    connection = session.connection()
    sent = []

    def record(conn, cursor, text, driver_parameters, context, executemany):
        sent.append((text, driver_parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        connection.execute(statement, parameters).all()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    text, driver_parameters = sent[-1]
    explained = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + text, driver_parameters)
    (document,) = explained.scalar_one()
    return document["Plan"] if isinstance(document, dict) else json.loads(document)[0]["Plan"]


def generic_plan_of(session, statement, parameters) -> dict:
    """The plan of the statement as the storefront's read pool runs it: prepared, with the
    generic plan its connections are forced to (``page_cache._read_pool``)."""
    connection = session.connection()
    sent = []

    def record(conn, cursor, text, driver_parameters, context, executemany):
        sent.append((text, driver_parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        connection.execute(statement, parameters).all()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    text, driver_parameters = sent[-1]
    names: list[str] = []

    def numbered(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(
        "PREPARE storefront_read AS " + re.sub(r"%\((\w+)\)s", numbered, text)
    )
    try:
        # EXECUTE's arguments are values written into the text, as psql would send them.
        driver = connection.connection.driver_connection
        arguments = ", ".join(Literal(driver_parameters[name]).as_string(driver) for name in names)
        # Sent without parameters, so that no "%" of a LIKE pattern is read as a placeholder.
        explained = driver.execute(f"EXPLAIN (FORMAT JSON) EXECUTE storefront_read({arguments})")
        ((document,),) = explained.fetchall()
    finally:
        connection.exec_driver_sql("DEALLOCATE storefront_read")
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")
    return (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]


def nodes(plan: dict, limited: bool = False):
    """Each node of the plan, with whether a Limit above it stops it early."""
    yield plan, limited
    for child in plan.get("Plans", []):
        yield from nodes(child, limited or plan["Node Type"] == "Limit")


def unbounded_scans_of_products(plan: dict) -> list[str]:
    """Sequential scans of the products that no Limit stops: the ones that grow with the
    catalog. (The bounded count reads at most TOTAL_BOUND + 1 rows however it reads them.)"""
    return [
        node["Node Type"]
        for node, limited in nodes(plan)
        if node.get("Relation Name") == "products"
        and node["Node Type"] == "Seq Scan"
        and not limited
    ]


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "name"])
@pytest.mark.parametrize("in_category", [False, True])
def test_a_first_page_starts_in_an_index(session, large_catalog, sort, in_category):
    filters = {"sort": sort, **({"category": "fruit"} if in_category else {})}
    page, count, parameters = listing._bound_statements(filters, shanghai_today())
    plan = plan_of(session, page, {**parameters, "limit": 20, "offset": 0})
    assert not unbounded_scans_of_products(plan)
    sort_index = {
        "newest": "ix_products_status_category_published"
        if in_category
        else "ix_products_status_published",
        "price_asc": "ix_products_status_category" if in_category else "ix_products_status_price",
        "name": "ix_products_status_name",
    }.get(sort, "ix_products_status_category" if in_category else "ix_products_status_price")
    assert any(node.get("Index Name") == sort_index for node, _ in nodes(plan))
    # Nothing sorts every match: the index gives the order, at most the page's rows are sorted.
    for node, _ in nodes(plan):
        if node["Node Type"] == "Sort":
            assert node["Plan Rows"] <= 20, node
    counted = plan_of(session, count, parameters)
    assert not unbounded_scans_of_products(counted)


@pytest.mark.parametrize("sort", ["newest", "price_asc", "name"])
def test_a_deep_page_by_cursor_starts_in_the_index_at_the_cursor(session, large_catalog, sort):
    last = session.execute(
        sa.text(
            "SELECT id, published_at, min_price_fen, name FROM products ORDER BY id LIMIT 1"
            " OFFSET 25000"
        )
    ).one()
    value = {"newest": last.published_at, "price_asc": last.min_price_fen, "name": last.name}
    cursor = ordering.Cursor(sort, value[sort], last.id)
    filters = {"sort": sort, "cursor": cursor}
    page, _, parameters = listing._bound_statements(filters, shanghai_today())
    plan = plan_of(
        session,
        page,
        {
            **parameters,
            "limit": 20,
            "offset": 0,
            "after_value": cursor.value,
            "after_id": cursor.id,
        },
    )
    assert not unbounded_scans_of_products(plan)
    conditions = [node.get("Index Cond", "") for node, _ in nodes(plan)]
    assert any("ROW(" in condition for condition in conditions), conditions


@pytest.mark.parametrize("query", ["山货 12345", "蓝莓"])
def test_a_search_reads_its_gin_index(session, large_catalog, query):
    filters = {"q": query}
    page, count, parameters = listing._bound_statements(filters, shanghai_today())
    for statement in (page, count):
        plan = plan_of(session, statement, {**parameters, "limit": 20, "offset": 0})
        assert not unbounded_scans_of_products(plan)
        assert any(node.get("Index Name") == "ix_products_search" for node, _ in nodes(plan))


@pytest.mark.parametrize("query", ["山货 12345", "蓝莓"])
def test_a_search_counts_from_its_index_alone_under_generic_plans(session, large_catalog, query):
    """The search's index holds the active products only, and its statements name the status
    as a literal, so that their generic plans can read it: with the status a parameter, the
    count read every match (and every active product) some other way."""
    _, count, parameters = listing._bound_statements({"q": query}, shanghai_today())
    plan = generic_plan_of(session, count, parameters)
    assert not unbounded_scans_of_products(plan)
    scans = [node.get("Index Name") for node, _ in nodes(plan) if "Index" in node["Node Type"]]
    assert scans == ["ix_products_search"], plan


def test_the_count_stops_one_past_the_bound(session, large_catalog):
    _, count, parameters = listing._bound_statements({"sort": "newest"}, shanghai_today())
    assert session.execute(count, parameters).scalar_one() == listing.TOTAL_BOUND + 1


@pytest.mark.parametrize("generic", [False, True])
@pytest.mark.parametrize("in_category", [False, True])
@pytest.mark.parametrize("query", ["山货", "山货 12345", "货山"])
def test_a_relevance_page_is_sought_in_the_newest_index(
    session, large_catalog, query, in_category, generic
):
    """The page of one relevance class is read from the newest index, at most search.WINDOW
    rows of it (a Limit above the scan), never from every match; its cards are read by id,
    in the same statement; so under the read pool's generic plans too."""
    filters = {"q": query, **({"category": "fruit"} if in_category else {})}
    _, _, parameters = listing._bound_statements(filters, shanghai_today())
    shape = listing._shape(filters)
    statement = listing._relevance_statement(shape, search.IN_NAME, search.has_words(query))
    parameters = {**parameters, "limit": 20, "offset": 0}
    plan = (generic_plan_of if generic else plan_of)(session, statement, parameters)
    assert not unbounded_scans_of_products(plan)
    newest = (
        "ix_products_status_category_published" if in_category else "ix_products_status_published"
    )
    walks = [node for node, limited in nodes(plan) if node.get("Index Name") == newest]
    assert walks and all(limited for node, limited in nodes(plan) if node in walks), plan
    for node, _ in nodes(plan):
        assert node["Node Type"] != "Sort" or node["Plan Rows"] <= search.WINDOW, node
    assert any(node.get("Index Name") == "pk_products" for node, _ in nodes(plan))
    rows = session.execute(statement, parameters).all()
    # 山货 12345 is older than the window: that page is then ranked from its few matches.
    assert len(rows) == (20 if query == "山货" else 0)
