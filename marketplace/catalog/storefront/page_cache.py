"""The page cache of the anonymous storefront list, shared by every worker through the database.

A page is stored under the hash of its query parameters with the catalog generation current
when it was built. It is served while that generation is still current and for at most
CATALOG_CACHE_SECONDS: any listing or price change bumps the generation in its own transaction,
so it shows at once; stock figures may lag by those few seconds (and by REBUILD_LEASE more while
one worker rebuilds an expired page). Each worker also keeps copies of the pages it served, which
spare a hit its database read (local_pages.py).
"""

import contextlib
import functools
import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from marketplace.catalog.models import CatalogGeneration, CatalogPage
from marketplace.catalog.storefront import local_pages
from marketplace.catalog.storefront.listing import PAGE_PARAMETERS
from marketplace.catalog.storefront.local_pages import LocalPage
from marketplace.db import after_commit

logger = logging.getLogger(__name__)

_pages = CatalogPage.__table__
_generation = CatalogGeneration.__table__


@dataclass(frozen=True)
class CachedPage:
    etag: str
    #: None when the lookup was told the client already holds this version
    body: bytes | None
    #: what the count came to: at most one past listing.TOTAL_BOUND
    total: int
    next_cursor: str | None = None


def cache_key(args) -> str:
    """The page's key: the parameters that shape it, in a canonical order.

    Names are sorted but the values of a repeated name keep their order, because the list
    reads the first one: ``q=a&q=b`` and ``q=b&q=a`` are different pages.
    """
    names = sorted(set(args) & PAGE_PARAMETERS)
    pairs = [(name, value) for name in names for value in args.getlist(name)]
    return hashlib.sha256(urlencode(pairs).encode()).hexdigest()


#: How long a worker that found a page expired has to rebuild it before another may: meanwhile
#: the others serve the expired page (of the current generation: only its stock figures are
#: older), so a page is rebuilt once per expiry, not once per worker.
REBUILD_LEASE = timedelta(seconds=1)

_FRESH_AFTER = sa.bindparam("fresh_after", type_=_pages.c.created_at.type)
_fresh = _pages.c.created_at > _FRESH_AFTER
_LOOKUP = (
    sa.select(
        _generation.c.value,
        _pages.c.etag,
        # A client that already holds the page gets a 304, and an expired page is rebuilt or
        # looked up again: neither reads the body.
        sa.case(
            (_pages.c.etag == sa.bindparam("held_etag"), None),
            (_fresh, _pages.c.body),
            else_=None,
        ),
        _pages.c.total,
        _pages.c.next_cursor,
        _pages.c.created_at,
        _fresh,
    )
    .select_from(
        _generation.outerjoin(
            _pages,
            sa.and_(
                _pages.c.cache_key == sa.bindparam("key"),
                _pages.c.generation == _generation.c.value,
            ),
        )
    )
    .where(_generation.c.id == 1)
)

#: The expired page's rebuild, claimed by whichever worker comes first: its age is set so that
#: it is fresh for REBUILD_LEASE more. Only one claim of one expiry finds it still expired.
_CLAIM = (
    sa.update(_pages)
    .where(
        _pages.c.cache_key == sa.bindparam("key"),
        _pages.c.generation == sa.bindparam("generation"),
        _pages.c.created_at <= _FRESH_AFTER,
    )
    .values(created_at=sa.bindparam("leased_until", type_=_pages.c.created_at.type))
    .returning(_pages.c.cache_key)
)


#: Per process: the storefront read pool of each engine this process serves.
_read_pools: dict[sa.Engine, sa.Engine] = {}
_read_pools_lock = threading.Lock()
_GENERIC_PLANS = "-c plan_cache_mode=force_generic_plan"


def _read_pool(engine: sa.Engine) -> sa.Engine:
    """A small pool of autocommit connections to the same PostgreSQL database, for the
    storefront's reads (cache lookups, and the list itself, see ``storefront_reads``) and
    the one write of an anonymous list, storing a page it built (``store_page``).

    Unlike the main pool it does not ping each connection at checkout, which would double the
    round trips of a hit; a lookup that finds its connection broken simply falls back to the
    request's own session. Its connections plan prepared statements once (generic plans): with
    LIMIT and OFFSET as parameters PostgreSQL otherwise re-plans the page statement on every
    execution, which cost about half a millisecond of the server's time per list, more than
    running it. The statements read here have stable shapes (filters on indexed columns, a
    page of at most 100 rows), whose generic plan is the plan PostgreSQL picks for typical
    values anyway (compared with EXPLAIN on the benchmark's catalog); the rest of the service
    keeps the default (tests/catalog/test_storefront_served.py).
    """
    pool = _read_pools.get(engine)
    if pool is None:
        with _read_pools_lock:
            pool = _read_pools.get(engine)
            if pool is None:
                # Added to the server options the database URL may carry, not instead of them.
                options = " ".join(filter(None, [engine.url.query.get("options"), _GENERIC_PLANS]))
                pool = sa.create_engine(
                    engine.url.difference_update_query(["options"]),
                    isolation_level="AUTOCOMMIT",
                    pool_size=2,
                    max_overflow=8,
                    pool_pre_ping=False,
                    pool_recycle=3600,
                    connect_args={"options": options},
                )
                _read_pools[engine] = pool
    return pool


@contextlib.contextmanager
def storefront_reads(session):
    """A connection for building storefront pages. On PostgreSQL, one of the read pool's, in
    autocommit: the list writes nothing, and the read pool's plans suit it. Elsewhere, and for
    a session bound to one connection (the tests), the session's own."""
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        with _read_pool(bind).connect() as connection:
            yield connection
    else:
        yield session.connection()


@functools.cache
def _compiled(statement, dialect: sa.Dialect):
    return statement.compile(dialect=dialect)


def _run_on_postgresql(engine: sa.Engine, statement, parameters: dict, failure: str):
    """One of the hottest statements of the service (the lookup, the claim, the store), run as
    plainly as psycopg allows: compiled once, prepared by the server, in autocommit, with
    binary results (a body then crosses as raw bytes instead of twice as many hex digits). Its
    first row (None for none), or ``_FAILED`` if it could not run (logged as ``failure``)."""
    pool = _read_pool(engine)
    compiled = _compiled(statement, pool.dialect)
    try:
        with pool.connect() as connection:
            driver = connection.connection.driver_connection
            try:
                cursor = driver.execute(
                    compiled.string, compiled.construct_params(parameters), binary=True
                )
                return None if cursor.description is None else cursor.fetchone()
            except psycopg.Error:
                # The pool must not hand this connection out again: it may be broken.
                connection.invalidate()
                raise
    except (DBAPIError, psycopg.Error):
        logger.warning(failure, exc_info=True)
        return _FAILED


_FAILED = object()


def lookup_page(
    session, key: str, *, now: datetime, max_age: timedelta, held_etag: str | None = None
) -> tuple[int, CachedPage | None]:
    """The current catalog generation and the fresh page stored under ``key``, if any; None
    tells the caller to build the page (and store it). A page whose ETag is ``held_etag`` comes
    back without its body.

    One statement, read before a missed page is built, so a change committed while it is
    being built makes the stored copy stale at once. On PostgreSQL it runs outside the
    request's transaction, in autocommit on a pooled connection of its own, so a hit costs
    one round trip: no BEGIN, no COMMIT, no ping; and none at all when this worker holds a
    current copy of the page (local_pages.py). (SQLite, and a session bound to a single
    connection as in the tests, read through the session.)

    A page of the current generation that has expired is rebuilt by one worker only: the first
    to claim it (``_CLAIM``, PostgreSQL); the others look it up again and serve it, stock
    figures at most REBUILD_LEASE older, while that one builds. Every worker's copies expire
    together, and each building the same page was most of what an expiry cost.
    """
    local = local_pages.for_session(session)
    if local is not None:
        copy = local.fresh_copy(key, now=now, max_age=max_age)
        if copy is not None:
            body = None if copy.etag == held_etag else copy.body
            return copy.generation, CachedPage(copy.etag, body, copy.total, copy.next_cursor)
    # A worker that keeps copies reads the body even for a client that holds the page: else,
    # once its copy expired, a stream of conditional requests would each read the database.
    asked_etag = held_etag if local is None else None
    parameters = {"key": key, "fresh_after": now - max_age, "held_etag": asked_etag}
    on_postgresql = _own_postgresql_engine(session)
    row = _lookup(session, on_postgresql, parameters)
    generation, etag, body, total, next_cursor, created_at, fresh = row
    if etag is not None and not fresh and on_postgresql is not None:
        claim = {
            "key": key,
            "generation": generation,
            "fresh_after": parameters["fresh_after"],
            "leased_until": now - max_age + REBUILD_LEASE,
        }
        claimed = _run_on_postgresql(
            on_postgresql, _CLAIM, claim, "catalog page rebuild not claimed; rebuilding it"
        )
        if claimed is None:
            # Another worker claimed its rebuild first: serve what it leased.
            row = _lookup(session, on_postgresql, parameters)
            generation, etag, body, total, next_cursor, created_at, fresh = row
    if etag is None or not fresh:
        return generation, None
    if body is not None:
        body = bytes(body)
        if local is not None:
            local.keep(key, LocalPage(generation, etag, body, total, created_at, next_cursor))
            if etag == held_etag:
                body = None
    return generation, CachedPage(etag, body, total, next_cursor)


def _own_postgresql_engine(session) -> sa.Engine | None:
    """The session's engine when it is PostgreSQL's and the session is not bound to one
    connection (the tests' outer transaction): the statements then run on the read pool."""
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        return bind
    return None


def _lookup(session, engine: sa.Engine | None, parameters: dict):
    row = _FAILED
    if engine is not None:
        row = _run_on_postgresql(
            engine, _LOOKUP, parameters, "catalog page lookup failed; reading through the session"
        )
    if row is _FAILED:
        row = session.connection().execute(_LOOKUP, parameters).one()
    return row


def _upsert(dialect_name: str, values: dict):
    """Insert the page, or replace the stored one unless that is of a newer generation."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = insert(_pages).values(values)
    return statement.on_conflict_do_update(
        index_elements=[_pages.c.cache_key],
        set_={name: statement.excluded[name] for name in values if name != "cache_key"},
        # A slow worker must not replace a page of a newer generation with an older one.
        where=_pages.c.generation <= statement.excluded.generation,
    )


_STORED_COLUMNS = ("cache_key", "generation", "etag", "body", "total", "next_cursor", "created_at")


@functools.cache
def _bound_upsert():
    values = {name: sa.bindparam(name, type_=_pages.c[name].type) for name in _STORED_COLUMNS}
    return _upsert("postgresql", values)


def _store_on_postgresql(engine: sa.Engine, values: dict) -> bool:
    """The upsert as one statement in autocommit on the read pool, as the lookup runs: no
    BEGIN, SAVEPOINT, RELEASE and COMMIT around it, and no ping of a main pool connection (a
    miss stored through the request's session cost as much Python as building the page,
    profiled under bench/catalog.py). False if it could not run."""
    stored = _run_on_postgresql(engine, _bound_upsert(), values, "catalog page not cached")
    return stored is not _FAILED


def _store_through_session(session, values: dict) -> bool:
    """The reference: the upsert in the request's transaction, under a savepoint so that a
    failure leaves that transaction usable. False if it could not run."""
    try:
        with session.begin_nested():
            session.execute(_upsert(session.get_bind().dialect.name, values))
    except SQLAlchemyError:
        logger.warning("catalog page not cached", exc_info=True)
        return False
    return True


def store_page(session, key: str, generation: int, page: CachedPage, *, now: datetime) -> None:
    """Keep a built page for the other requests and workers. Never fails the request that
    built it: two workers storing the same page at once, or a busy database, just skip it.

    On PostgreSQL it is stored as it is looked up, on a read pool connection in autocommit
    (committed at once: a page is only stored once built, so there is nothing to roll back);
    SQLite, and a session bound to one connection (the tests), store it in the session's
    transaction."""
    values = {
        "cache_key": key,
        "generation": generation,
        "etag": page.etag,
        "body": page.body,
        "total": page.total,
        "next_cursor": page.next_cursor,
        "created_at": now,
    }
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        stored = _store_on_postgresql(bind, values)
    else:
        stored = _store_through_session(session, values)
    if not stored:
        return
    local = local_pages.for_session(session)
    if local is not None:
        local.keep(
            key, LocalPage(generation, page.etag, page.body, page.total, now, page.next_cursor)
        )


def invalidate_pages(session) -> None:
    """A listing or a price changed: every cached page is stale from this transaction's commit.

    The stale rows go too, which bounds the table by what was asked since the last change.
    """
    generation = session.execute(
        sa.update(_generation)
        .where(_generation.c.id == 1)
        .values(value=_generation.c.value + 1)
        .returning(_generation.c.value)
    ).scalar_one()
    session.execute(sa.delete(_pages))
    local = local_pages.for_session(session)
    if local is not None:
        # This worker's copies go at commit; the other workers' when they learn of it
        # (local_pages.py).
        after_commit(session, functools.partial(local.catch_up, generation))
