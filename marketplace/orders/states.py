"""The order's two state machines, and the one function that moves either.

Every move is checked against the table and recorded as an append-only OrderEvent; an illegal
move is a 409 that names both states. Concurrent moves of one order are serialized by the
order's version column: the loser's flush fails and the request answers 409.
"""

from datetime import datetime

from marketplace.errors import Conflict
from marketplace.orders.models import (
    EventDimension,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentStatus,
)
from marketplace.orders.writing import StateEvent
from marketplace.reasons import reason

S, P = OrderStatus, PaymentStatus

STATUS_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.pending_payment: frozenset({S.paid, S.cancelled}),
    S.paid: frozenset({S.shipped, S.refunded}),
    S.shipped: frozenset({S.delivered, S.refunded}),
    S.delivered: frozenset({S.completed, S.refunded}),
    # After-sales refunds happen after completion too (a platform refund weeks later).
    S.completed: frozenset({S.refunded}),
    S.cancelled: frozenset(),
    S.refunded: frozenset(),
}

PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.unpaid: frozenset({P.paid, P.void}),
    P.paid: frozenset({P.partially_refunded, P.refunded}),
    # Each further partial refund is a move too, so it is recorded with who and why.
    P.partially_refunded: frozenset({P.partially_refunded, P.refunded}),
    P.refunded: frozenset(),
    # Money that came after the order was cancelled, once it has gone back.
    P.void: frozenset({P.late_capture_refunded}),
    P.late_capture_refunded: frozenset(),
}


ILLEGAL_STATUS_MOVE = reason(
    "order.illegal_status_move",
    "Order {order_number} cannot go from status {current} to {requested}.",
)
ILLEGAL_PAYMENT_MOVE = reason(
    "order.illegal_payment_move",
    "Order {order_number} cannot go from payment status {current} to {requested}.",
)


class IllegalTransition(Conflict):
    code, title = "illegal-transition", "The order cannot make that move from its state"


def can_move(current, target) -> bool:
    table = STATUS_TRANSITIONS if isinstance(current, OrderStatus) else PAYMENT_TRANSITIONS
    return target in table[current]


def move(
    session, order: Order, target: OrderStatus | PaymentStatus, *, actor_id, reason=None
) -> OrderEvent:
    """Move ``order`` to ``target`` in the dimension ``target`` belongs to, and record it."""
    is_status = isinstance(target, OrderStatus)
    current = order.status if is_status else order.payment_status
    if not can_move(current, target):
        states = {"current": current.value, "requested": target.value}
        if is_status:
            raise IllegalTransition(
                ILLEGAL_STATUS_MOVE(order_number=order.number, **states), **states
            )
        raise IllegalTransition(ILLEGAL_PAYMENT_MOVE(order_number=order.number, **states), **states)
    if is_status:
        order.status = target
    else:
        order.payment_status = target
    event = OrderEvent(
        order_id=order.id,
        dimension=EventDimension.status if is_status else EventDimension.payment,
        from_value=current.value,
        to_value=target.value,
        actor_id=actor_id,
        reason=reason,
    )
    session.add(event)
    return event


#: How far along its fulfilment a paid order may be, in order.
FULFILMENT = (S.paid, S.shipped, S.delivered, S.completed)


def opening_history(
    status: OrderStatus, payment_status: PaymentStatus, at: datetime
) -> tuple[StateEvent, ...]:
    """A new order's events: from nothing to its first state in each dimension. A platform's
    sale arrives paid and perhaps already shipped or completed: its first status is the one
    the platform's export gives, in one event (the steps before it happened on the platform,
    whose export does not say when; writing each of them at ``at`` would claim they did)."""
    return (
        StateEvent(EventDimension.status, None, status.value, at),
        StateEvent(EventDimension.payment, None, payment_status.value, at),
    )


def mark_paid(session, order: Order, *, at: datetime, actor_id, reason: str) -> None:
    """The order's money arrived: it is paid in both dimensions, as of ``at``."""
    order.paid_at = at
    move(session, order, S.paid, actor_id=actor_id, reason=reason)
    move(session, order, P.paid, actor_id=actor_id, reason=reason)


def record_late_capture_returned(session, order: Order, *, actor_id, reason: str) -> None:
    """Money that came after the order was cancelled has gone back in full: its payment
    status says so (the lines were never sold, so nothing on them changes)."""
    move(session, order, P.late_capture_refunded, actor_id=actor_id, reason=reason)


def record_refund(
    session, order: Order, parts: list[tuple[int, int, int]], *, actor_id, reason: str
) -> None:
    """Money went back for ``parts`` of the order (its lines loaded): ``(order line id, units,
    fen)`` each. The lines and the order count it; the order is refunded, in part or whole,
    unless it was never paid (money that came after it was cancelled went back: its states
    stay, the payment's events tell the story)."""
    lines = {line.id: line for line in order.lines}
    for line_id, units, amount in parts:
        lines[line_id].refunded_quantity += units
        lines[line_id].refunded_fen += amount
    order.refunded_fen += sum(amount for _, _, amount in parts)
    if order.payment_status is P.void:
        return
    everything = order.refunded_fen == order.total_fen
    move(
        session,
        order,
        P.refunded if everything else P.partially_refunded,
        actor_id=actor_id,
        reason=reason,
    )
    if everything and order.status is not S.cancelled:
        move(session, order, S.refunded, actor_id=actor_id, reason=reason)
