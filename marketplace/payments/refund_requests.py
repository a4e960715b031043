"""Asking for money back: whole orders or chosen lines and quantities, never more than was
captured, by an admin or the station holding the lines (``refunds.py`` completes them).

The refund is recorded as pending, with the order's row lock held; a Stripe refund goes to the
provider once that commits, cash handed back at a station counts at once.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import after_commit
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.extensions import db
from marketplace.orders import states
from marketplace.orders.models import Order, OrderLine, PaymentStatus
from marketplace.orders.service import get_order, visible_line_ids
from marketplace.payments.models import (
    Gateway,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentState,
    Refund,
    RefundLine,
    RefundState,
)
from marketplace.payments.refunds import confirm_refund, send_to_provider
from marketplace.payments.service import lock_order_for_payment
from marketplace.reasons import reason

REFUNDER_NOT_ADMIN_OR_STATION = reason(
    "refund.admin_or_station_only", "Refunds are made by an admin or the order's station."
)
ORDER_NOT_PAID = reason(
    "refund.order_not_paid",
    "Order {order_number} is {payment_status}; there is no payment to refund.",
)
NOTHING_CAPTURED = reason(
    "refund.nothing_captured",
    "Nothing was captured for this order, so there is nothing to refund.",
)
PAID_ON_PLATFORM = reason(
    "refund.paid_on_platform",
    "Order {order_number} was paid on {platform}: refund it there; the refund arrives with "
    "the platform's next export.",
)
NOTHING_LEFT = reason(
    "refund.nothing_left", "Order {order_number} has nothing left for you to refund."
)
LINE_NOT_YOURS = reason("refund.line_not_yours", "not a line of this order you may refund")
LINE_LISTED_TWICE = reason("refund.line_listed_twice", "not a line of this order you may refund")
QUANTITY_ABOVE_REFUNDABLE = reason(
    "refund.quantity_above_refundable", "at most {refundable} can be refunded"
)
ABOVE_CAPTURED = reason("refund.above_captured", "That would refund more than was captured.")


def _pending_quantities(session, order_id: int) -> dict[int, int]:
    rows = session.execute(
        sa.select(RefundLine.order_line_id, sa.func.sum(RefundLine.quantity))
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.order_id == order_id, Refund.state == RefundState.pending)
        .group_by(RefundLine.order_line_id)
    )
    return dict(rows.all())


def _captured_payment(session, order_id: int) -> Payment:
    payment = session.execute(
        sa.select(Payment).where(
            Payment.order_id == order_id, Payment.state == PaymentState.succeeded
        )
    ).scalar_one_or_none()
    if payment is None:
        raise Conflict(NOTHING_CAPTURED())
    return payment


def _requested_lines(order: Order, yours: set[int], requested: list[dict] | None, pending):
    """(line, quantity) pairs to refund among the lines ``yours`` names; ``None`` means
    everything left of them."""

    def refundable(line: OrderLine) -> int:
        return line.quantity - line.refunded_quantity - pending.get(line.id, 0)

    mine = {line.id: line for line in order.lines if line.id in yours}
    if requested is None:
        chosen = [(line, refundable(line)) for line in mine.values() if refundable(line) > 0]
        if not chosen:
            raise Conflict(NOTHING_LEFT(order_number=order.number))
        return chosen
    errors, chosen, seen = {}, [], set()
    for index, item in enumerate(requested):
        line = mine.get(item["order_line_id"])
        if line is None:
            errors[f"lines.{index}.order_line_id"] = [LINE_NOT_YOURS()]
            continue
        if line.id in seen:
            errors[f"lines.{index}.order_line_id"] = [LINE_LISTED_TWICE()]
            continue
        seen.add(line.id)
        if item["quantity"] > refundable(line):
            errors[f"lines.{index}.quantity"] = [
                QUANTITY_ABOVE_REFUNDABLE(refundable=refundable(line))
            ]
            continue
        chosen.append((line, item["quantity"]))
    if errors:
        raise ValidationFailed(errors)
    return chosen


def _line_amount(line: OrderLine, quantity: int) -> int:
    # Whole units at the snapshotted price; the last units take what is left of the line, so
    # refunding a line in pieces always adds up to exactly its total.
    if line.refunded_quantity + quantity == line.quantity:
        return line.line_total_fen - line.refunded_fen
    return line.unit_price_fen * quantity


REFUND_SCOPE = "refund"


def request_refund_once(
    session,
    actor: Actor,
    order_id: int,
    *,
    lines: list[dict] | None,
    reason: str | None,
    idempotency_key: str | None,
) -> tuple[Refund, bool]:
    """``request_refund`` behind an optional Idempotency-Key: a client that retries a partial
    refund after a timeout gets the first refund back instead of a second one.
    Returns the refund and whether it is a replay."""
    if idempotency_key is None:
        return request_refund(session, actor, order_id, lines=lines, reason=reason), False
    # A twin that loses the race rolls back its refund; an after-commit call queued for it
    # finds no row and does nothing.
    return idempotency.perform_once(
        session,
        user_id=actor.user_id,
        scope=REFUND_SCOPE,
        key=idempotency_key,
        body={"order_id": order_id, "lines": lines, "reason": reason},
        work=lambda: request_refund(session, actor, order_id, lines=lines, reason=reason),
        replay=lambda refund_id: session.execute(
            sa.select(Refund).where(Refund.id == refund_id).options(selectinload(Refund.lines))
        ).scalar_one(),
    )


def _refundable_payment(session, order: Order) -> Payment:
    """The payment an order's refund gives back from: one we captured ourselves."""
    if order.payment_status not in (PaymentStatus.paid, PaymentStatus.partially_refunded):
        raise states.IllegalTransition(
            ORDER_NOT_PAID(order_number=order.number, payment_status=order.payment_status.value),
            current=order.payment_status.value,
            requested=PaymentStatus.refunded.value,
        )
    payment = _captured_payment(session, order.id)
    if payment.gateway is Gateway.platform:
        raise Conflict(PAID_ON_PLATFORM(order_number=order.number, platform=payment.method))
    return payment


def _record_request(
    session, actor: Actor, order: Order, payment: Payment, chosen, *, reason: str | None
) -> Refund:
    """The refund of the ``chosen`` (line, quantity) pairs, pending, and its event; never more
    than what was captured and is not refunded or being refunded yet."""
    amount = sum(_line_amount(line, quantity) for line, quantity in chosen)
    pending_fen = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_id == payment.id, Refund.state == RefundState.pending
        )
    ).scalar_one()
    if amount + pending_fen > payment.captured_fen - payment.refunded_fen:
        raise Conflict(ABOVE_CAPTURED())
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        state=RefundState.pending,
        amount_fen=amount,
        currency=payment.currency,
        reason=reason,
        requested_by_id=actor.user_id,
        lines=[
            RefundLine(
                order_line_id=line.id, quantity=quantity, amount_fen=_line_amount(line, quantity)
            )
            for line, quantity in chosen
        ],
    )
    session.add(refund)
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.refund_requested,
            amount_fen=amount,
            actor_id=actor.user_id,
            detail=reason,
        )
    )
    return refund


def request_refund(
    session, actor: Actor, order_id: int, *, lines: list[dict] | None, reason: str | None
) -> Refund:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(REFUNDER_NOT_ADMIN_OR_STATION())
    get_order(session, actor, order_id)  # scoping first: outside it, the order does not exist
    order = lock_order_for_payment(session, order_id)
    payment = _refundable_payment(session, order)
    yours = visible_line_ids(session, actor, order.id)
    chosen = _requested_lines(order, yours, lines, _pending_quantities(session, order.id))
    refund = _record_request(session, actor, order, payment, chosen, reason=reason)
    if payment.gateway is Gateway.stripe:
        refund_id = refund.id
        after_commit(session, lambda: send_to_provider(db.session, refund_id))
    else:
        # Cash or a transfer handed back at the station: done when it is recorded.
        confirm_refund(session, refund, provider_reference=None, actor_id=actor.user_id)
    session.flush()
    return refund
