"""The two checkout paths (orders/checkout.py): the PostgreSQL one-statement checkout writes
exactly what the step-by-step checkout writes, or nothing at all: whatever stands in its way,
the step-by-step path runs after it in the same transaction and must find every table as it
was."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import ProductStatus, Sku
from marketplace.db import utcnow
from marketplace.orders import checkout
from marketplace.orders.models import Order, OrderEvent, OrderLine
from tests.orders.conftest import ADDRESS

pytestmark = pytest.mark.postgres

HOLD = timedelta(minutes=30)


def _buyer(shop) -> Actor:
    return Actor(user_id=shop.buyer.id, username=shop.buyer.username, role=Role.buyer)


def _checkout_body(*lines, livestream_code=None):
    return {
        "lines": [{"sku_id": sku.id, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": dict(ADDRESS),
        "livestream_code": livestream_code,
        "note": "请放门卫",
    }


def _fast(session, actor, data, key):
    now = utcnow()
    values = checkout._order_values(actor, data, HOLD, now)
    return checkout._place_in_one_statement(session, actor, data, values, key=key, now=now)


def _step_by_step(session, actor, data, key):
    claim = idempotency.claim(
        session, user_id=actor.user_id, scope=checkout.CHECKOUT_SCOPE, key=key, body=data
    )
    values = checkout._order_values(actor, data, HOLD, utcnow())
    order = checkout._place(session, actor, data, values)
    idempotency.complete(session, claim, status=201, resource_id=order.id)
    return order


def _as_written(session, order_id: int) -> dict:
    """What was stored for the order, without what differs between any two orders."""
    session.expire_all()
    order = session.get(Order, order_id)
    skip = {"id", "number", "created_at", "hold_expires_at", "order_id"}

    def columns(row):
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}

    lines = session.scalars(
        sa.select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
    )
    events = session.scalars(
        sa.select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    )
    key = session.scalars(
        sa.select(idempotency.IdempotencyKey).where(
            idempotency.IdempotencyKey.resource_id == order_id
        )
    ).one()
    return {
        "order": columns(order),
        "lines": [columns(line) for line in lines],
        "events": [{k: v for k, v in columns(e).items() if k != "created_at"} for e in events],
        "key": (key.scope, key.request_hash, key.response_status, key.completed_at is not None),
    }


def test_one_statement_writes_what_the_steps_write(session, shop):
    actor = _buyer(shop)
    data = _checkout_body((shop.sku_1kg, 2), (shop.sku_ginseng, 1), (shop.sku_500g, 3))
    fast = _fast(session, actor, data, "fast")
    slow = _step_by_step(session, actor, data, "slow")

    assert fast is not None
    assert [line.sku_id for line in fast.lines] == [
        shop.sku_1kg.id,
        shop.sku_ginseng.id,
        shop.sku_500g.id,
    ]
    assert fast.total_fen == 2 * 12800 + 39900 + 3 * 6800 == slow.total_fen
    assert _as_written(session, fast.id) == _as_written(session, slow.id)
    # The order handed back to the view is what was stored.
    stored = _as_written(session, fast.id)
    assert [line.quantity for line in fast.lines] == [row["quantity"] for row in stored["lines"]]
    stocks = session.execute(
        sa.select(Sku.id, Sku.stock).where(Sku.id.in_([shop.sku_500g.id, shop.sku_1kg.id]))
    ).all()
    assert dict(stocks) == {shop.sku_500g.id: 10 - 6, shop.sku_1kg.id: 5 - 4}


def _counts(session) -> dict:
    session.expire_all()
    tables = (Order, OrderLine, OrderEvent, idempotency.IdempotencyKey)
    counts = {
        t.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables
    }
    counts["stock"] = dict(session.execute(sa.select(Sku.id, Sku.stock)).all())
    return counts


def _short(session, shop):
    return _checkout_body((shop.sku_500g, 2), (shop.sku_1kg, 6))


def _unknown(session, shop):
    body = _checkout_body((shop.sku_500g, 2))
    body["lines"].append({"sku_id": 987654, "quantity": 1})
    return body


def _inactive_sku(session, shop):
    shop.sku_1kg.is_active = False
    session.flush()
    return _checkout_body((shop.sku_500g, 1), (shop.sku_1kg, 1))


def _delisted(session, shop):
    shop.ginseng.status = ProductStatus.delisted
    session.flush()
    return _checkout_body((shop.sku_500g, 1), (shop.sku_ginseng, 1))


@pytest.mark.parametrize("basket", [_short, _unknown, _inactive_sku, _delisted])
def test_a_basket_that_cannot_be_served_writes_nothing(session, shop, basket):
    data = basket(session, shop)
    before = _counts(session)
    assert _fast(session, _buyer(shop), data, "cannot-serve") is None
    assert _counts(session) == before


def test_a_key_already_used_writes_nothing(session, shop):
    actor = _buyer(shop)
    data = _checkout_body((shop.sku_500g, 1))
    assert _fast(session, actor, data, "once") is not None
    before = _counts(session)
    assert _fast(session, actor, data, "once") is None
    assert _fast(session, actor, _checkout_body((shop.sku_1kg, 1)), "once") is None
    assert _counts(session) == before
