"""The public storefront list, built (its cache is in page_cache.py and local_pages.py).

The list is the hottest read of the service (a livestream points thousands of phones at it), so
it is built with SQLAlchemy Core and plain dicts instead of ORM objects and marshmallow: one
statement for the page (names joined in, the first image as a correlated subquery), one count,
one for the SKUs of the page. Dumping a 20-product page through a marshmallow schema was
measured at about 1.5 ms, building the dicts and the JSON at 0.2 ms. ``ProductCardOut`` in
schemas.py documents the shape built here.
"""

import functools
import hashlib

import orjson
import sqlalchemy as sa

from marketplace.catalog.models import (
    Category,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.catalog.storefront import ordering, search
from marketplace.catalog.storefront.cards import build_cards, skus_of
from marketplace.catalog.storefront.ordering import sort_of
from marketplace.clock import shanghai_today
from marketplace.producers.models import Producer, Station
from marketplace.regions.models import Region
from marketplace.regions.service import in_subtree_of

_products = Product.__table__
_images = ProductImage.__table__
_categories = Category.__table__
_producers = Producer.__table__
_stations = Station.__table__
_villages = Region.__table__.alias("village")

#: The filters of the list, by the name of the bound parameter each one uses.
FILTERS = (
    "category",
    "village_id",
    "region",
    "producer_id",
    "station_id",
    "certified",
    "min_price_fen",
    "max_price_fen",
    "q",
)


#: The query parameters that shape a page; anything else (a cache-busting ``_=...``) is ignored
#: by the list and therefore by the cache key too.
PAGE_PARAMETERS = frozenset(FILTERS) | {"sort", "page", "page_size", "cursor"}

#: Matches are counted exactly up to this many; past it the total is "at least" this (the
#: response says so), and page numbers stop here: deeper pages are reached by cursor.
TOTAL_BOUND = 1_000


def _active(c) -> sa.ColumnElement:
    """The product is on sale, with its status named as a literal: the storefront's read pool
    forces generic plans, in which a status parameter could be anything. With it, PostgreSQL
    took a third of the products for active and sorted them all for a relevance window (13 ms
    at 10,000 products instead of 1), and ANDed the GIN bitmap of a search's matches with a
    bitmap of every active product (7 ms at 200,000); nor could it read the search's index,
    which holds the active products only (migration 0024)."""
    status = sa.bindparam("active", ProductStatus.active, type_=c.status.type, literal_execute=True)
    return c.status == status


def _conditions(shape: frozenset[str]) -> list:
    """The conditions selecting the active products, for the filters named in ``shape``; the
    values come as bound parameters of the same names."""
    c = _products.c
    where = [_active(c)]
    if "category" in shape:
        category_id = sa.select(_categories.c.id).where(
            _categories.c.code == sa.bindparam("category")
        )
        where.append(c.category_id == category_id.scalar_subquery())
    if "village_id" in shape:
        where.append(c.origin_village_id == sa.bindparam("village_id"))
    if "region" in shape:
        # The subtree is resolved inside the statement, so the filter costs no extra round trip.
        where.append(in_subtree_of(c.origin_village_id, sa.bindparam("region")))
    if "producer_id" in shape:
        where.append(c.producer_id == sa.bindparam("producer_id"))
    if "station_id" in shape:
        where.append(c.station_id == sa.bindparam("station_id"))
    if "certified" in shape:
        today = sa.bindparam("today", type_=sa.Date())
        where.append(c.certificate_valid_from <= today)
        where.append(sa.or_(c.certificate_valid_to.is_(None), c.certificate_valid_to >= today))
    if "min_price_fen" in shape:
        where.append(c.min_price_fen >= sa.bindparam("min_price_fen"))
    if "max_price_fen" in shape:
        where.append(c.min_price_fen <= sa.bindparam("max_price_fen"))
    if "q" in shape:
        where.append(search.HoldsEveryTerm(c.search_text))
    return where


def _page_statement(where: list, sort: str, count: sa.Select | None) -> sa.Select:
    """The page in two steps inside one statement: first the ids of the page from the products
    table alone (an index range of the sort), then names and the first image for those rows
    only, instead of joining every row the offset skips. The bounded ``count`` rides along as
    a column (computed once), so a page costs no statement for its total; with no ``count``
    (a total remembered, see ``list_storefront``) that column is NULL."""
    p = _products.c
    first, second = ordering.keys(p, sort)
    ids = (
        sa.select(p.id, first.label("first_key"), second.label("second_key"))
        .where(*where)
        .order_by(*ordering.order(first, second, p.id, sort))
        .limit(sa.bindparam("limit", type_=sa.Integer()))
        .offset(sa.bindparam("offset", type_=sa.Integer()))
        .subquery("page")
    )
    return _dressed(ids, sort, count)


def _dressed(ids, sort: str, count: sa.Select | None) -> sa.Select:
    """The cards' columns for the page's ``ids`` (a subquery of the id and the sort's two
    keys), in the sort's order, with the bounded count."""
    p = _products.c
    first_image = (
        sa.select(_images.c.storage_key)
        .where(_images.c.product_id == p.id)
        .order_by(_images.c.position, _images.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa.select(
            p.id,
            p.name,
            p.subtitle,
            p.unit,
            p.min_price_fen,
            p.published_at,
            p.certificate_number,
            p.certificate_level,
            p.certificate_valid_from,
            p.certificate_valid_to,
            _categories.c.code,
            _categories.c.name,
            _producers.c.id,
            _producers.c.name,
            _producers.c.kind,
            _villages.c.id,
            _villages.c.name,
            _stations.c.id,
            _stations.c.name,
            first_image,
            ids.c.first_key,
            ids.c.second_key,
            sa.null() if count is None else count.scalar_subquery(),
        )
        .select_from(
            ids.join(_products, p.id == ids.c.id)
            .join(_categories, _categories.c.id == p.category_id)
            .join(_producers, _producers.c.id == p.producer_id)
            .join(_villages, _villages.c.id == p.origin_village_id)
            .join(_stations, _stations.c.id == p.station_id)
        )
        .order_by(*ordering.order(ids.c.first_key, ids.c.second_key, ids.c.id, sort))
    )


@functools.lru_cache(maxsize=1024)
def _relevance_statement(
    shape: frozenset[str], rank: int, words: bool, counting: bool = True
) -> sa.Select:
    """A relevance page sought in one class (search.py), in one statement: the page (``limit``
    products after ``offset``) of class ``rank`` among the ``search.WINDOW`` newest that the
    other filters (and the cursor) let through, as cards, with the bounded count. Fewer rows
    than ``limit`` say the window does not hold the page."""
    p = _products.c
    where = _conditions(shape - {"after", "q"})
    if "after" in shape:
        after_published = sa.bindparam("after_published", type_=p.published_at.type)
        mark = sa.tuple_(after_published, sa.bindparam("after_id", type_=sa.BigInteger()))
        where.append(sa.tuple_(p.published_at, p.id) < mark)
    newest = (
        sa.select(p.id, p.published_at, p.name, p.search_text)
        .where(*where)
        .order_by(p.published_at.desc(), p.id.desc())
        .limit(sa.literal_column(str(search.WINDOW)))
        .subquery("newest")
    )
    n = newest.c
    ids = (
        sa.select(
            n.id,
            sa.literal_column(str(int(rank)), sa.Integer()).label("first_key"),
            n.published_at.label("second_key"),
        )
        .where(*search.of_class(n, rank, words))
        .order_by(n.published_at.desc(), n.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer()))
        .offset(sa.bindparam("offset", type_=sa.Integer()))
        .subquery("page")
    )
    count = _statements(shape - {"after"}, "relevance")[1] if counting else None
    return _dressed(ids, "relevance", count)


@functools.lru_cache(maxsize=1024)
def _statements(
    shape: frozenset[str], sort: str, counting: bool = True
) -> tuple[sa.Select, sa.Select]:
    """The page and count statements for one combination of filters and sort, built once:
    a statement object keeps its SQLAlchemy cache key, so executing it again is cheap. The
    page counts too unless not ``counting``."""
    where = _conditions(shape - {"after"})
    page_where = [*where, ordering.after(_products.c, sort)] if "after" in shape else where
    # Counting stops one past the bound: enough to know the bound was passed.
    matches = (
        sa.select(sa.literal(1))
        .select_from(_products)
        .where(*where)
        .limit(TOTAL_BOUND + 1)
        .subquery("matches")
    )
    count = sa.select(sa.func.count()).select_from(matches)
    return _page_statement(page_where, sort, count if counting else None), count


def list_storefront(
    connection,
    filters: dict,
    *,
    page: int,
    page_size: int,
    media_prefix: str,
    reference: bool = False,
    totals=None,
) -> tuple[list[dict], int, str | None]:
    """A page of active products as plain dicts, how many match counted up to one past
    ``TOTAL_BOUND``, and the cursor of the page after it (None when this one is not full).

    A cursor in ``filters`` (``Cursor``, decoded by the query's schema) starts the page right
    after the product it names, and ``page`` is then not read. Three statements whatever the
    page size or depth: the page with its bounded count, then its SKUs (an empty page counts
    on its own). A relevance page is first sought in one class (search.py), in the page's
    statement; only when the class does not hold it is the page ranked from every match, a
    statement more. ``reference`` always ranks every match, as the equivalence test does.

    ``totals`` (this worker's ``local_pages.LocalPages``, or None) remembers the bounded total
    of each filter combination for the catalog generation it was counted in, so that the
    pages of a list asked again before the catalog changes skip the count. Of a search of a
    common word the count is most of the page's statement: PostgreSQL builds the GIN bitmap
    of every match before counting the first 1,001.
    """
    today = shanghai_today()
    key = _total_key(filters, today)
    generation, remembered = totals.total(key) if totals is not None else (None, None)
    page_statement, count_statement, parameters = _bound_statements(
        filters, today, counting=remembered is None
    )
    page_parameters = _page_parameters(parameters, filters.get("cursor"), page, page_size)
    rows = None
    if sort_of(filters) == "relevance" and not reference:
        rows = _relevance_page(connection, filters, page_parameters, remembered is None)
    if rows is None:
        rows = connection.execute(page_statement, page_parameters).all()
    counted = remembered
    if counted is None:
        counted = rows[-1][-1] if rows else connection.execute(count_statement, parameters).scalar()
        if generation is not None:
            totals.keep_total(key, generation, counted)
    if not rows:
        return [], counted, None
    skus_by_product = skus_of(connection, rows)
    last_id, value, published = rows[-1][0], *rows[-1][-3:-1]
    # Active products always have a price and a publishing time, so the sort value is there.
    full = len(rows) == page_size and value is not None
    following = (
        ordering.Cursor(sort_of(filters), value, last_id, published).encode() if full else None
    )
    return build_cards(rows, skus_by_product, today, media_prefix), counted, following


def _page_parameters(parameters: dict, cursor, page: int, page_size: int) -> dict:
    """The page statement's parameters: the filters', and the page's place."""
    if cursor is None:
        return {**parameters, "limit": page_size, "offset": (page - 1) * page_size}
    return {
        **parameters,
        "limit": page_size,
        "offset": 0,
        "after_value": cursor.value,
        "after_published": cursor.published,
        "after_id": cursor.id,
    }


def _total_key(filters: dict, today) -> tuple:
    """What a list's total depends on: its filters' values (not its sort, page or cursor),
    and the day, which decides whether a certificate is valid."""
    return (today, *sorted((name, filters[name]) for name in _shape(filters)))


def _relevance_page(connection, filters: dict, parameters: dict, counting: bool):
    """The page's rows when one class holds it among the newest products (search.py), else
    None: the page is then ranked from every match."""
    cursor = filters.get("cursor")
    rank = search.IN_NAME if cursor is None else cursor.value
    shape = _shape(filters) | ({"after"} if cursor is not None else set())
    statement = _relevance_statement(shape, rank, search.has_words(filters["q"]), counting)
    rows = connection.execute(statement, parameters).all()
    return rows if len(rows) == parameters["limit"] else None


def _shape(filters: dict) -> frozenset[str]:
    """The filters a request uses, as the statements are built for them (certified=false
    filters nothing)."""
    return frozenset(
        name
        for name in FILTERS
        if filters.get(name) is not None and (name != "certified" or filters[name])
    )


def _bound_statements(
    filters: dict, today, counting: bool = True
) -> tuple[sa.Select, sa.Select, dict]:
    """The page and count statements for the filters given (built once per combination), and
    the values of their parameters (the cursor's are the caller's to add); the page counts too
    unless not ``counting``."""
    shape = _shape(filters)
    parameters = {name: filters[name] for name in shape}
    if filters.get("cursor") is not None:
        shape |= {"after"}
    page_statement, count_statement = _statements(shape, sort_of(filters), counting)
    if parameters.pop("certified", False):
        parameters["today"] = today
    if "q" in parameters:
        parameters.update(search.parameters(parameters.pop("q")))
    return page_statement, count_statement, parameters


def render_page(cards: list[dict], counted: int, following: str | None) -> tuple[bytes, str]:
    """The response body and its ETag (which covers the total and the next cursor, shown in
    headers). Written by orjson: the same bytes as the standard encoder's compact UTF-8 (a test
    holds them equal), in a fourteenth of its time."""
    body = orjson.dumps(cards)
    digest = hashlib.sha256(body)
    digest.update(b"|%d|%s" % (counted, (following or "").encode()))
    return body, f'"{digest.hexdigest()[:40]}"'
