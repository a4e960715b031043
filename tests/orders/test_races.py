"""Concurrency through the real HTTP API on a served app: the last units go to exactly as
many buyers as there are units, and a retried request never makes a second order.

They run on PostgreSQL (where the SKU row locks are what is tested) and on SQLite (where
writers queue on the database lock): both must hold the same guarantees.
"""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.catalog.models import Category, Product, ProductStatus, Sku
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderLine
from marketplace.producers.models import Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from tests.orders.conftest import ADDRESS
from tests.served import served_app, signed_in_user

BUYERS = 50
UNITS = 10


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("races")) as served:
        yield served


def _setup_shop(served, *, tag: int, stock: int, buyers: int):
    """A village, a station, one SKU with ``stock`` units and ``buyers`` buyers with tokens."""
    with served.session() as session:
        county = Region(
            code=f"2299{tag:02d}000000", name=f"竞速县{tag}", level=RegionLevel.county, path=""
        )
        session.add(county)
        session.flush()
        county.path = f"/{county.id}/"
        town = Region(
            code=f"2299{tag:02d}001000",
            name="竞速镇",
            level=RegionLevel.township,
            parent_id=county.id,
            path="",
        )
        session.add(town)
        session.flush()
        town.path = f"{county.path}{town.id}/"
        village = Region(
            code=f"2299{tag:02d}001001",
            name="竞速村",
            level=RegionLevel.village,
            parent_id=town.id,
            path="",
        )
        session.add(village)
        session.flush()
        village.path = f"{town.path}{village.id}/"
        station = Station(code=f"RACE{tag}", name=f"竞速服务站{tag}", village_id=village.id)
        session.add(station)
        session.flush()
        producer = Producer(
            kind=ProducerKind.enterprise,
            name="竞速企业",
            region_id=village.id,
            station_id=station.id,
        )
        session.add(producer)
        session.flush()
        category = session.execute(sa.select(Category).where(Category.code == "medicinal_herbs"))
        product = Product(
            station_id=station.id,
            producer_id=producer.id,
            origin_village_id=village.id,
            category_id=category.scalar_one().id,
            name="林下参 直播专享",
            unit="盒",
            status=ProductStatus.active,
            min_price_fen=39900,
        )
        session.add(product)
        session.flush()
        sku = Sku(
            product_id=product.id,
            station_id=station.id,
            code="LIVE-1",
            spec="5支装",
            price_fen=39900,
            stock=stock,
        )
        session.add(sku)
        headers = []
        for n in range(buyers):
            headers.append(
                signed_in_user(
                    session, username=f"racer{tag}-{n}", role=Role.buyer, display_name=f"买家{n}"
                )
            )
        session.flush()
        return sku.id, headers


def _post_order(served, headers, sku_id, key):
    body = json.dumps(
        {"lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS}
    ).encode()
    request = urllib.request.Request(
        f"{served.base_url}/api/v1/orders",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _all_at_once(count, work):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.slow
def test_fifty_buyers_ten_units(served):
    sku_id, headers = _setup_shop(served, tag=1, stock=UNITS, buyers=BUYERS)
    results = _all_at_once(BUYERS, lambda i: _post_order(served, headers[i], sku_id, f"race-{i}"))
    statuses = [status for status, _ in results]
    assert statuses.count(201) == UNITS
    assert statuses.count(409) == BUYERS - UNITS, statuses
    for status, body in results:
        if status == 409:
            assert body["shortages"][0]["sku_id"] == sku_id
    with served.session() as session:
        assert session.get(Sku, sku_id).stock == 0
        sold = session.execute(
            sa.select(sa.func.sum(OrderLine.quantity)).where(OrderLine.sku_id == sku_id)
        ).scalar_one()
        assert sold == UNITS


@pytest.mark.slow
def test_one_key_twenty_times_makes_one_order(served):
    sku_id, headers = _setup_shop(served, tag=2, stock=5, buyers=1)
    results = _all_at_once(20, lambda i: _post_order(served, headers[0], sku_id, "same-key"))
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    with served.session() as session:
        orders = session.execute(
            sa.select(sa.func.count())
            .select_from(Order)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.sku_id == sku_id)
        ).scalar_one()
        assert orders == 1
        assert session.get(Sku, sku_id).stock == 4


@pytest.mark.slow
def test_a_checkout_waiting_on_a_restock_sells_what_was_restocked(served):
    """The last unit went; a station restocks while a buyer's checkout waits for the SKU's
    lock. The checkout must see the restocked figure, not the empty shelf it found when it
    began (a bug of the one-statement checkout on PostgreSQL, which answered 409)."""
    sku_id, (buyer,) = _setup_shop(served, tag=3, stock=0, buyers=1)
    with served.app.app_context():
        engine = db.engine
    with engine.connect() as restock:
        restock.execute(sa.update(Sku).where(Sku.id == sku_id).values(stock=5))
        result = {}
        checkout = threading.Thread(
            target=lambda: result.update(
                answer=_post_order(served, buyer, sku_id, "while-restocking")
            )
        )
        checkout.start()
        _wait_until_blocked(engine, checkout)
        restock.commit()
        checkout.join(timeout=60)
    status, body = result["answer"]
    assert status == 201, body
    with served.session() as session:
        assert session.get(Sku, sku_id).stock == 4


def _wait_until_blocked(engine, thread, timeout=10.0):
    """Until the request is waiting for the restock's lock (PostgreSQL: a backend waiting on a
    lock; SQLite: the writer queues on the database lock, give it time to get there)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = watcher.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the checkout never waited for the restock's lock")


@pytest.mark.postgres
def test_a_retry_of_a_placed_order_waits_for_no_checkout_of_its_skus(served):
    """A buyer's retry (same key) replays the order it placed, even while another checkout
    holds the SKU's lock: it takes no stock, so it must not queue for it."""
    sku_id, (buyer,) = _setup_shop(served, tag=4, stock=5, buyers=1)
    status, placed = _post_order(served, buyer, sku_id, "placed-once")
    assert status == 201
    with served.app.app_context():
        engine = db.engine
    with engine.connect() as other_checkout:
        other_checkout.execute(sa.select(Sku.id).where(Sku.id == sku_id).with_for_update())
        result = {}
        retry = threading.Thread(
            target=lambda: result.update(answer=_post_order(served, buyer, sku_id, "placed-once"))
        )
        retry.start()
        retry.join(timeout=10)
        finished_while_locked = not retry.is_alive()
        other_checkout.rollback()
        retry.join(timeout=60)
    assert finished_while_locked, "the retry queued behind another checkout's lock"
    status, replayed = result["answer"]
    assert status == 201 and replayed["id"] == placed["id"]


def test_a_refused_checkout_leaves_its_key_free(served):
    """A served checkout reads and writes outside a transaction on PostgreSQL, and the steps
    that find out why its statement wrote nothing run in one: their claim of the key goes
    with the refusal, so the same key places the order once the stock is there."""
    sku_id, (buyer,) = _setup_shop(served, tag=5, stock=0, buyers=1)
    status, body = _post_order(served, buyer, sku_id, "refused-then-placed")
    assert status == 409, body
    with served.session() as session:
        session.get(Sku, sku_id).stock = 1
    status, body = _post_order(served, buyer, sku_id, "refused-then-placed")
    assert status == 201, body
    assert _post_order(served, buyer, sku_id, "refused-then-placed") == (201, body)
    with served.session() as session:
        assert session.get(Sku, sku_id).stock == 0
