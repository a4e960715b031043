"""Placing an order and starting its payment: reserve the stock and write the order
(``orders/checkout.py``), then start the payment with the provider, in two transactions on
purpose.

This is the one service that commits itself: the stock reservation must be durable, and its
row locks released, before anyone waits on a payment provider over the network.
"""

from dataclasses import dataclass
from datetime import timedelta

from marketplace.accounts.auth import Actor
from marketplace.errors import Conflict
from marketplace.orders import checkout as ordering
from marketplace.orders.models import Order
from marketplace.orders.service import get_order
from marketplace.payments.gateways import GatewayUnavailable, PaymentGateway
from marketplace.payments.models import Payment
from marketplace.payments.service import start_payment
from marketplace.reasons import reason

NO_ONLINE_PAYMENT = reason(
    "payment.no_online_payment",
    "Order {order_number} takes no online payment ({payment_status}); it is paid at the station.",
)


@dataclass
class PlacedOrder:
    order: Order
    payment: Payment | None
    #: True when this request repeated an earlier one with the same Idempotency-Key
    replayed: bool
    #: why no payment could be started (the order stands; the buyer may retry the payment)
    payment_error: str | None = None


def place_and_start_payment(
    session,
    actor: Actor,
    data: dict,
    *,
    idempotency_key: str | None,
    hold: timedelta,
    gateway: PaymentGateway,
) -> PlacedOrder:
    order, replayed = ordering.checkout(
        session, actor, data, idempotency_key=idempotency_key, hold=hold
    )
    if order.unit_id is not None or not gateway.online:
        # Units pay by invoice and the offline gateway by cash: a station records it later.
        return PlacedOrder(order, None, replayed)
    session.commit()
    try:
        payment = start_payment(session, gateway, order)
    except GatewayUnavailable as error:
        session.rollback()
        return PlacedOrder(order, None, replayed, payment_error=error.detail)
    return PlacedOrder(order, payment, replayed)


def retry_payment(session, actor: Actor, order_id: int, *, gateway: PaymentGateway) -> Payment:
    """The buyer asks again for the order's payment (a new page load, a failed attempt): the
    live PaymentIntent is returned, or a new one made if there is none."""
    order = get_order(session, actor, order_id)
    payment = start_payment(session, gateway, order)
    if payment is None:
        # Nothing failed upstream: this order takes no online payment (the offline gateway,
        # a unit's invoice, or an order no longer waiting for money). The client's mistake.
        raise NoOnlinePayment(
            NO_ONLINE_PAYMENT(order_number=order.number, payment_status=order.payment_status.value),
            payment_status=order.payment_status.value,
        )
    return payment


class NoOnlinePayment(Conflict):
    code, title = "no-online-payment", "The order takes no online payment"
