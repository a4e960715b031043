"""The shared page cache of the anonymous storefront list."""

import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from marketplace.catalog.models import CatalogPage, ProductStatus, Sku
from marketplace.catalog.storefront import page_cache
from marketplace.db import utcnow


@pytest.fixture
def product(world, listed):
    return listed(world.station_a, world.producer_a, name="野生蓝莓 500g")


def sku_of(session, product):
    return session.execute(sa.select(Sku.id).where(Sku.product_id == product.id)).scalar_one()


def stored_pages(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(CatalogPage)).scalar_one()


def test_second_anonymous_get_is_a_hit_of_one_statement(client, product, count_queries):
    first = client.get("/api/v1/products")
    with count_queries() as counted:
        second = client.get("/api/v1/products")
    assert counted.count == 1
    assert second.status_code == 200
    assert second.data == first.data
    for header in ("ETag", "X-Total-Count", "X-Pagination", "Content-Type"):
        assert second.headers[header] == first.headers[header]
    assert first.headers["Cache-Control"] == "public, no-cache"


def test_if_none_match_gets_304_without_a_body(client, world, product):
    etag = client.get("/api/v1/products").headers["ETag"]
    for headers in ({}, world.buyer_h):  # a cache hit, and a list built for a logged-in user
        response = client.get("/api/v1/products", headers={"If-None-Match": etag, **headers})
        assert response.status_code == 304
        assert response.data == b""
        assert response.headers["ETag"] == etag
    other = client.get("/api/v1/products", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_a_price_edit_shows_at_once(client, session, world, product, generation):
    before = client.get("/api/v1/products")
    assert before.json[0]["skus"][0]["price_fen"] == 6800
    old_generation = generation()
    client.patch(
        f"/api/v1/products/{product.id}/skus/{sku_of(session, product)}",
        json={"price_fen": 5900, "version": 1},
        headers=world.a,
    )
    assert generation() == old_generation + 1
    after = client.get("/api/v1/products")
    assert after.json[0]["skus"][0]["price_fen"] == 5900
    assert after.json[0]["min_price_fen"] == 5900
    assert after.headers["ETag"] != before.headers["ETag"]
    # The old ETag no longer matches.
    revalidated = client.get("/api/v1/products", headers={"If-None-Match": before.headers["ETag"]})
    assert revalidated.status_code == 200


def test_a_stock_count_may_lag_until_the_page_ages_out(client, session, world, product, generation):
    assert client.get("/api/v1/products").json[0]["skus"][0]["stock"] == 20
    old_generation = generation()
    response = client.patch(
        f"/api/v1/products/{product.id}/skus/{sku_of(session, product)}",
        json={"stock": 3, "version": 1},
        headers=world.a,
    )
    assert response.status_code == 200
    assert generation() == old_generation
    assert client.get("/api/v1/products").json[0]["skus"][0]["stock"] == 20  # cached
    session.execute(sa.update(CatalogPage).values(created_at=utcnow() - timedelta(seconds=6)))
    assert client.get("/api/v1/products").json[0]["skus"][0]["stock"] == 3


@pytest.mark.parametrize(
    ("action", "shows"),
    [
        ("delist", []),
        ("rename", ["野生蓝莓 1kg"]),
    ],
)
def test_listing_changes_show_at_once(client, session, world, product, action, shows):
    assert [p["name"] for p in client.get("/api/v1/products").json] == ["野生蓝莓 500g"]
    if action == "delist":
        client.post(f"/api/v1/products/{product.id}/delist", headers=world.a)
    else:
        response = client.patch(
            f"/api/v1/products/{product.id}",
            json={"version": product.version, "name": "野生蓝莓 1kg"},
            headers=world.a,
        )
        assert response.status_code == 200
    assert [p["name"] for p in client.get("/api/v1/products").json] == shows


def test_publishing_shows_at_once_and_drafts_do_not_invalidate(
    client, session, world, listed, generation
):
    draft = listed(world.station_a, world.producer_a, status=ProductStatus.draft, name="蓝莓干")
    assert client.get("/api/v1/products").json == []
    old_generation = generation()
    response = client.patch(
        f"/api/v1/products/{draft.id}",
        json={"version": draft.version, "subtitle": "不在售的草稿"},
        headers=world.a,
    )
    assert response.status_code == 200
    assert generation() == old_generation
    client.post(f"/api/v1/products/{draft.id}/publish", headers=world.a)
    assert generation() == old_generation + 1
    assert [p["name"] for p in client.get("/api/v1/products").json] == ["蓝莓干"]


def test_a_new_first_image_shows_at_once(client, world, product, images, generation):
    assert client.get("/api/v1/products").json[0]["image_url"] is None
    old_generation = generation()
    response = client.post(
        f"/api/v1/products/{product.id}/images",
        data={"file": (io.BytesIO(images.png()), "p.png")},
        headers=world.a,
        content_type="multipart/form-data",
    )
    assert generation() == old_generation + 1
    assert client.get("/api/v1/products").json[0]["image_url"] == response.json["url"]
    client.delete(f"/api/v1/products/{product.id}/images/{response.json['id']}", headers=world.a)
    assert client.get("/api/v1/products").json[0]["image_url"] is None


def test_requests_with_a_token_bypass_the_cache(client, session, world, product, count_queries):
    client.get("/api/v1/products", headers=world.buyer_h)
    assert stored_pages(session) == 0
    with count_queries() as counted:
        response = client.get("/api/v1/products", headers=world.buyer_h)
    assert counted.count == 3
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "ETag" in response.headers


def test_invalid_queries_are_not_stored(client, session, product):
    assert client.get("/api/v1/products?sort=cheapest").status_code == 422
    assert client.get("/api/v1/products?sort=cheapest").status_code == 422
    assert stored_pages(session) == 0


def test_cache_can_be_switched_off(client, app, session, product, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_CACHE_SECONDS", 0)
    assert client.get("/api/v1/products").status_code == 200
    assert stored_pages(session) == 0


def test_cache_hit_keeps_the_pagination_headers(client, world, listed):
    for _ in range(3):
        listed(world.station_a, world.producer_a)
    for page in (1, 2, 3):
        miss = client.get(f"/api/v1/products?page_size=2&page={page}")
        hit = client.get(f"/api/v1/products?page_size=2&page={page}")
        assert json.loads(miss.headers["X-Pagination"]) == json.loads(hit.headers["X-Pagination"])
        assert hit.headers["X-Total-Count"] == "3"
    nothing = {"total": 0, "total_is_lower_bound": False, "total_pages": 0, "next_cursor": None}
    empty = client.get("/api/v1/products?category=aquatic")
    assert json.loads(empty.headers["X-Pagination"]) == nothing
    again = client.get("/api/v1/products?category=aquatic")
    assert json.loads(again.headers["X-Pagination"]) == nothing


def test_cache_key_is_canonical():
    key = page_cache.cache_key
    assert key(MultiDict([("q", "蓝莓"), ("sort", "name")])) == key(
        MultiDict([("sort", "name"), ("q", "蓝莓")])
    )
    # Parameters the list ignores cannot be used to fill the cache with copies.
    assert key(MultiDict([("q", "蓝莓"), ("_", "1700000000")])) == key(MultiDict([("q", "蓝莓")]))
    # The list reads the first of repeated values, so their order makes a different page.
    assert key(MultiDict([("q", "a"), ("q", "b")])) != key(MultiDict([("q", "b"), ("q", "a")]))
    assert key(MultiDict([("page", "1")])) != key(MultiDict([("page", "2")]))


def test_storing_never_fails_and_never_goes_back_a_generation(session):
    now = utcnow()
    newer = page_cache.CachedPage('"new"', b"[1]", 1)
    older = page_cache.CachedPage('"old"', b"[0]", 0)
    page_cache.store_page(session, "k" * 64, 7, newer, now=now)
    page_cache.store_page(session, "k" * 64, 7, newer, now=now)  # a second worker, same page
    page_cache.store_page(session, "k" * 64, 6, older, now=now)  # a slow worker, older page
    row = session.execute(sa.select(CatalogPage.generation, CatalogPage.etag)).one()
    assert tuple(row) == (7, '"new"')


def test_a_change_drops_stored_pages(client, session, world, product):
    client.get("/api/v1/products")
    client.get("/api/v1/products?sort=name")
    assert stored_pages(session) == 2
    client.post(f"/api/v1/products/{product.id}/delist", headers=world.a)
    assert stored_pages(session) == 0


def test_lookup_outside_the_request_transaction(app):
    """Outside the tests the session is bound to the engine: the lookup then reads committed
    state on a connection of its own (on PostgreSQL, autocommit with binary results)."""
    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    key = "e" * 64
    body = '[{"name":"野生蓝莓"}]'.encode()
    with app.app_context():
        current = _store_current(db.engine, key, '"e"', body, created_at=utcnow())
        try:
            with Session(bind=db.engine) as own:
                generation, page = page_cache.lookup_page(
                    own, key, now=utcnow(), max_age=timedelta(seconds=5)
                )
                assert (generation, page) == (current, page_cache.CachedPage('"e"', body, 1))
                _, held = page_cache.lookup_page(
                    own, key, now=utcnow(), max_age=timedelta(seconds=5), held_etag='"e"'
                )
                assert held == page_cache.CachedPage('"e"', None, 1)
                _, missing = page_cache.lookup_page(
                    own, "f" * 64, now=utcnow(), max_age=timedelta(seconds=5)
                )
                assert missing is None
                # PostgreSQL reads on a connection of its own; SQLite through the session.
                assert own.in_transaction() is (db.engine.dialect.name == "sqlite")
        finally:
            with db.engine.begin() as connection:
                connection.execute(sa.delete(CatalogPage).where(CatalogPage.cache_key == key))


@pytest.mark.postgres
def test_a_failing_lookup_connection_falls_back_to_the_session(app, monkeypatch):
    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    with app.app_context():
        unreachable = sa.create_engine(db.engine.url.set(port=1), pool_pre_ping=False)
    monkeypatch.setattr(page_cache, "_read_pool", lambda engine: unreachable)
    with app.app_context(), Session(bind=db.engine) as own:
        generation, page = page_cache.lookup_page(
            own, "0" * 64, now=utcnow(), max_age=timedelta(seconds=5)
        )
        assert page is None
        assert isinstance(generation, int)
    unreachable.dispose()


@pytest.mark.postgres
def test_two_workers_storing_one_page_at_once_both_succeed(app):
    """Through a session's transaction (the reference path), the second upsert waits for the
    first to commit, then replaces its row: no error reaches the GET that stored it."""
    import threading

    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    key = "r" * 64
    now = utcnow()
    with app.app_context():
        engine = db.engine
    # Sessions bound to one connection each store in their transaction, as SQLite does.
    first_connection, second_connection = engine.connect(), engine.connect()
    first, second = Session(bind=first_connection), Session(bind=second_connection)
    outcome = {}

    def second_worker():
        page_cache.store_page(second, key, 5, page_cache.CachedPage('"b"', b"[2]", 2), now=now)
        second.commit()
        outcome["stored"] = True

    try:
        page_cache.store_page(first, key, 5, page_cache.CachedPage('"a"', b"[1]", 1), now=now)
        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive(), "the second upsert should wait for the first transaction"
        first.commit()
        worker.join(10)
        assert outcome == {"stored": True}
        with engine.connect() as connection:
            row = connection.execute(
                sa.select(CatalogPage.etag, CatalogPage.total).where(CatalogPage.cache_key == key)
            ).one()
        assert tuple(row) == ('"b"', 2)
    finally:
        first.close()
        second.close()
        first_connection.close()
        second_connection.close()
        with engine.begin() as connection:
            connection.execute(sa.delete(CatalogPage).where(CatalogPage.cache_key == key))


#: Pages stored one after the other under one key: again, an older generation, a newer one.
_STORES = [
    (7, page_cache.CachedPage('"a"', b"[1]", 1, "next-a")),
    (7, page_cache.CachedPage('"a"', b"[1]", 1, "next-a")),
    (6, page_cache.CachedPage('"old"', b"[0]", 0)),
    (8, page_cache.CachedPage('"b"', "[野生蓝莓]".encode(), 1001, None)),
    (8, page_cache.CachedPage('"c"', b"[3]", 3, "next-c")),
]


def _store_current(engine, key: str, etag: str, body: bytes, *, created_at) -> int:
    """A page of one product stored under ``key``, committed, of the current generation (which
    it returns)."""
    with engine.begin() as connection:
        current = connection.execute(sa.text("SELECT value FROM catalog_generation")).scalar()
        connection.execute(
            sa.insert(CatalogPage).values(
                cache_key=key,
                generation=current,
                etag=etag,
                body=body,
                total=1,
                created_at=created_at,
            )
        )
    return current


def _stored(engine, key):
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                CatalogPage.generation,
                CatalogPage.etag,
                CatalogPage.body,
                CatalogPage.total,
                CatalogPage.next_cursor,
                CatalogPage.created_at,
            ).where(CatalogPage.cache_key == key)
        ).one_or_none()
    return None if row is None else (*row[:2], bytes(row[2]), *row[3:])


@pytest.mark.postgres
def test_a_served_store_commits_at_once_and_stores_what_the_session_stores(app):
    """On PostgreSQL a served session stores the page in autocommit on the storefront's read
    pool, not in the request's transaction; the rows are those the reference path (the upsert
    in the session's transaction) leaves, generation guard included."""
    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    served_key, reference_key = "s" * 64, "t" * 64
    with app.app_context():
        engine = db.engine
    try:
        for step, (generation, page) in enumerate(_STORES):
            now = utcnow()
            with Session(bind=engine) as served:
                page_cache.store_page(served, served_key, generation, page, now=now)
                assert not served.in_transaction()
                # Committed already: another connection sees it.
                assert _stored(engine, served_key)[0] == max(g for g, _ in _STORES[: step + 1])
            with engine.connect() as connection, Session(bind=connection) as reference:
                page_cache.store_page(reference, reference_key, generation, page, now=now)
                reference.commit()
            assert _stored(engine, served_key) == _stored(engine, reference_key)
        assert _stored(engine, served_key)[1] == '"c"'
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.delete(CatalogPage).where(CatalogPage.cache_key.in_([served_key, reference_key]))
            )


@pytest.mark.postgres
def test_a_store_that_cannot_reach_the_database_is_skipped(app, monkeypatch, caplog):
    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    with app.app_context():
        engine = db.engine
        unreachable = sa.create_engine(engine.url.set(port=1), pool_pre_ping=False)
    monkeypatch.setattr(page_cache, "_read_pool", lambda engine: unreachable)
    with app.app_context(), Session(bind=engine) as served:
        page = page_cache.CachedPage('"u"', b"[1]", 1)
        page_cache.store_page(served, "u" * 64, 3, page, now=utcnow())
    assert _stored(engine, "u" * 64) is None
    assert "catalog page not cached" in caplog.text
    unreachable.dispose()


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"q=%E8%93%9D%E8%8E%93&page=2",
        b"page_size=5&category=fruit&page=3&_=1700000000",
        b"q=a&q=b&sort=name",
        b"q=b&q=a&sort=name",
        b"q=%ZZ%E8&page_size=",
    ],
)
def test_a_query_strings_page_is_worked_out_once_as_the_request_parses_it(app, query):
    """The key a hit is looked up by comes from the raw query string, remembered; it must be
    the key of the parameters as the request itself parses them."""
    from marketplace.catalog.storefront import views

    with app.test_request_context("/api/v1/products?" + query.decode("latin-1")):
        from flask import request

        args = request.args
        assert views.page_asked(request.query_string) == (
            page_cache.cache_key(args),
            args.get("page", "1"),
            args.get("page_size", str(views.PAGE_SIZE)),
        )


@pytest.mark.postgres
def test_an_expired_page_is_rebuilt_by_one_worker_while_the_others_serve_it(app):
    """Every worker's copy of a page expires at once: the first to find it expired claims its
    rebuild (no page: build it), the others are served the expired page, leased for
    REBUILD_LEASE; once the lease has passed unreplaced, it may be claimed again."""
    from sqlalchemy.orm import Session

    from marketplace.extensions import db

    key, max_age = "l" * 64, timedelta(seconds=5)
    now = utcnow()
    with app.app_context():
        engine = db.engine
    _store_current(engine, key, '"l"', b"[1]", created_at=now - 2 * max_age)
    try:
        with app.app_context(), Session(bind=engine) as first, Session(bind=engine) as second:
            _, claimed = page_cache.lookup_page(first, key, now=now, max_age=max_age)
            assert claimed is None
            _, served = page_cache.lookup_page(second, key, now=now, max_age=max_age)
            assert served == page_cache.CachedPage('"l"', b"[1]", 1)
            _, served_again = page_cache.lookup_page(first, key, now=now, max_age=max_age)
            assert served_again == served
            later = now + page_cache.REBUILD_LEASE + timedelta(milliseconds=1)
            _, claimed_again = page_cache.lookup_page(second, key, now=later, max_age=max_age)
            assert claimed_again is None
            _, served_later = page_cache.lookup_page(first, key, now=later, max_age=max_age)
            assert served_later == served
    finally:
        with engine.begin() as connection:
            connection.execute(sa.delete(CatalogPage).where(CatalogPage.cache_key == key))
