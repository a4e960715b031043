"""An unpaid order cancelled (its hold expired, or it was cancelled before money came): the
provider payment it waited for is cancelled too, so a buyer whose payment page is still open
cannot pay for stock the order no longer holds.

``orders.signals.unpaid_order_cancelled`` reaches ``payment_abandoned`` in the transaction
that cancels the order: the payment is recorded cancelled there, and once that commits the
provider is asked to cancel it (``cancel_at_provider``). If the buyer's payment won the race
(the provider says it succeeded), the provider's webhook brings the money in as a late capture
and it goes straight back (``webhooks._refund_late_capture``), as before.
"""

import logging

import sqlalchemy as sa

from marketplace.db import after_commit
from marketplace.extensions import db
from marketplace.orders.signals import unpaid_order_cancelled
from marketplace.payments.gateways import GatewayRefused, GatewayUnavailable, gateway_for
from marketplace.payments.models import Payment, PaymentEvent, PaymentEventKind, PaymentState

logger = logging.getLogger(__name__)


@unpaid_order_cancelled.connect
def payment_abandoned(order, *, session, reason: str) -> None:
    waiting = session.execute(
        sa.select(Payment).where(
            Payment.order_id == order.id, Payment.state == PaymentState.pending
        )
    ).scalars()
    for payment in waiting:
        payment.state = PaymentState.cancelled
        session.add(
            PaymentEvent(
                payment_id=payment.id,
                kind=PaymentEventKind.cancelled,
                amount_fen=payment.amount_fen,
                detail=f"order cancelled: {reason}"[:500],
            )
        )
        if payment.provider_reference:
            payment_id = payment.id
            after_commit(session, lambda payment_id=payment_id: cancel_at_provider(payment_id))
    session.flush()


def cancel_at_provider(payment_id: int, session=None) -> None:
    """Ask the provider to cancel the payment (after the order's cancellation committed)."""
    session = session or db.session
    payment = session.get(Payment, payment_id)
    if payment is None or payment.state is not PaymentState.cancelled:
        return  # the money came meanwhile: a late capture, refunded by its own path
    try:
        gateway_for(payment.gateway).cancel(payment_reference=payment.provider_reference)
    except GatewayRefused as refused:
        # Most likely the buyer paid a moment before: the webhook's late capture refunds it.
        logger.warning("payment %s not cancelled at the provider: %s", payment_id, refused.detail)
    except GatewayUnavailable as failed:
        # Still payable there until it is: a payment that comes is a late capture, refunded.
        logger.error("payment %s not cancelled at the provider: %s", payment_id, failed.detail)
