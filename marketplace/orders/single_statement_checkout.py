"""Checkout on PostgreSQL in one statement: the common case, a basket that can be served under
a fresh Idempotency-Key, costs one round trip instead of seven.

The statement claims the key, takes the stock and writes the order, its lines and its first
events, or writes nothing at all: a SKU that is not on sale or is short, or a key another request
already holds, leaves every table as it was. The caller then runs the step-by-step checkout in
the same transaction, which finds out which of those it was and answers precisely (a 422 naming
the line, a 409 with what is left, a replay of the earlier order). So the guarantees are those
of the step-by-step path, and only its happy path is shortened.

Why each part is safe, since data-modifying CTEs share one snapshot:

* ``locked`` takes the SKU row locks in id order, as the step-by-step path does, so two baskets
  sharing SKUs queue instead of deadlocking. ``FOR UPDATE`` returns each row as it is once
  locked, even when another checkout committed a change after this statement began, so the
  stock and price checked and snapshotted here are the current ones and cannot move until
  commit. A key already committed (a retry) skips the locks altogether: its replay waits for
  no checkout of the same SKUs.
* ``claim`` inserts the key only when the whole basket can be served. A duplicate key, committed
  or still in flight (the insert waits for it), makes ``ON CONFLICT DO NOTHING`` return no row,
  and everything after it is gated on that row. The order id is drawn from the orders sequence
  in the claim itself, so the claim records what it created without a second statement.
* ``taken`` sets every line's SKU to the locked stock minus the quantity. It must not filter
  on the stock it scans: that is the statement's snapshot, from before it waited for the lock,
  and PostgreSQL re-checks only rows that passed the filter there, so a SKU restocked from 0
  while this checkout waited would be skipped. ``servable`` checked the locked figures and the
  CHECK constraint backs them; ``new_order`` is only written when every line was taken.

The basket's arrays are read through ``(SELECT ...)``, which hides their length from the
planner. Seeing it, PostgreSQL judged each run's custom plan cheaper than the prepared generic
one and planned this statement anew on every checkout, which took longer than running it;
not seeing it, it plans once per connection (the same plan: index scans on the SKUs' keys).
"""

from datetime import datetime

import sqlalchemy as sa

from marketplace.db import UTCDateTime

_CHECKOUT = sa.text(
    """
WITH wanted AS (
    SELECT w.sku_id, w.quantity, w.position
    FROM unnest((SELECT CAST(:sku_ids AS integer[])), (SELECT CAST(:quantities AS integer[])))
         WITH ORDINALITY AS w (sku_id, quantity, position)
),
locked AS (
    SELECT s.id, s.stock, s.price_fen, s.spec, s.station_id, s.product_id,
           p.name AS product_name, p.producer_id,
           (s.is_active AND p.status = 'active' AND s.currency = 'CNY') AS on_sale
    FROM skus AS s
    JOIN products AS p ON p.id = s.product_id
    WHERE s.id IN (SELECT sku_id FROM wanted)
      AND NOT EXISTS (
          SELECT 1 FROM idempotency_keys AS k
          WHERE k.user_id = :buyer_id AND k.scope = :scope AND k.key = :key
      )
    ORDER BY s.id
    FOR UPDATE OF s
),
basket AS (
    SELECT l.*, w.quantity, w.position
    FROM wanted AS w
    JOIN locked AS l ON l.id = w.sku_id
),
servable AS (
    SELECT count(*) = :line_count AS ok
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
new_order AS (
    INSERT INTO orders
        (id, number, buyer_id, unit_id, channel, livestream_code, status, payment_status,
         total_fen, refunded_fen, currency, recipient_name, recipient_phone, province, city,
         district, address_line, postal_code, note, hold_expires_at, created_at, paid_at,
         version)
    SELECT c.order_id, :number, :buyer_id, :unit_id, :channel, :livestream_code, :status,
           :payment_status, (SELECT sum(price_fen * quantity) FROM basket), 0, 'CNY',
           :recipient_name, :recipient_phone, :province, :city, :district, :address_line,
           :postal_code, :note, :hold_expires_at, :now, NULL, 1
    FROM claim AS c
    WHERE (SELECT count(*) FROM taken) = :line_count
    RETURNING id
),
new_lines AS (
    INSERT INTO order_lines
        (order_id, sku_id, product_id, station_id, producer_id, product_name, sku_spec,
         unit_price_fen, quantity, line_total_fen, refunded_quantity, refunded_fen)
    SELECT o.id, b.id, b.product_id, b.station_id, b.producer_id, b.product_name, b.spec,
           b.price_fen, b.quantity, b.price_fen * b.quantity, 0, 0
    FROM new_order AS o
    CROSS JOIN basket AS b
    ORDER BY b.position
    RETURNING id, sku_id, product_id, station_id, producer_id, product_name, sku_spec,
              unit_price_fen, quantity, line_total_fen
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
SELECT c.order_id, l.id, l.sku_id, l.product_id, l.station_id, l.producer_id,
       l.product_name, l.sku_spec, l.unit_price_fen, l.quantity, l.line_total_fen
FROM claim AS c
LEFT JOIN new_lines AS l ON true
ORDER BY l.id
"""
).bindparams(
    sa.bindparam("now", type_=UTCDateTime()),
    sa.bindparam("hold_expires_at", type_=UTCDateTime()),
)

#: The columns of each line the statement hands back, in its order after the order id.
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
)


class Unplaced(Exception):
    """The key was claimed but not every SKU could be taken: unreachable while the rows are
    locked, and the caller must roll the transaction back if it ever happens."""


def place(
    connection,
    *,
    order_values: dict,
    lines: list[dict],
    scope: str,
    key: str,
    request_hash: str,
    now: datetime,
) -> tuple[int, list[dict]] | None:
    """Write the order in one statement. Returns its id and its lines (ordered by id), or
    None when nothing was written because the basket or the key stood in the way."""
    rows = connection.execute(
        _CHECKOUT,
        {
            **order_values,
            "sku_ids": [line["sku_id"] for line in lines],
            "quantities": [line["quantity"] for line in lines],
            "line_count": len(lines),
            "scope": scope,
            "key": key,
            "request_hash": request_hash,
            "now": now,
        },
    ).all()
    if not rows:
        return None
    if rows[0][1] is None:
        raise Unplaced("the key was claimed but the stock was not all taken")
    order_id = rows[0][0]
    return order_id, [dict(zip(_LINE_COLUMNS, row[1:], strict=True)) for row in rows]
