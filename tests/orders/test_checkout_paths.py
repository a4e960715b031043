"""The two checkout paths (orders/checkout.py): the PostgreSQL one-statement checkout writes
exactly what the step-by-step checkout writes, or nothing at all: whatever stands in its way,
the step-by-step path runs after it in the same transaction and must find every table as it
was."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import ProductStatus, Sku
from marketplace.db import utcnow
from marketplace.errors import ValidationFailed
from marketplace.livestreams.models import (
    HostKind,
    LivePrice,
    LivestreamSession,
    Platform,
    SessionState,
)
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


# --- live prices ------------------------------------------------------------------------------


def _live_session(session, shop, *, code: str, cap: int, is_live: bool = True):
    """A live session of the shop's first station featuring the 500 g box at 58.00 within
    ``cap`` units (written directly: the orders domain reads only its code and prices)."""
    now = utcnow()
    live = LivestreamSession(
        code=code,
        title="蓝莓节直播",
        host_name="李站长",
        host_kind=HostKind.station_operator,
        station_id=shop.station.id,
        platform=Platform.douyin,
        room_id=f"room-{code}",
        scheduled_start=now,
        scheduled_end=now + HOLD,
        state=SessionState.live if is_live else SessionState.scheduled,
    )
    session.add(live)
    session.flush()
    session.add(LivePrice(session_id=live.id, sku_id=shop.sku_500g.id, price_fen=5800, cap=cap))
    session.flush()
    return live


def _as_priced(session, order_id: int) -> dict:
    """As written, but for the session and live price each path was given (and the request's
    fingerprint, since the bodies name different codes)."""
    written = _as_written(session, order_id)
    written["order"].pop("livestream_session_id")
    written.pop("key")
    for line in written["lines"]:
        line.pop("live_price_id")
    return written


def test_both_paths_price_and_split_a_live_basket_alike(session, shop):
    actor = _buyer(shop)
    _live_session(session, shop, code="FAST", cap=1)
    _live_session(session, shop, code="SLOW", cap=1)
    lines = ((shop.sku_500g, 3), (shop.sku_1kg, 1))
    fast = _fast(session, actor, _checkout_body(*lines, livestream_code="FAST"), "fast-live")
    slow = _step_by_step(session, actor, _checkout_body(*lines, livestream_code="SLOW"), "slow")
    assert fast is not None
    assert [(line.quantity, line.unit_price_fen, line.pricing.value) for line in fast.lines] == [
        (1, 5800, "live"),
        (2, 6800, "cap_reached"),
        (1, 12800, "not_featured"),
    ]
    assert _as_priced(session, fast.id) == _as_priced(session, slow.id)
    sold = session.execute(sa.select(LivePrice.sold).order_by(LivePrice.id)).scalars().all()
    assert sold == [1, 1]


def test_a_session_not_live_prices_alike_on_both_paths(session, shop):
    actor = _buyer(shop)
    _live_session(session, shop, code="OFF-A", cap=5, is_live=False)
    _live_session(session, shop, code="OFF-B", cap=5, is_live=False)
    fast = _fast(session, actor, _checkout_body((shop.sku_500g, 1), livestream_code="OFF-A"), "a")
    slow = _step_by_step(
        session, actor, _checkout_body((shop.sku_500g, 1), livestream_code="OFF-B"), "b"
    )
    assert [line.pricing.value for line in fast.lines] == ["session_not_live"]
    assert _as_priced(session, fast.id) == _as_priced(session, slow.id)


def _unknown_code(session, shop):
    return _checkout_body((shop.sku_500g, 1), livestream_code="NOBODY")


def _live_only_beyond_the_cap(session, shop):
    _live_session(session, shop, code="ONLY", cap=1)
    body = _checkout_body((shop.sku_500g, 2), livestream_code="ONLY")
    body["live_price_only"] = True
    return body


@pytest.mark.parametrize("basket", [_unknown_code, _live_only_beyond_the_cap])
def test_a_live_basket_that_cannot_be_served_writes_nothing(session, shop, basket):
    data = basket(session, shop)
    before = _counts(session)
    sold = session.execute(sa.select(sa.func.coalesce(sa.func.sum(LivePrice.sold), 0))).scalar()
    assert _fast(session, _buyer(shop), data, "cannot-serve-live") is None
    assert _counts(session) == before
    assert (
        session.execute(sa.select(sa.func.coalesce(sa.func.sum(LivePrice.sold), 0))).scalar()
        == sold
    )


# --- any basket -------------------------------------------------------------------------------

#: A basket of the shop's three SKUs (by index): distinct SKUs, one to twelve units each.
baskets = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 12)),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line[0],
)
#: A livestream the basket names, or none: whether it is live, and each SKU's live price cap
#: (absent: not featured; None: no cap).
sessions = st.none() | st.tuples(
    st.booleans(), st.lists(st.none() | st.integers(0, 6), min_size=3, max_size=3)
)


def _outcome(session, path, actor, data, key) -> tuple:
    """What one path does to the database (rolled back afterwards): the order it stored, or
    the refusal, and every SKU's stock and live price's units."""
    savepoint = session.begin_nested()
    try:
        order = path(session, actor, data, key)
        result = None if order is None else _as_written(session, order.id)
    except (checkout.OutOfStock, checkout.LivePriceUnavailable) as refused:
        result = type(refused).__name__
    except ValidationFailed:
        result = "ValidationFailed"
    session.flush()
    session.expire_all()
    after = (
        dict(session.execute(sa.select(Sku.id, Sku.stock)).all()),
        dict(session.execute(sa.select(LivePrice.id, LivePrice.sold)).all()),
    )
    savepoint.rollback()
    return result, after


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=baskets, live=sessions, live_only=st.booleans())
# Found by this test: the statement refused live_price_only without a session, which the steps
# price at the catalog's (so every such checkout paid for both paths).
@example(lines=[(0, 1)], live=None, live_only=True)
def test_any_basket_is_placed_alike_or_left_to_the_steps(session, shop, lines, live, live_only):
    """The one statement stores exactly the rows, stock and live units the steps store, or
    stores nothing, in which case the steps refuse it (a 409 or a 422)."""
    skus = (shop.sku_500g, shop.sku_1kg, shop.sku_ginseng)
    code = None
    if live is not None:
        is_live, caps = live
        code = "ANY"
        session.execute(sa.delete(LivePrice))
        session.execute(sa.delete(LivestreamSession).where(LivestreamSession.code == code))
        live_session = _live_session(session, shop, code=code, cap=0, is_live=is_live)
        session.execute(sa.delete(LivePrice).where(LivePrice.session_id == live_session.id))
        for sku, cap in zip(skus, caps, strict=True):
            if cap != 0:
                session.add(
                    LivePrice(
                        session_id=live_session.id,
                        sku_id=sku.id,
                        price_fen=sku.price_fen - 100,
                        cap=cap,
                    )
                )
        session.flush()
    data = _checkout_body(*((skus[i], quantity) for i, quantity in lines), livestream_code=code)
    data["live_price_only"] = live_only
    actor = _buyer(shop)
    untouched = (
        dict(session.execute(sa.select(Sku.id, Sku.stock)).all()),
        dict(session.execute(sa.select(LivePrice.id, LivePrice.sold)).all()),
    )
    note(repr((lines, live, live_only)))
    fast, after_fast = _outcome(session, _fast, actor, data, "any-fast")
    slow, after_slow = _outcome(session, _step_by_step, actor, data, "any-slow")
    if fast is None:
        assert isinstance(slow, str), slow  # the steps refuse what the statement left
        assert after_fast == untouched
    else:
        fast.pop("key"), slow.pop("key")
        assert fast == slow
        assert after_fast == after_slow


def test_the_statement_goes_with_numbered_placeholders_only(session):
    """psycopg rewrites ``%(name)s`` on every execution of a statement over 4 KB; the one
    statement is sent with ``$n`` placeholders instead, one per distinct parameter, and no
    pyformat left in it (a literal percent sign would have been doubled). Its constants are
    literals of the text: the placeholders are the checkout's values alone."""
    import re

    from marketplace.orders import checkout_statement

    text, names = checkout_statement._compiled(session.get_bind().dialect)
    assert "%(" not in text and "%%" not in text
    numbers = {int(n) for n in re.findall(r"\$(\d+)", text)}
    assert numbers == set(range(1, len(names) + 1)) and len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z_]+", name) for name in names), names
