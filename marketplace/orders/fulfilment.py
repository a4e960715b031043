"""After payment: stations ship their lines, the buyer confirms receipt, orders complete."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import utcnow
from marketplace.errors import Conflict, PermissionDenied
from marketplace.orders import states
from marketplace.orders.models import EventDimension, Order, OrderEvent, OrderStatus
from marketplace.orders.service import get_order, visible_line_ids
from marketplace.reasons import reason

#: After delivery the buyer has this long to ask for a refund before the order completes.
AFTER_SALES_WINDOW = timedelta(days=7)

SHIPPED_BY_ITS_STATION = reason(
    "order.shipped_by_its_station", "Only the order's station ships it."
)
SHIPS_WHEN_PAID = reason(
    "order.ships_when_paid", "Order {order_number} is {status}; only paid orders ship."
)
NO_LINES_TO_SHIP = reason(
    "order.no_lines_to_ship", "Order {order_number} has no unshipped lines of yours."
)
RECEIPT_BY_BUYER = reason("order.receipt_by_buyer", "Only the buyer confirms receipt.")


def ship(session, actor: Actor, order_id: int, *, carrier: str, tracking_number: str) -> Order:
    """A station ships its own lines of a paid order. The order counts as shipped once every
    station's lines (those not refunded entirely) are on their way."""
    if actor.role not in (Role.station, Role.admin):
        raise PermissionDenied(SHIPPED_BY_ITS_STATION())
    order = get_order(session, actor, order_id)
    if order.status is not OrderStatus.paid:
        raise states.IllegalTransition(
            SHIPS_WHEN_PAID(order_number=order.number, status=order.status.value),
            current=order.status.value,
            requested=OrderStatus.shipped.value,
        )
    yours = visible_line_ids(session, actor, order.id)
    mine = [
        line
        for line in order.lines
        if line.id in yours and line.shipped_at is None and line.refunded_quantity < line.quantity
    ]
    if not mine:
        raise Conflict(NO_LINES_TO_SHIP(order_number=order.number))
    now = utcnow()
    for line in mine:
        line.carrier, line.tracking_number, line.shipped_at = carrier, tracking_number, now
    still_waiting = [
        line
        for line in order.lines
        if line.shipped_at is None and line.refunded_quantity < line.quantity
    ]
    if not still_waiting:
        states.move(
            session,
            order,
            OrderStatus.shipped,
            actor_id=actor.user_id,
            reason=f"{carrier} {tracking_number}",
        )
    else:
        # Not a state change yet, but who shipped what, when, stays on the record.
        session.add(
            OrderEvent(
                order_id=order.id,
                dimension=EventDimension.status,
                from_value=order.status.value,
                to_value=order.status.value,
                actor_id=actor.user_id,
                reason=f"station {actor.station_id} shipped: {carrier} {tracking_number}",
            )
        )
    session.flush()
    return order


def confirm_receipt(session, actor: Actor, order_id: int) -> Order:
    """The buyer says the goods arrived (确认收货)."""
    order = get_order(session, actor, order_id)
    if actor.role not in (Role.buyer, Role.unit, Role.admin):
        raise PermissionDenied(RECEIPT_BY_BUYER())
    states.move(session, order, OrderStatus.delivered, actor_id=actor.user_id, reason="received")
    session.flush()
    return order


def complete_due(session, *, now=None, batch: int = 500) -> int:
    """Complete delivered orders whose after-sales window has passed."""
    now = now or utcnow()
    delivered_before = now - AFTER_SALES_WINDOW
    delivered_at = (
        sa.select(sa.func.max(OrderEvent.created_at))
        .where(OrderEvent.order_id == Order.id, OrderEvent.to_value == "delivered")
        .scalar_subquery()
    )
    due = (
        session.execute(
            sa.select(Order)
            .where(Order.status == OrderStatus.delivered, delivered_at <= delivered_before)
            .order_by(Order.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
            .options(selectinload(Order.lines))
        )
        .scalars()
        .all()
    )
    for order in due:
        states.move(
            session, order, OrderStatus.completed, actor_id=None, reason="after-sales window over"
        )
    session.flush()
    return len(due)


def advance(session, order: Order, target: OrderStatus, *, reason: str) -> bool:
    """Move a paid order along its fulfilment (``states.FULFILMENT``) up to ``target``, one
    step at a time, if it is not there or beyond yet: what a platform's later export says of
    a sale it ships itself. The caller holds the order's lock. Returns whether it moved."""
    steps = states.FULFILMENT
    if order.status not in steps or target not in steps:
        return False
    current, wanted = steps.index(order.status), steps.index(target)
    for step in steps[current + 1 : wanted + 1]:
        states.move(session, order, step, actor_id=None, reason=reason)
    session.flush()
    return wanted > current
