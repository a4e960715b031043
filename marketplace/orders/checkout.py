"""Checkout: placing an order takes the stock and writes the order in one short transaction,
by one of two paths that write exactly the same rows.

* **Step by step** (``_place``), the reference and the only path on SQLite: claim the
  idempotency key, lock the session's live prices and then the SKUs in id order, take the
  stock and the live-price units, write the order, its lines and its first events. Its
  statement count does not depend on the number of lines, and it answers every refusal
  precisely (a 422 naming the line, a 409 with what is left, a replay of the earlier order).
* **In one statement** (``_place_in_one_statement``), PostgreSQL's fast path: the common case,
  a basket that can be served under a fresh Idempotency-Key, costs one round trip instead of
  seven. It writes everything or nothing; when it writes nothing, the step-by-step path runs in
  the same transaction and finds out why. So the guarantees are those of the step-by-step path,
  and only its happy path is shortened.

Talking to a payment provider happens after the commit, in ``payments/order_payment.py``.

**Live prices.** A basket that names a livestream session's code is tied to the session and
priced by it (``LiveCode``, ``LivePrice``): while the session is live, a featured SKU costs its
live price for as many units as the price's cap has left; the rest of a line, or a line the
session does not feature or names while it is not live, costs the catalog price, and each line
says which price applied and why (``LinePricing``). A line the cap covers only in part becomes
two lines, the live units and the rest. A buyer who wants the live price or nothing
(``live_price_only``) gets a 409 instead of catalog-priced units. The cap is counted under the
live price's row lock, taken before the SKUs' in both paths, so it is as hard as stock.

The one statement, and why each part of it is safe, since data-modifying CTEs share one
snapshot:

* ``live`` then ``locked`` take the live prices' and the SKUs' row locks in id order, as the
  step-by-step path does, so two baskets sharing SKUs queue instead of deadlocking
  (``locked`` reads ``live`` first, which makes PostgreSQL lock the live prices before the
  SKUs). ``FOR UPDATE`` returns each row as it is once locked, even when another checkout
  committed a change after this statement began, so the stock, price and units checked and
  snapshotted here are the current ones and cannot move until commit. A key already committed
  (a retry) skips the locks altogether: its replay waits for no checkout of the same SKUs.
* ``claim`` inserts the key only when the whole basket can be served. A duplicate key, committed
  or still in flight (the insert waits for it), makes ``ON CONFLICT DO NOTHING`` return no row,
  and everything after it is gated on that row. The order id is drawn from the orders sequence
  in the claim itself, so the claim records what it created without a second statement.
* ``taken`` sets every line's SKU to the locked stock minus the quantity (and ``live_taken``
  every live price's units to the locked count plus the live quantity). It must not filter
  on the stock it scans: that is the statement's snapshot, from before it waited for the lock,
  and PostgreSQL re-checks only rows that passed the filter there, so a SKU restocked from 0
  while this checkout waited would be skipped. ``servable`` checked the locked figures and the
  CHECK constraints back them; ``new_order`` is only written when every line was taken.

The basket's arrays are read through ``(SELECT ...)``, which hides their length from the
planner. Seeing it, PostgreSQL judged each run's custom plan cheaper than the prepared generic
one and planned this statement anew on every checkout, which took longer than running it;
not seeing it, it plans once per connection (the same plan: index scans on the SKUs' keys).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.clock import shanghai_today
from marketplace.db import UTCDateTime, utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.orders import states
from marketplace.orders.models import (
    Channel,
    LinePricing,
    LiveCode,
    LivePrice,
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from marketplace.orders.service import get_order

CHECKOUT_SCOPE = "checkout"


class OutOfStock(Conflict):
    code, title = "out-of-stock", "Not enough stock"


class LivePriceUnavailable(Conflict):
    code, title = "live-price-unavailable", "The live price does not cover the basket"


def _order_number() -> str:
    # Date for people reading it; 10 random base32 characters so numbers reveal no volumes.
    return f"MK{shanghai_today():%Y%m%d}{secrets.token_hex(5).upper()}"


def checkout(
    session, actor: Actor, data: dict, *, idempotency_key: str | None, hold: timedelta
) -> tuple[Order, bool]:
    """Place an order. Returns it and whether this was a replay of an earlier identical call."""
    if actor.role not in (Role.buyer, Role.unit):
        raise PermissionDenied("Only buyers and buying units place orders.")
    key = idempotency.validate_key(idempotency_key)
    now = utcnow()
    values = _order_values(actor, data, hold, now)
    if session.get_bind().dialect.name == "postgresql":
        order = _place_in_one_statement(session, actor, data, values, key=key, now=now)
        if order is not None:
            return order, False
        # Nothing was written: the steps below find out what stood in the way and say so.
    claimed = idempotency.claim(
        session, user_id=actor.user_id, scope=CHECKOUT_SCOPE, key=key, body=data
    )
    if isinstance(claimed, idempotency.IdempotencyKey):
        return get_order(session, actor, claimed.resource_id), True
    # The key is ours until this transaction ends; if the checkout fails, the claim goes with it.
    order = _place(session, actor, data, values)
    idempotency.complete(session, claimed, status=201, resource_id=order.id)
    return order, False


def _order_values(actor: Actor, data: dict, hold: timedelta, now) -> dict:
    """The order's columns but its id, its total and its session, as both paths write them."""
    is_unit = actor.role is Role.unit
    if data.get("livestream_code"):
        channel = Channel.livestream
    elif is_unit:
        channel = Channel.unit_procurement
    else:
        channel = Channel.web
    return {
        "number": _order_number(),
        "buyer_id": actor.user_id,
        "unit_id": actor.unit_id if is_unit else None,
        "channel": channel,
        "status": OrderStatus.pending_payment,
        "payment_status": PaymentStatus.unpaid,
        "refunded_fen": 0,
        "currency": "CNY",
        "note": data.get("note"),
        "hold_expires_at": now + hold,
        "created_at": now,
        "paid_at": None,
        "version": 1,
        **data["shipping_address"],
    }


# --- step by step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Live:
    """The session a basket names: its id, whether it is live, and its live prices for the
    basket's SKUs (locked), by SKU."""

    session_id: int
    is_live: bool
    prices: dict


def _lock_live_prices(session, code: str | None, sku_ids: list[int]) -> _Live | None:
    if code is None:
        return None
    found = session.execute(
        sa.select(LiveCode.session_id, LiveCode.is_live).where(LiveCode.code == code)
    ).first()
    if found is None:
        raise ValidationFailed({"livestream_code": ["no livestream session has this code"]})
    prices = {}
    if found.is_live:
        columns = (LivePrice.id, LivePrice.sku_id, LivePrice.price_fen, LivePrice.cap)
        rows = session.execute(
            sa.select(*columns, LivePrice.sold)
            .where(LivePrice.session_id == found.session_id, LivePrice.sku_id.in_(sku_ids))
            .order_by(LivePrice.id)
            .with_for_update()
        )
        prices = {row.sku_id: row for row in rows}
    return _Live(found.session_id, found.is_live, prices)


def _lock_skus(session, sku_ids: list[int]):
    """The SKUs with what checkout needs of their products, locked in a stable (id) order so
    two baskets sharing SKUs can never deadlock each other."""
    stmt = (
        sa.select(
            Sku.id,
            Sku.price_fen,
            Sku.currency,
            Sku.stock,
            Sku.is_active,
            Sku.spec,
            Sku.station_id,
            Product.id.label("product_id"),
            Product.name,
            Product.status,
            Product.producer_id,
        )
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sku_ids))
        .order_by(Sku.id)
        .with_for_update(of=Sku)
    )
    return {row.id: row for row in session.execute(stmt)}


def _take_stock(session, wanted: dict[int, int]) -> int:
    """Decrement every SKU's stock in one statement; only rows that still have enough change."""
    amount = sa.case(wanted, value=Sku.id)
    result = session.execute(
        sa.update(Sku)
        .where(Sku.id.in_(wanted), Sku.stock >= amount)
        .values(stock=Sku.stock - amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _take_live_units(session, taken: dict[int, int]) -> int:
    """Count units sold at live prices (``{live price id: units}``), within each cap."""
    if not taken:
        return 0
    amount = sa.case(taken, value=LivePrice.id)
    result = session.execute(
        sa.update(LivePrice)
        .where(
            LivePrice.id.in_(taken),
            sa.or_(LivePrice.cap.is_(None), LivePrice.sold + amount <= LivePrice.cap),
        )
        .values(sold=LivePrice.sold + amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _check_lines(requested: list[dict], found: dict) -> None:
    errors = {}
    short = []
    for index, line in enumerate(requested):
        row = found.get(line["sku_id"])
        if row is None or not row.is_active or row.status is not ProductStatus.active:
            errors[f"lines.{index}.sku_id"] = ["no such SKU on sale"]
        elif row.currency != "CNY":
            errors[f"lines.{index}.sku_id"] = [f"priced in {row.currency}; this shop sells in CNY"]
        elif row.stock < line["quantity"]:
            short.append({"sku_id": row.id, "requested": line["quantity"], "available": row.stock})
    if errors:
        raise ValidationFailed(errors)
    if short:
        names = ", ".join(f"SKU {s['sku_id']} ({s['available']} left)" for s in short)
        raise OutOfStock(f"Not enough stock for {names}.", shortages=short)


@dataclass(frozen=True)
class _Part:
    """Units of one requested line at one price: a line is one part, or two when the live
    price's cap covers only some of its units."""

    sku: object
    quantity: int
    unit_price_fen: int
    pricing: LinePricing
    live_price_id: int | None = None


def _price(requested: list[dict], found: dict, live: _Live | None, *, live_only: bool):
    """Each requested line as its parts, in the order the lines were sent, live units first."""
    parts, refused = [], []
    for index, line in enumerate(requested):
        sku, quantity = found[line["sku_id"]], line["quantity"]
        if live is None:
            parts.append(_Part(sku, quantity, sku.price_fen, LinePricing.catalog))
            continue
        price = live.prices.get(sku.id)
        if not live.is_live:
            reason, live_quantity = LinePricing.session_not_live, 0
        elif price is None:
            reason, live_quantity = LinePricing.not_featured, 0
        else:
            left = quantity if price.cap is None else price.cap - price.sold
            reason, live_quantity = LinePricing.cap_reached, min(quantity, max(left, 0))
        if live_quantity:
            parts.append(_Part(sku, live_quantity, price.price_fen, LinePricing.live, price.id))
        if live_quantity < quantity:
            if live_only:
                refused.append(
                    {
                        "line": index,
                        "sku_id": sku.id,
                        "reason": reason.value,
                        "live_units_left": live_quantity,
                    }
                )
            parts.append(_Part(sku, quantity - live_quantity, sku.price_fen, reason))
    if refused:
        raise LivePriceUnavailable(
            "The live price does not cover every unit asked for, and the catalog price was "
            "refused (live_price_only).",
            errors={f"lines.{r['line']}.quantity": [r["reason"]] for r in refused},
            refused=refused,
        )
    return parts


def _place(session, actor: Actor, data: dict, values: dict) -> Order:
    requested = data["lines"]
    wanted = {line["sku_id"]: line["quantity"] for line in requested}
    # The live prices' locks first, then the SKUs', as the one statement takes them.
    live = _lock_live_prices(session, data.get("livestream_code"), list(wanted))
    found = _lock_skus(session, list(wanted))
    _check_lines(requested, found)
    parts = _price(requested, found, live, live_only=data.get("live_price_only", False))
    if _take_stock(session, wanted) != len(wanted):
        # Unreachable while the rows are locked; kept so SQLite without row locks stays right.
        raise OutOfStock("Stock changed during checkout; try again.")
    live_units = {p.live_price_id: p.quantity for p in parts if p.live_price_id is not None}
    if _take_live_units(session, live_units) != len(live_units):
        raise LivePriceUnavailable("The live price's units changed during checkout; try again.")
    values = {
        **values,
        "livestream_session_id": live.session_id if live else None,
        "total_fen": sum(part.unit_price_fen * part.quantity for part in parts),
    }
    # Checkout is the hottest write there is: plain INSERTs, one per table whatever the basket
    # size, and no unit of work. The order handed back is built from what was written.
    orders, lines_table = Order.__table__, OrderLine.__table__
    order_id = session.execute(sa.insert(orders).values(values).returning(orders.c.id)).scalar_one()
    line_values = [_line_values(order_id, part) for part in parts]
    # A SKU is at most two lines of an order, its live units and the rest: the two differ in
    # pricing. (Asking for the ids in parameter order would cost SQLite a statement a line.)
    line_ids = {
        (sku_id, pricing): line_id
        for line_id, sku_id, pricing in session.execute(
            sa.insert(lines_table).returning(
                lines_table.c.id, lines_table.c.sku_id, lines_table.c.pricing
            ),
            line_values,
        )
    }
    order = Order(id=order_id, **values)
    set_committed_value(
        order,
        "lines",
        sorted(
            (OrderLine(id=line_ids[row["sku_id"], row["pricing"]], **row) for row in line_values),
            key=lambda line: line.id,
        ),
    )
    states.record_creation(session, order, actor_id=actor.user_id)
    return order


def _line_values(order_id: int, part: _Part) -> dict:
    """An order line: the price that applied, and the catalog's price, product, producer and
    station as they are now."""
    sku = part.sku
    return {
        "order_id": order_id,
        "sku_id": sku.id,
        "product_id": sku.product_id,
        "station_id": sku.station_id,
        "producer_id": sku.producer_id,
        "product_name": sku.name,
        "sku_spec": sku.spec,
        "unit_price_fen": part.unit_price_fen,
        "quantity": part.quantity,
        "line_total_fen": part.unit_price_fen * part.quantity,
        "list_price_fen": sku.price_fen,
        "pricing": part.pricing,
        "live_price_id": part.live_price_id,
        "refunded_quantity": 0,
        "refunded_fen": 0,
    }


# --- the one statement (PostgreSQL) ---------------------------------------------------------


def _place_in_one_statement(
    session, actor: Actor, data: dict, values: dict, *, key: str, now
) -> Order | None:
    """The PostgreSQL fast path (the statement below); None when it wrote nothing."""
    enums = ("channel", "status", "payment_status")
    try:
        placed = _run_one_statement(
            session.connection(),
            # Stored by name, as SQLAlchemy stores a non-native Enum.
            order_values={**values, **{name: values[name].name for name in enums}},
            lines=data["lines"],
            code=data.get("livestream_code"),
            live_only=data.get("live_price_only", False),
            scope=CHECKOUT_SCOPE,
            key=key,
            request_hash=idempotency.request_fingerprint(data),
            now=now,
        )
    except _Unplaced as error:
        raise OutOfStock("Stock changed during checkout; try again.") from error
    if placed is None:
        return None
    order_id, session_id, lines = placed
    order = Order(
        id=order_id,
        livestream_session_id=session_id,
        total_fen=sum(line["line_total_fen"] for line in lines),
        **values,
    )
    set_committed_value(
        order,
        "lines",
        [
            OrderLine(order_id=order_id, refunded_quantity=0, refunded_fen=0, **line)
            for line in lines
        ],
    )
    return order


_CHECKOUT = sa.text(
    """
WITH wanted AS (
    SELECT w.sku_id, w.quantity, w.position
    FROM unnest((SELECT CAST(:sku_ids AS integer[])), (SELECT CAST(:quantities AS integer[])))
         WITH ORDINALITY AS w (sku_id, quantity, position)
),
fresh AS (
    SELECT NOT EXISTS (
        SELECT 1 FROM idempotency_keys AS k
        WHERE k.user_id = :buyer_id AND k.scope = :scope AND k.key = :key
    ) AS ok
),
code AS (
    SELECT c.session_id, c.is_live FROM live_codes AS c WHERE c.code = CAST(:code AS varchar)
),
live AS (
    SELECT lp.id, lp.sku_id, lp.price_fen, lp.cap, lp.sold
    FROM live_prices AS lp
    JOIN code AS c ON c.session_id = lp.session_id AND c.is_live
    WHERE lp.sku_id IN (SELECT sku_id FROM wanted) AND (SELECT ok FROM fresh)
    ORDER BY lp.id
    FOR UPDATE OF lp
),
locked AS (
    SELECT s.id, s.stock, s.price_fen, s.spec, s.station_id, s.product_id,
           p.name AS product_name, p.producer_id,
           (s.is_active AND p.status = 'active' AND s.currency = 'CNY') AS on_sale
    FROM skus AS s
    JOIN products AS p ON p.id = s.product_id
    WHERE s.id IN (SELECT sku_id FROM wanted) AND (SELECT ok FROM fresh)
      AND (SELECT count(*) FROM live) >= 0
    ORDER BY s.id
    FOR UPDATE OF s
),
basket AS (
    SELECT l.*, w.quantity, w.position, lv.id AS live_id, lv.price_fen AS live_price,
           lv.sold AS live_sold,
           CASE WHEN lv.id IS NULL THEN 0
                WHEN lv.cap IS NULL THEN w.quantity
                ELSE least(w.quantity, greatest(lv.cap - lv.sold, 0)) END AS live_quantity,
           CASE WHEN CAST(:code AS varchar) IS NULL THEN 'catalog'
                WHEN NOT (SELECT is_live FROM code) THEN 'session_not_live'
                WHEN lv.id IS NULL THEN 'not_featured'
                ELSE 'cap_reached' END AS catalog_pricing
    FROM wanted AS w
    JOIN locked AS l ON l.id = w.sku_id
    LEFT JOIN live AS lv ON lv.sku_id = w.sku_id
),
servable AS (
    SELECT count(*) = :line_count
           AND (CAST(:code AS varchar) IS NULL OR EXISTS (SELECT 1 FROM code))
           AND (NOT CAST(:live_only AS boolean)
                OR count(*) FILTER (WHERE live_quantity < quantity) = 0) AS ok
    FROM basket
    WHERE on_sale AND stock >= quantity
),
claim AS (
    INSERT INTO idempotency_keys
        (user_id, scope, key, request_hash, response_status, resource_id,
         created_at, completed_at)
    SELECT :buyer_id, :scope, :key, :request_hash, 201,
           nextval(pg_get_serial_sequence('orders', 'id')), :now, :now
    FROM servable
    WHERE ok
    ON CONFLICT (user_id, scope, key) DO NOTHING
    RETURNING resource_id AS order_id
),
taken AS (
    UPDATE skus AS s
    SET stock = b.stock - b.quantity
    FROM basket AS b, claim
    WHERE s.id = b.id
    RETURNING s.id
),
live_taken AS (
    UPDATE live_prices AS lp
    SET sold = b.live_sold + b.live_quantity
    FROM basket AS b, claim
    WHERE lp.id = b.live_id AND b.live_quantity > 0
    RETURNING lp.id
),
parts AS (
    SELECT b.id AS sku_id, b.product_id, b.station_id, b.producer_id, b.product_name, b.spec,
           b.price_fen AS list_price, b.live_price AS unit_price,
           b.live_quantity AS part_quantity, 'live' AS pricing, b.live_id AS live_price_id,
           b.position, 1 AS part
    FROM basket AS b
    WHERE b.live_quantity > 0
    UNION ALL
    SELECT b.id, b.product_id, b.station_id, b.producer_id, b.product_name, b.spec,
           b.price_fen, b.price_fen, b.quantity - b.live_quantity, b.catalog_pricing,
           NULL, b.position, 2
    FROM basket AS b
    WHERE b.quantity > b.live_quantity
),
new_order AS (
    INSERT INTO orders
        (id, number, buyer_id, unit_id, channel, livestream_session_id, status, payment_status,
         total_fen, refunded_fen, currency, recipient_name, recipient_phone, province, city,
         district, address_line, postal_code, note, hold_expires_at, created_at, paid_at,
         version)
    SELECT c.order_id, :number, :buyer_id, :unit_id, :channel,
           (SELECT session_id FROM code), :status, :payment_status,
           (SELECT sum(unit_price * part_quantity) FROM parts), 0, 'CNY',
           :recipient_name, :recipient_phone, :province, :city, :district, :address_line,
           :postal_code, :note, :hold_expires_at, :now, NULL, 1
    FROM claim AS c
    WHERE (SELECT count(*) FROM taken) = :line_count
      AND (SELECT count(*) FROM live_taken)
          = (SELECT count(*) FROM basket WHERE live_quantity > 0)
    RETURNING id, livestream_session_id
),
new_lines AS (
    INSERT INTO order_lines
        (order_id, sku_id, product_id, station_id, producer_id, product_name, sku_spec,
         unit_price_fen, quantity, line_total_fen, list_price_fen, pricing, live_price_id,
         refunded_quantity, refunded_fen)
    SELECT o.id, p.sku_id, p.product_id, p.station_id, p.producer_id, p.product_name, p.spec,
           p.unit_price, p.part_quantity, p.unit_price * p.part_quantity, p.list_price,
           p.pricing, p.live_price_id, 0, 0
    FROM new_order AS o
    CROSS JOIN parts AS p
    ORDER BY p.position, p.part
    RETURNING id, sku_id, product_id, station_id, producer_id, product_name, sku_spec,
              unit_price_fen, quantity, line_total_fen, list_price_fen, pricing, live_price_id
),
new_events AS (
    INSERT INTO order_events
        (order_id, dimension, from_value, to_value, actor_id, reason, created_at)
    SELECT o.id, e.dimension, NULL, e.to_value, :buyer_id, 'placed', :now
    FROM new_order AS o
    CROSS JOIN (VALUES (1, 'status', :status), (2, 'payment', :payment_status))
         AS e (position, dimension, to_value)
    ORDER BY e.position
)
SELECT c.order_id, (SELECT livestream_session_id FROM new_order), l.id, l.sku_id,
       l.product_id, l.station_id, l.producer_id, l.product_name, l.sku_spec,
       l.unit_price_fen, l.quantity, l.line_total_fen, l.list_price_fen, l.pricing,
       l.live_price_id
FROM claim AS c
LEFT JOIN new_lines AS l ON true
ORDER BY l.id
"""
).bindparams(
    sa.bindparam("now", type_=UTCDateTime()),
    sa.bindparam("hold_expires_at", type_=UTCDateTime()),
)

#: The columns of each line the statement hands back, in its order after the order's.
_LINE_COLUMNS = (
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


class _Unplaced(Exception):
    """The key was claimed but not every SKU could be taken: unreachable while the rows are
    locked, and the caller must roll the transaction back if it ever happens."""


def _run_one_statement(
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
    the way."""
    rows = connection.execute(
        _CHECKOUT,
        {
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
        },
    ).all()
    if not rows:
        return None
    if rows[0][2] is None:
        raise _Unplaced("the key was claimed but the stock was not all taken")
    order_id, session_id = rows[0][0], rows[0][1]
    lines = []
    for row in rows:
        line = dict(zip(_LINE_COLUMNS, row[2:], strict=True))
        line["pricing"] = LinePricing(line["pricing"])
        lines.append(line)
    return order_id, session_id, lines
