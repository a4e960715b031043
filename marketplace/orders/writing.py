"""Writing new orders: the orders, their lines and their first events, one order (checkout) or
a batch of thousands (sales imported from a platform's export) with one INSERT per table (and,
for a batch on PostgreSQL, one statement drawing the ids of the orders and one of the lines).

This is the one place new orders are written. The one-statement checkout takes its INSERTs
from here too (``order_insert``, ``lines_insert``, ``events_insert``), as parts of its
statement.
"""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from marketplace.db import new_ids
from marketplace.orders.models import (
    EventDimension,
    LinePricing,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)

_ORDERS, _LINES, _EVENTS = Order.__table__, OrderLine.__table__, OrderEvent.__table__


@dataclass(frozen=True)
class NewLine:
    """What was bought: the price that applied, and the catalog's product, producer and
    station as they were."""

    sku_id: int
    product_id: int
    station_id: int
    producer_id: int
    product_name: str
    sku_spec: str
    unit_price_fen: int
    quantity: int
    #: the catalog price when ordered (the live or platform price, if charged, is the unit's)
    list_price_fen: int
    pricing: LinePricing
    #: what the seller gave off the price × quantity (a platform's shop discount)
    discount_fen: int = 0
    live_price_id: int | None = None

    @property
    def line_total_fen(self) -> int:
        return self.unit_price_fen * self.quantity - self.discount_fen


@dataclass(frozen=True)
class StateEvent:
    """One move of an order's state, as ``states.history`` spells a new order's."""

    dimension: EventDimension
    from_value: str | None
    to_value: str
    at: datetime


@dataclass(frozen=True)
class NewOrder:
    """An order to write: its columns but id and total (``number`` must be unique, as the
    table makes it), its lines (no two with the same SKU and pricing) and its history."""

    values: dict
    lines: tuple[NewLine, ...]
    history: tuple[StateEvent, ...]
    actor_id: int | None = None
    reason: str | None = None
    #: filled in by ``write_orders``
    ids: dict = field(default_factory=dict, compare=False)

    @property
    def total_fen(self) -> int:
        return sum(line.line_total_fen for line in self.lines)


@dataclass(frozen=True)
class Written:
    """A written order's id, and its lines' ids in the order of ``NewOrder.lines``."""

    order_id: int
    line_ids: list[int]


def write_orders(session, orders: list[NewOrder]) -> list[Written]:
    """Insert the orders, their lines and their events: three statements whatever the batch
    (five for a batch on PostgreSQL, which draws the ids first). Returns what was written, in
    the order given."""
    if not orders:
        return []
    if len(orders) > 1 and session.connection().dialect.name == "postgresql":
        order_ids, line_ids = _insert_with_ids(session, orders)
    else:
        order_ids, line_ids = _insert_returning(session, orders)
    session.execute(
        sa.insert(_EVENTS),
        [
            event_row(order_id, event, actor_id=order.actor_id, reason=order.reason)
            for order_id, order in zip(order_ids, orders, strict=True)
            for event in order.history
        ],
    )
    return [
        Written(
            order_id,
            [line_ids[order_id, line.sku_id, line.pricing] for line in order.lines],
        )
        for order_id, order in zip(order_ids, orders, strict=True)
    ]


def _insert_returning(session, orders: list[NewOrder]) -> tuple[list[int], dict]:
    """The reference: the database gives the ids, read back with RETURNING (one order at
    checkout, and every batch on SQLite)."""
    # Rows come back in any order (asking for the parameters' order would cost SQLite a
    # statement a row): each is found again by a unique value of its own.
    by_number = dict(
        session.execute(
            sa.insert(_ORDERS).returning(_ORDERS.c.number, _ORDERS.c.id),
            [order_row(order) for order in orders],
        ).all()
    )
    order_ids = [by_number[order.values["number"]] for order in orders]
    line_ids = {
        (order_id, sku_id, pricing): line_id
        for line_id, order_id, sku_id, pricing in session.execute(
            sa.insert(_LINES).returning(
                _LINES.c.id, _LINES.c.order_id, _LINES.c.sku_id, _LINES.c.pricing
            ),
            [
                line_row(order_id, line)
                for order_id, order in zip(order_ids, orders, strict=True)
                for line in order.lines
            ],
        )
    }
    return order_ids, line_ids


def _insert_with_ids(session, orders: list[NewOrder]) -> tuple[list[int], dict]:
    """A batch on PostgreSQL (a platform's export, a thousand sales at a time): the ids are
    drawn from the tables' sequences first and written with the rows (``db.new_ids`` says why
    that is quicker). The same rows as ``_insert_returning``'s."""
    order_ids = new_ids(session, _ORDERS, len(orders))
    session.execute(
        sa.insert(_ORDERS),
        [
            {**order_row(order), "id": order_id}
            for order_id, order in zip(order_ids, orders, strict=True)
        ],
    )
    lines = [
        (order_id, line)
        for order_id, order in zip(order_ids, orders, strict=True)
        for line in order.lines
    ]
    ids = new_ids(session, _LINES, len(lines))
    session.execute(
        sa.insert(_LINES),
        [
            {**line_row(order_id, line), "id": line_id}
            for line_id, (order_id, line) in zip(ids, lines, strict=True)
        ],
    )
    line_ids = {
        (order_id, line.sku_id, line.pricing): line_id
        for line_id, (order_id, line) in zip(ids, lines, strict=True)
    }
    return order_ids, line_ids


def as_written(model, values: dict):
    """An instance of ``model`` (an order, a line) holding ``values`` as a row read back holds
    them: put in place without the attribute events its constructor fires for each column, at
    a fifth of the cost. Checkout hands back the order it wrote so; it is never added to a
    session."""
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


def order_row(order: NewOrder) -> dict:
    values = order.values
    return {
        **values,
        "total_fen": order.total_fen,
        "refunded_fen": 0,
        "currency": values.get("currency", "CNY"),
        "version": 1,
    }


def line_row(order_id: int, line: NewLine) -> dict:
    return {
        "order_id": order_id,
        "sku_id": line.sku_id,
        "product_id": line.product_id,
        "station_id": line.station_id,
        "producer_id": line.producer_id,
        "product_name": line.product_name,
        "sku_spec": line.sku_spec,
        "unit_price_fen": line.unit_price_fen,
        "quantity": line.quantity,
        "line_total_fen": line.line_total_fen,
        "discount_fen": line.discount_fen,
        "list_price_fen": line.list_price_fen,
        "pricing": line.pricing,
        "live_price_id": line.live_price_id,
        "refunded_quantity": 0,
        "refunded_fen": 0,
    }


def event_row(order_id: int, event: StateEvent, *, actor_id, reason) -> dict:
    return {
        "order_id": order_id,
        "dimension": event.dimension,
        "from_value": event.from_value,
        "to_value": event.to_value,
        "actor_id": actor_id,
        "reason": reason[:300] if reason else reason,
        "created_at": event.at,
    }


# --- the parts of the one-statement checkout ------------------------------------------------

#: The columns of a new order, in the order ``order_insert`` takes them.
ORDER_COLUMNS = (
    "id",
    "number",
    "buyer_id",
    "unit_id",
    "channel",
    "livestream_session_id",
    "status",
    "payment_status",
    "total_fen",
    "refunded_fen",
    "currency",
    "recipient_name",
    "recipient_phone",
    "province",
    "city",
    "district",
    "address_line",
    "postal_code",
    "note",
    "hold_expires_at",
    "created_at",
    "paid_at",
    "version",
)

#: The columns of a new line, in the order ``lines_insert`` takes them.
LINE_COLUMNS = (
    "order_id",
    "sku_id",
    "product_id",
    "station_id",
    "producer_id",
    "product_name",
    "sku_spec",
    "unit_price_fen",
    "quantity",
    "line_total_fen",
    "discount_fen",
    "list_price_fen",
    "pricing",
    "live_price_id",
    "refunded_quantity",
    "refunded_fen",
)

EVENT_COLUMNS = ("order_id", "dimension", "from_value", "to_value", "actor_id", "reason")


def order_insert(rows: sa.Select) -> sa.Insert:
    """INSERT of the orders ``rows`` selects (``ORDER_COLUMNS``), returning id and session."""
    return (
        sa.insert(_ORDERS)
        .from_select(list(ORDER_COLUMNS), rows)
        .returning(_ORDERS.c.id, _ORDERS.c.livestream_session_id)
    )


def lines_insert(rows: sa.Select) -> sa.Insert:
    """INSERT of the lines ``rows`` selects (``LINE_COLUMNS``), returning what checkout
    hands back of each line."""
    returned = [
        _LINES.c[name]
        for name in LINE_COLUMNS
        if name not in ("order_id", "discount_fen", "refunded_quantity", "refunded_fen")
    ]
    return sa.insert(_LINES).from_select(list(LINE_COLUMNS), rows).returning(_LINES.c.id, *returned)


def events_insert(rows: sa.Select) -> sa.Insert:
    """INSERT of the events ``rows`` selects (``EVENT_COLUMNS`` and ``created_at``)."""
    return sa.insert(_EVENTS).from_select([*EVENT_COLUMNS, "created_at"], rows)


#: A new order's first states, as both checkout paths write them.
PLACED = (OrderStatus.pending_payment, PaymentStatus.unpaid)
