"""Checkout in one statement: PostgreSQL's fast path of ``checkout.py``.

The common case, a basket that can be served under a fresh Idempotency-Key, costs one round
trip instead of seven. The statement writes everything or nothing; when it writes nothing, the
step-by-step path runs in the same transaction and finds out why, so the guarantees are the
step-by-step path's and only its happy path is shortened.

It is assembled from its owners' parts, never from copies of their rules: what is on sale, the
SKUs' locks and the stock taken come from ``catalog.stock``; the session's state, the live
prices' locks and the units counted against their caps from ``livestreams.live_prices``; the
key's claim from ``idempotency``; the new order, its lines and its events from
``orders.writing``. What is left here is the glue, and why it is safe, since data-modifying CTEs
share one snapshot:

* ``live`` then ``locked`` take the live prices' and the SKUs' row locks in id order, as the
  step-by-step path does, so two baskets sharing SKUs queue instead of deadlocking (``locked``
  reads ``live`` first, which makes PostgreSQL lock the live prices before the SKUs). ``FOR
  UPDATE`` returns each row as it is once locked, even when another checkout committed a change
  after this statement began, so the stock, price and units checked here are the current ones
  and cannot move until commit. A key already committed (a retry) skips the locks altogether:
  its replay waits for no checkout of the same SKUs.
* ``claim`` records the key only when the whole basket can be served. A duplicate key,
  committed or still in flight (the insert waits for it), makes it return no row, and
  everything after it is gated on that row. The order id is drawn from the orders sequence in
  the claim itself, so the claim records what it created without a second statement.
* ``taken`` and ``live_taken`` set the locked figures less (plus) the quantities, never
  filtering on their own snapshot (see ``catalog.stock.stock_taken``); ``servable`` checked
  the locked figures, the CHECK constraints back them, and ``new_order`` is only written when
  every line was taken.

The basket's arrays are read through ``(SELECT ...)``, which hides their length from the
planner. Seeing it, PostgreSQL judged each run's custom plan cheaper than the prepared generic
one and planned the statement anew on every checkout, which took longer than running it; not
seeing it, it plans once per connection (the same plan: index scans on the SKUs' keys).

The statement is built once and compiled once per dialect, and each checkout sends its text
with the basket's values as PostgreSQL's own (``numbered_statement.py`` says why).
"""

import functools
from datetime import datetime

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from marketplace import idempotency
from marketplace.catalog import stock
from marketplace.db import UTCDateTime
from marketplace.livestreams import live_prices
from marketplace.orders import numbered_statement, writing
from marketplace.orders.models import EventDimension, LinePricing, OrderStatus, PaymentStatus


class Unplaced(Exception):
    """The key was claimed but not every SKU could be taken: unreachable while the rows are
    locked. The statement then aborts itself (see ``build``), and the caller must roll the
    transaction back."""


def _param(name: str, type_=sa.String):
    return sa.bindparam(name, type_=type_)


def _array(name: str):
    # (SELECT :x::integer[]): the planner does not see the array's length.
    return sa.select(_param(name, ARRAY(sa.Integer))).scalar_subquery()


def _count(cte, *where) -> sa.ScalarSelect:
    return sa.select(sa.func.count()).select_from(cte).where(*where).scalar_subquery()


def _gates():
    """The basket (``wanted``), whether its key is free (``fresh``) and its session (``code``)."""
    unnested = (
        sa.func.unnest(_array("sku_ids"), _array("quantities"))
        .table_valued("sku_id", "quantity", with_ordinality="position")
        .render_derived(name="w")
    )
    wanted = sa.select(unnested.c.sku_id, unnested.c.quantity, unnested.c.position).cte("wanted")
    fresh = sa.select(
        idempotency.unclaimed(_param("buyer_id", sa.Integer), _param("scope"), _param("key")).label(
            "ok"
        )
    ).cte("fresh")
    code = live_prices.session_by_code(_param("code")).cte("code")
    return wanted, fresh, code


def _basket(wanted, fresh, code):
    """The locks, live prices first, and each wanted line with what it may be sold at."""
    is_fresh = sa.select(fresh.c.ok).scalar_subquery()
    is_live = sa.select(code.c.is_live).scalar_subquery()
    live = (
        live_prices.locked_for_basket(code.c.session_id, sa.select(wanted.c.sku_id))
        .where(code.c.is_live, is_fresh)
        .cte("live")
    )
    locked = (
        stock.locked_for_sale(sa.select(wanted.c.sku_id))
        .where(is_fresh, _count(live) >= 0)
        .cte("locked")
    )
    catalog_pricing = sa.case(
        (_param("code").is_(None), LinePricing.catalog.value),
        (sa.not_(is_live), LinePricing.session_not_live.value),
        (live.c.id.is_(None), LinePricing.not_featured.value),
        else_=LinePricing.cap_reached.value,
    )
    basket = (
        sa.select(
            locked,
            wanted.c.quantity,
            wanted.c.position,
            live.c.id.label("live_id"),
            live.c.price_fen.label("live_price"),
            live.c.sold.label("live_sold"),
            live_prices.live_units_sql(live.c.id, live.c.cap, live.c.sold, wanted.c.quantity).label(
                "live_quantity"
            ),
            catalog_pricing.label("catalog_pricing"),
        )
        .select_from(
            wanted.join(locked, locked.c.id == wanted.c.sku_id).outerjoin(
                live, live.c.sku_id == wanted.c.sku_id
            )
        )
        .cte("basket")
    )
    return basket


def _claim(basket, code):
    short = sa.func.count().filter(basket.c.live_quantity < basket.c.quantity)
    servable = (
        sa.select(
            sa.and_(
                sa.func.count() == _param("line_count", sa.Integer),
                sa.or_(_param("code").is_(None), sa.exists(sa.select(1).select_from(code))),
                # As the steps price it: without a session, every unit is at the catalog
                # price and live_price_only asks nothing.
                sa.or_(
                    _param("code").is_(None), sa.not_(_param("live_only", sa.Boolean)), short == 0
                ),
            ).label("ok")
        )
        .where(basket.c.on_sale, stock.can_serve(basket.c.stock, basket.c.quantity))
        .cte("servable")
    )
    now = _param("now", UTCDateTime())
    next_order_id = sa.func.nextval(sa.func.pg_get_serial_sequence("orders", "id"))
    claimed = sa.select(
        _param("buyer_id", sa.Integer),
        _param("scope"),
        _param("key"),
        _param("request_hash"),
        sa.literal(201),
        next_order_id,
        now,
        now,
    ).where(servable.c.ok)
    return idempotency.claim_insert(claimed).cte("claim")


def _parts(basket):
    """Each line's live units, then the rest at the catalog price, in the basket's order."""
    b = basket.c
    live_units = sa.select(
        b.id.label("sku_id"),
        b.product_id,
        b.station_id,
        b.producer_id,
        b.product_name,
        b.spec,
        b.price_fen.label("list_price"),
        b.live_price.label("unit_price"),
        b.live_quantity.label("part_quantity"),
        sa.literal(LinePricing.live.value).label("pricing"),
        b.live_id.label("live_price_id"),
        b.position,
        sa.literal(1).label("part"),
    ).where(b.live_quantity > 0)
    catalog_units = sa.select(
        b.id,
        b.product_id,
        b.station_id,
        b.producer_id,
        b.product_name,
        b.spec,
        b.price_fen,
        b.price_fen,
        b.quantity - b.live_quantity,
        b.catalog_pricing,
        sa.cast(sa.null(), sa.Integer),
        b.position,
        sa.literal(2),
    ).where(b.quantity > b.live_quantity)
    return sa.union_all(live_units, catalog_units).cte("parts")


def _new_order(claim, code, basket, parts, taken, live_taken):
    p = parts.c
    address = ("recipient_name", "recipient_phone", "province", "city", "district")
    values = {
        "id": claim.c.resource_id,
        "number": _param("number"),
        "buyer_id": _param("buyer_id", sa.Integer),
        "unit_id": _param("unit_id", sa.Integer),
        "channel": _param("channel"),
        "livestream_session_id": sa.select(code.c.session_id).scalar_subquery(),
        "status": sa.literal(OrderStatus.pending_payment.name),
        "payment_status": sa.literal(PaymentStatus.unpaid.name),
        "total_fen": sa.select(sa.func.sum(p.unit_price * p.part_quantity)).scalar_subquery(),
        "refunded_fen": sa.literal(0),
        "currency": sa.literal(stock.CURRENCY),
        **{name: _param(name) for name in (*address, "address_line", "postal_code", "note")},
        "hold_expires_at": _param("hold_expires_at", UTCDateTime()),
        "created_at": _param("now", UTCDateTime()),
        "paid_at": sa.cast(sa.null(), UTCDateTime()),
        "version": sa.literal(1),
    }
    rows = sa.select(*(values[name] for name in writing.ORDER_COLUMNS)).where(
        _count(taken) == _param("line_count", sa.Integer),
        _count(live_taken) == _count(basket, basket.c.live_quantity > 0),
    )
    return writing.order_insert(rows).cte("new_order")


def _new_lines(new_order, parts):
    p = parts.c
    values = {
        "order_id": new_order.c.id,
        "sku_id": p.sku_id,
        "product_id": p.product_id,
        "station_id": p.station_id,
        "producer_id": p.producer_id,
        "product_name": p.product_name,
        "sku_spec": p.spec,
        "unit_price_fen": p.unit_price,
        "quantity": p.part_quantity,
        "line_total_fen": p.unit_price * p.part_quantity,
        "discount_fen": sa.literal(0),
        "list_price_fen": p.list_price,
        "pricing": p.pricing,
        "live_price_id": p.live_price_id,
        "refunded_quantity": sa.literal(0),
        "refunded_fen": sa.literal(0),
    }
    rows = (
        sa.select(*(values[name] for name in writing.LINE_COLUMNS))
        .select_from(new_order.join(parts, sa.true()))
        .order_by(p.position, p.part)
    )
    return writing.lines_insert(rows).cte("new_lines")


def _new_events(new_order):
    placed = sa.values(
        sa.column("position", sa.Integer),
        sa.column("dimension", sa.String),
        sa.column("to_value", sa.String),
        name="placed",
        literal_binds=True,
    ).data(
        [
            (1, EventDimension.status.name, OrderStatus.pending_payment.value),
            (2, EventDimension.payment.name, PaymentStatus.unpaid.value),
        ]
    )
    rows = (
        sa.select(
            new_order.c.id,
            placed.c.dimension,
            sa.cast(sa.null(), sa.String),
            placed.c.to_value,
            _param("buyer_id", sa.Integer),
            sa.literal("placed"),
            _param("now", UTCDateTime()),
        )
        .select_from(new_order.join(placed, sa.true()))
        .order_by(placed.c.position)
    )
    return writing.events_insert(rows).cte("new_events")


#: The columns of each line the statement hands back, in its order after the order's.
LINE_COLUMNS = (
    "id",
    "sku_id",
    "product_id",
    "station_id",
    "producer_id",
    "product_name",
    "sku_spec",
    "unit_price_fen",
    "quantity",
    "line_total_fen",
    "list_price_fen",
    "pricing",
    "live_price_id",
)


def build() -> sa.Select:
    """The whole statement: one row (none when nothing was written) of the order's id, its
    session, and its new lines as one JSON array of arrays (``LINE_COLUMNS``, by id; NULL when
    the key was claimed but the lines were not written).

    One row of three columns rather than a row of thirteen per line: the driver describes
    every column of a result, and reading that description was a tenth of a checkout's time
    in Python (py-spy under load)."""
    wanted, fresh, code = _gates()
    basket = _basket(wanted, fresh, code)
    claim = _claim(basket, code)
    taken = stock.stock_taken(basket, claim, _param("now", UTCDateTime())).cte("taken")
    live_taken = live_prices.live_units_counted(basket, claim).cte("live_taken")
    parts = _parts(basket)
    new_order = _new_order(claim, code, basket, parts, taken, live_taken)
    new_lines = _new_lines(new_order, parts)
    placed = sa.select(
        sa.func.json_agg(
            aggregate_order_by(
                sa.func.json_build_array(*(new_lines.c[name] for name in LINE_COLUMNS)),
                new_lines.c.id,
            )
        ).label("lines")
    ).cte("placed")
    # A claim without its order must not stand, even where the statement is its own
    # transaction (checkout runs it so, outside one): dividing by zero aborts it whole.
    order_id = sa.case(
        (placed.c.lines.is_(None), claim.c.resource_id // 0), else_=claim.c.resource_id
    )
    return (
        sa.select(
            order_id,
            sa.select(new_order.c.livestream_session_id).scalar_subquery(),
            placed.c.lines,
        )
        .select_from(claim.join(placed, sa.true()))
        .add_cte(_new_events(new_order))
    )


@functools.cache
def _compiled(dialect) -> tuple[str, tuple[str, ...]]:
    """The statement's text for ``dialect`` and its parameters' names (``numbered_statement``)."""
    return numbered_statement.compile_numbered(build(), dialect)


def run(
    connection,
    *,
    order_values: dict,
    lines: list[dict],
    code: str | None,
    live_only: bool,
    scope: str,
    key: str,
    request_hash: str,
    now: datetime,
) -> tuple[int, int | None, list[dict]] | None:
    """Write the order in one statement. Returns its id, its session and its lines (ordered
    by id), or None when nothing was written because the basket, the code or the key stood in
    the way. ``order_values`` hold the order's columns (enums by name)."""
    text, names = _compiled(connection.dialect)
    values = {
        **order_values,
        "sku_ids": [line["sku_id"] for line in lines],
        "quantities": [line["quantity"] for line in lines],
        "line_count": len(lines),
        "code": code,
        "live_only": live_only,
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "now": now,
    }
    try:
        rows = numbered_statement.execute(connection, text, tuple(values[name] for name in names))
    except sa.exc.DataError as error:
        if isinstance(error.orig, psycopg.errors.DivisionByZero):
            raise Unplaced("the key was claimed but the stock was not all taken") from error
        raise
    if not rows:
        return None
    ((order_id, session_id, written),) = rows
    placed = []
    for values in written:
        line = dict(zip(LINE_COLUMNS, values, strict=True))
        line["pricing"] = LinePricing(line["pricing"])
        placed.append(line)
    return order_id, session_id, placed
