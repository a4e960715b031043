"""The live price's cap is as hard as stock: fifty buyers rush a capped live price over real
HTTP, and never one unit more than the cap sells at it (nor more than the stock at all).

On PostgreSQL the live price's row lock (the one-statement checkout) is what is tested; on
SQLite writers queue on the database lock. Both must hold."""

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Sku
from marketplace.db import utcnow
from marketplace.livestreams.models import (
    HostKind,
    LivePrice,
    LivestreamSession,
    Platform,
    SessionState,
)
from marketplace.orders.models import OrderLine
from tests.orders.conftest import ADDRESS
from tests.orders.test_races import _all_at_once, _setup_shop
from tests.served import served_app

BUYERS = 50
UNITS_EACH = 3
CAP = 100


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("live-races")) as served:
        yield served


def _live_session(served, sku_id: int, *, code: str, cap: int) -> int:
    with served.session() as session:
        station_id = session.get(Sku, sku_id).station_id
        now = utcnow()
        live = LivestreamSession(
            code=code,
            title="县长来了",
            host_name="王县长",
            host_kind=HostKind.official,
            station_id=station_id,
            platform=Platform.own,
            room_id=f"room-{code}",
            scheduled_start=now,
            scheduled_end=now + timedelta(hours=2),
            actual_start=now,
            state=SessionState.live,
        )
        session.add(live)
        session.flush()
        price = LivePrice(session_id=live.id, sku_id=sku_id, price_fen=29900, cap=cap)
        session.add(price)
        session.flush()
        return price.id


def _order(served, headers, sku_id, key, *, code, live_only):
    body = json.dumps(
        {
            "lines": [{"sku_id": sku_id, "quantity": UNITS_EACH}],
            "shipping_address": ADDRESS,
            "livestream_code": code,
            "live_price_only": live_only,
        }
    ).encode()
    request = urllib.request.Request(
        f"{served.base_url}/api/v1/orders",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _sold(served, sku_id: int, price_id: int):
    with served.session() as session:
        live_units = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0)).where(
                OrderLine.live_price_id == price_id
            )
        ).scalar_one()
        catalog_units = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0)).where(
                OrderLine.sku_id == sku_id, OrderLine.live_price_id.is_(None)
            )
        ).scalar_one()
        counted = session.get(LivePrice, price_id).sold
        stock = session.get(Sku, sku_id).stock
    return live_units, catalog_units, counted, stock


@pytest.mark.slow
def test_fifty_buyers_get_exactly_the_cap_at_the_live_price_and_the_rest_at_the_catalog(
    served,
):
    """150 units asked for, 100 capped at the live price, 120 on the shelf: exactly 100 at the
    live price, 20 at the catalog price, 10 buyers refused for stock, nothing oversold."""
    sku_id, headers = _setup_shop(served, tag=11, stock=120, buyers=BUYERS)
    price_id = _live_session(served, sku_id, code="RUSH-A", cap=CAP)
    results = _all_at_once(
        BUYERS,
        lambda i: _order(served, headers[i], sku_id, f"rush-a-{i}", code="RUSH-A", live_only=False),
    )
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 40 and statuses.count(409) == 10, statuses
    live_units, catalog_units, counted, stock = _sold(served, sku_id, price_id)
    assert (live_units, counted) == (CAP, CAP)
    assert catalog_units == 120 - CAP
    assert stock == 0
    priced = [
        (line["pricing"], line["quantity"])
        for status, body in results
        if status == 201
        for line in body["lines"]
    ]
    assert sum(q for pricing, q in priced if pricing == "live") == CAP


@pytest.mark.slow
def test_buyers_who_want_only_the_live_price_are_refused_past_the_cap(served):
    """The same rush with live_price_only: 33 buyers get their 3 units at the live price (99),
    the rest are refused rather than charged the catalog price; the cap is never passed."""
    sku_id, headers = _setup_shop(served, tag=12, stock=500, buyers=BUYERS)
    price_id = _live_session(served, sku_id, code="RUSH-B", cap=CAP)
    results = _all_at_once(
        BUYERS,
        lambda i: _order(served, headers[i], sku_id, f"rush-b-{i}", code="RUSH-B", live_only=True),
    )
    statuses = [status for status, _ in results]
    assert statuses.count(201) == CAP // UNITS_EACH, statuses
    refused = [body for status, body in results if status == 409]
    assert len(refused) == BUYERS - CAP // UNITS_EACH
    assert all(body["type"].endswith("/live-price-unavailable") for body in refused)
    live_units, catalog_units, counted, stock = _sold(served, sku_id, price_id)
    assert (live_units, counted, catalog_units) == (99, 99, 0)
    assert stock == 500 - 99


@pytest.mark.postgres
def test_a_live_sale_waits_for_no_transaction_referring_to_its_live_price_and_sku(served):
    """A transaction inserting a row that refers to a live price or a SKU (an order line at
    that price, not yet committed) holds a KEY SHARE lock on it. Checkout's locks are FOR NO
    KEY UPDATE, which that lock does not hold up: FOR UPDATE waited for its commit."""
    sku_id, (buyer,) = _setup_shop(served, tag=13, stock=10, buyers=1)
    price_id = _live_session(served, sku_id, code="KEYSHARE", cap=None)
    with served.app.app_context():
        from marketplace.extensions import db

        engine = db.engine
    with engine.connect() as referring:
        # What inserting an order line at the live price takes, until its transaction ends.
        for table, row_id in (("live_prices", price_id), ("skus", sku_id)):
            referring.execute(
                sa.text(f"SELECT id FROM {table} WHERE id = :id FOR KEY SHARE"), {"id": row_id}
            )
        result = {}
        sale = threading.Thread(
            target=lambda: result.update(
                answer=_order(served, buyer, sku_id, "key-share", code="KEYSHARE", live_only=True)
            )
        )
        sale.start()
        sale.join(timeout=10)
        finished_while_referred_to = not sale.is_alive()
        referring.rollback()
        sale.join(timeout=60)
    assert finished_while_referred_to, "the live sale queued behind a KEY SHARE lock"
    status, order = result["answer"]
    assert status == 201, order
    assert [line["pricing"] for line in order["lines"]] == ["live"]
