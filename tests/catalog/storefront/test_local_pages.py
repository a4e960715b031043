"""Each worker's in-memory copies of storefront pages (catalog/local_pages.py), on a served app
with a real pool: on PostgreSQL with the notification trigger of migration 0004, on SQLite with
the file's data version.

To tell a copy from the shared cache, the shared page is overwritten behind the app's back
(no generation change, so nothing tells the workers): a response with the original body came
from the worker's copy. The cache lifetime is long here, so that only a notification, never
an expiry, can explain a page changing.
"""

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import notices
from marketplace.accounts.models import Role
from marketplace.catalog.models import CatalogPage, Sku
from marketplace.catalog.storefront import local_pages, page_cache
from marketplace.db import utcnow
from tests.orders.test_races import _setup_shop
from tests.payments.conftest import eventually
from tests.served import served_app, signed_in_user

LIST = "/api/v1/products?sort=price_asc"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("local-pages"), CATALOG_CACHE_SECONDS=300) as served:
        yield served


@pytest.fixture
def shop(served):
    """A SKU on sale and its station's operator, in a catalog of its own (a fresh tag)."""
    shop.tag = getattr(shop, "tag", 80) + 1
    sku_id, _ = _setup_shop(served, tag=shop.tag, stock=5, buyers=0)
    with served.session() as session:
        sku = session.get(Sku, sku_id)
        station = signed_in_user(
            session,
            username=f"operator{shop.tag}",
            role=Role.station,
            display_name="站长",
            station_id=sku.station_id,
        )
        product_id = sku.product_id
        # Listed behind the API's back: announce it as the API would.
        page_cache.invalidate_pages(session)
        session.info.pop("after_commit", None)
    eventually(lambda: _price_listed(served, sku_id), timeout=2, what="the new SKU listed")
    return {
        "sku_id": sku_id,
        "product_id": product_id,
        "station": station,
    }


def _send(served, method, path, headers=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{served.base_url}{path}",
        data=data,
        method=method,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:  # urllib raises for a 304 too
        return error.code, error.headers, error.read()


def _price_listed(served, sku_id):
    status, _, body = _send(served, "GET", LIST)
    assert status == 200
    prices = {sku["id"]: sku["price_fen"] for card in json.loads(body) for sku in card["skus"]}
    return prices.get(sku_id)


def _overwrite_shared_pages(served):
    with served.session() as session:
        session.execute(sa.update(CatalogPage).values(body=b"[]", etag='"overwritten"'))


def _change_price_elsewhere(served, sku_id, price):
    """What another worker, another host or a script does: commit a price and a new
    generation; nothing in this process hears of it but through PostgreSQL."""
    with served.session() as session:
        session.execute(sa.update(Sku).where(Sku.id == sku_id).values(price_fen=price))
        page_cache.invalidate_pages(session)
        session.info.pop("after_commit", None)  # not this worker's request: no local drop


def test_a_repeated_list_is_served_from_the_workers_copy(served, shop):
    first = _send(served, "GET", LIST)
    _overwrite_shared_pages(served)
    again = _send(served, "GET", LIST)
    assert again[2] == first[2] != b"[]"
    assert again[1]["ETag"] == first[1]["ETag"]
    # A conditional request is answered from the copy too.
    status, _, _ = _send(served, "GET", LIST, {"If-None-Match": first[1]["ETag"]})
    assert status == 304


def test_a_change_committed_elsewhere_reaches_the_copy(served, shop):
    assert _price_listed(served, shop["sku_id"]) == 39900
    _change_price_elsewhere(served, shop["sku_id"], 29900)
    eventually(
        lambda: _price_listed(served, shop["sku_id"]) == 29900,
        timeout=2,
        what="the new price in the anonymous list",
    )


def test_a_change_through_this_worker_shows_on_the_very_next_request(served, shop):
    assert _price_listed(served, shop["sku_id"]) == 39900
    status, _, _ = _send(
        served,
        "PATCH",
        f"/api/v1/products/{shop['product_id']}/skus/{shop['sku_id']}",
        shop["station"],
        {"price_fen": 19900, "version": 1},
    )
    assert status == 200
    assert _price_listed(served, shop["sku_id"]) == 19900


@pytest.mark.postgres
def test_a_lost_listener_falls_back_to_the_shared_cache_then_listens_again(
    served, shop, monkeypatch
):
    monkeypatch.setattr(notices, "RETRY_SECONDS", 0.0)
    assert _price_listed(served, shop["sku_id"]) == 39900
    with served.session() as session:
        database = session.execute(sa.text("SELECT current_database()")).scalar_one()
    pids = _watch_backends(served, database)
    assert pids, "the worker listens for catalog changes"
    with served.session() as session:
        for pid in pids:
            session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    eventually(lambda: not (set(_watch_backends(served, database)) & set(pids)), timeout=5)

    # The change is seen at once: the worker notices its listener is gone and reads through
    # the shared cache.
    _change_price_elsewhere(served, shop["sku_id"], 9900)
    assert _price_listed(served, shop["sku_id"]) == 9900

    # The next request listens again, on a new connection, and copies serve again.
    first = _send(served, "GET", LIST)
    assert set(_watch_backends(served, database)) - set(pids)
    _overwrite_shared_pages(served)
    assert _send(served, "GET", LIST)[2] == first[2]


def _watch_backends(served, database) -> list[int]:
    with served.session() as session:
        return list(
            session.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db"
                    " AND application_name = 'marketplace catalog watch'"
                ),
                {"db": database},
            ).scalars()
        )


class _SilentWatch:
    """A watch that never hears of a change (a notice still on its way)."""

    def __init__(self, generation):
        self.generation = generation

    def poll(self, known):
        return self.generation

    def close(self):
        pass


def test_a_workers_own_change_outranks_a_page_read_before_it():
    """Threads of one worker: one commits a change while another still holds a page it read
    before; the old page must not become this worker's copy, whatever the watch says."""
    pages = local_pages.LocalPages(_SilentWatch(1))
    now = utcnow()
    before = local_pages.LocalPage(1, '"old"', b"[]", 0, now)
    max_age = timedelta(seconds=300)
    assert pages.fresh_copy("k", now=now, max_age=max_age) is None
    pages.keep("k", before)
    assert pages.fresh_copy("k", now=now, max_age=max_age) is before

    pages.catch_up(2)  # this worker's commit of generation 2
    assert pages.fresh_copy("k", now=now, max_age=max_age) is None
    pages.keep("k", before)  # the other thread, finishing late
    assert pages.fresh_copy("k", now=now, max_age=max_age) is None
    fresh = local_pages.LocalPage(2, '"new"', b"[]", 0, now)
    pages.keep("k", fresh)
    assert pages.fresh_copy("k", now=now, max_age=max_age) is fresh


def test_a_change_schedules_the_catch_up_to_its_own_generation(served):
    with served.session() as session:
        page_cache.invalidate_pages(session)
        (catch_up,) = session.info.pop("after_commit")
        committed = session.execute(
            sa.text("SELECT value FROM catalog_generation WHERE id = 1")
        ).scalar_one()
        local = local_pages.for_session(session)
    assert catch_up.func == local.catch_up and catch_up.args == (committed,)
