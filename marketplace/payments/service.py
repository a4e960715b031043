"""Taking money for orders: starting provider payments, recording offline ones, and applying
what the provider tells us. Marking an order paid happens here, in one transaction with
everything that follows from it."""

import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.ledger import posting_rules
from marketplace.orders import states
from marketplace.orders.models import Order, OrderStatus
from marketplace.orders.service import get_order
from marketplace.payments.gateways import PaymentGateway
from marketplace.payments.models import (
    Gateway,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentState,
)
from marketplace.reasons import reason

logger = logging.getLogger(__name__)

OFFLINE_RECORDER_NOT_STATION = reason(
    "payment.offline_station_or_admin_only",
    "Only a station or an admin records offline payments.",
)
ORDER_NOT_UNPAID = reason(
    "payment.order_not_unpaid",
    "Order {order_number} is {status}; only unpaid orders take a payment.",
)
AMOUNT_NOT_ORDER_TOTAL = reason(
    "payment.amount_not_order_total", "must equal the order total, {total_fen} fen"
)
ONLINE_PAYMENT_IN_PROGRESS = reason(
    "payment.online_in_progress", "Order {order_number} already has a payment in progress online."
)
REFERENCE_TAKEN = reason("payment.reference_taken", "already recorded for another payment")


def lock_order_for_payment(session, order_id: int) -> Order:
    """The order (with its lines) locked for the rest of the transaction, so that the payment
    steps of one order take turns: a checkout's replay, a webhook, a refund, a cancellation, a
    platform's later export. Whatever moves an order's money takes this lock first; what it
    read of the order before may be stale and is read again here."""
    return session.execute(
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .options(selectinload(Order.lines))
        .execution_options(populate_existing=True)
    ).scalar_one()


def current_payment(session, order_id: int) -> Payment | None:
    return session.execute(
        sa.select(Payment)
        .where(Payment.order_id == order_id, Payment.state != PaymentState.cancelled)
        .order_by(Payment.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def start_payment(session, gateway: PaymentGateway, order: Order) -> Payment | None:
    """Make sure an unpaid order has exactly one live provider payment, and return it.

    Call it after the order is committed: it talks to the provider while holding only this
    order's row lock, so concurrent replays of one checkout create one PaymentIntent.
    """
    if not gateway.online:
        return None
    order = lock_order_for_payment(session, order.id)
    existing = current_payment(session, order.id)
    if existing is not None or order.status is not OrderStatus.pending_payment:
        return existing
    attempts = session.execute(
        sa.select(sa.func.count()).where(Payment.order_id == order.id)
    ).scalar_one()
    started = gateway.start(
        order_id=order.id,
        order_number=order.number,
        amount_fen=order.total_fen,
        currency=order.currency,
        attempt=attempts + 1,
    )
    payment = Payment(
        order_id=order.id,
        gateway=gateway.name,
        state=PaymentState.pending,
        amount_fen=order.total_fen,
        currency=order.currency,
        provider_reference=started.reference,
        client_secret=started.client_secret,
    )
    session.add(payment)
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=payment.id, kind=PaymentEventKind.created, amount_fen=order.total_fen
        )
    )
    session.flush()
    return payment


def mark_paid(session, order: Order, payment: Payment, *, actor_id, reason: str) -> None:
    """The moment money is ours: payment succeeded, order paid, in the caller's transaction."""
    now = utcnow()
    payment.state = PaymentState.succeeded
    payment.captured_fen = payment.amount_fen
    payment.succeeded_at = now
    states.mark_paid(session, order, at=now, actor_id=actor_id, reason=reason)
    session.flush()
    # Paid and attributed in one transaction: there is never a paid order without its trail.
    posting_rules.order_paid(session, order, payment.clearing)


OFFLINE_METHODS = ("cash", "bank_transfer", "invoice")


def record_offline_payment(
    session, actor: Actor, order_id: int, *, method: str, reference: str, amount_fen: int
) -> Payment:
    """A station (or an admin) records money received at its counter or by transfer."""
    if actor.role not in (Role.station, Role.admin):
        raise PermissionDenied(OFFLINE_RECORDER_NOT_STATION())
    get_order(session, actor, order_id)  # scoping: the station must hold lines of this order
    order = lock_order_for_payment(session, order_id)
    if order.status is not OrderStatus.pending_payment:
        raise states.IllegalTransition(
            ORDER_NOT_UNPAID(order_number=order.number, status=order.status.value),
            current=order.status.value,
            requested=OrderStatus.paid.value,
        )
    if amount_fen != order.total_fen:
        raise ValidationFailed({"amount_fen": [AMOUNT_NOT_ORDER_TOTAL(total_fen=order.total_fen)]})
    if current_payment(session, order.id) is not None:
        raise Conflict(ONLINE_PAYMENT_IN_PROGRESS(order_number=order.number))
    duplicate = session.execute(
        sa.select(Payment.id).where(
            Payment.gateway == Gateway.offline, Payment.provider_reference == reference
        )
    ).first()
    if duplicate:
        raise ValidationFailed({"reference": [REFERENCE_TAKEN()]})
    payment = Payment(
        order_id=order.id,
        gateway=Gateway.offline,
        state=PaymentState.pending,
        method=method,
        amount_fen=amount_fen,
        currency=order.currency,
        provider_reference=reference,
        recorded_by_id=actor.user_id,
    )
    session.add(payment)
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.succeeded,
            amount_fen=amount_fen,
            actor_id=actor.user_id,
            detail=f"{method} {reference}",
        )
    )
    mark_paid(session, order, payment, actor_id=actor.user_id, reason=f"offline {method}")
    return payment
