"""Stripe webhooks: the view verifies the signature on the raw body; ``handle_event`` applies
one verified event. Each event id is stored once, so a redelivered event changes nothing; an
event that arrives out of order is applied only if it still moves things forward."""

import json
import logging

import sqlalchemy as sa
import stripe
from sqlalchemy.exc import IntegrityError

from marketplace.db import after_commit
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.ledger import posting_rules
from marketplace.orders.models import Order, OrderStatus
from marketplace.payments import refunds
from marketplace.payments.gateways import from_stripe_amount
from marketplace.payments.models import (
    Gateway,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentState,
    Refund,
    RefundState,
    WebhookReceipt,
)
from marketplace.payments.service import lock_order_for_payment, mark_paid
from marketplace.reasons import reason

logger = logging.getLogger(__name__)

#: How old a signed event may be before it is refused as a replay.
SIGNATURE_TOLERANCE_SECONDS = 300

STRIPE_NOT_CONFIGURED = reason(
    "webhook.stripe_not_configured", "Stripe is not configured on this server."
)
SIGNATURE_MISSING = reason("webhook.signature_missing", "The Stripe-Signature header is missing.")
SIGNATURE_REFUSED = reason("webhook.signature_refused", "Refused: {error}")
NOT_AN_EVENT = reason("webhook.not_an_event", "The payload is not a Stripe event.")


class BadSignature(DomainError):
    status, code, title = 400, "bad-signature", "The webhook signature does not verify"


def verify(payload: bytes, signature: str | None, secret: str) -> dict:
    """The event, if ``signature`` proves Stripe sent exactly ``payload``."""
    if not signature:
        raise BadSignature(SIGNATURE_MISSING())
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise BadSignature(SIGNATURE_REFUSED(error=str(error))) from None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise BadSignature(NOT_AN_EVENT())
    return event


def handle_event(session, event: dict) -> str:
    """Apply one verified event; returns what was done with it (for the log and the reply)."""
    receipt = WebhookReceipt(
        provider="stripe", event_id=event["id"], event_type=event["type"], outcome="received"
    )
    try:
        with session.begin_nested():
            session.add(receipt)
    except IntegrityError:
        logger.info("stripe event %s delivered again; ignored", event["id"])
        return "duplicate"
    handler = _HANDLERS.get(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    outcome = handler(session, event, obj) if handler else "ignored"
    receipt.outcome = outcome
    session.flush()
    log = logger.warning if outcome in ("unmatched", "amount_mismatch") else logger.info
    log("stripe event %s %s: %s", event["id"], event["type"], outcome)
    return outcome


def _payment_for(session, intent_id) -> Payment | None:
    if not intent_id:
        return None
    return session.execute(
        sa.select(Payment).where(
            Payment.gateway == Gateway.stripe, Payment.provider_reference == intent_id
        )
    ).scalar_one_or_none()


def _amount_matches(payment: Payment, intent) -> bool:
    """Whether Stripe took what the order expects; logged as an error when it did not."""
    try:
        amount = from_stripe_amount(intent.get("amount"), str(intent.get("currency")))
    except (TypeError, ValueError):
        amount = None
    if amount == (payment.amount_fen, payment.currency):
        return True
    logger.error(
        "payment %s: Stripe reports %s %s, the order expects %s %s; not marked paid",
        payment.id,
        intent.get("amount"),
        intent.get("currency"),
        payment.amount_fen,
        payment.currency,
    )
    return False


def _intent_succeeded(session, event, intent) -> str:
    payment = _payment_for(session, intent.get("id"))
    if payment is None:
        return "unmatched"
    if not _amount_matches(payment, intent):
        return "amount_mismatch"
    order = lock_order_for_payment(session, payment.order_id)
    # Read before the lock: another worker may have applied a twin event while we waited.
    session.refresh(payment, ["state"])
    if payment.state is PaymentState.succeeded:
        return "already_applied"
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.succeeded,
            amount_fen=payment.amount_fen,
            provider_event_id=event["id"],
        )
    )
    if order.status is OrderStatus.pending_payment:
        mark_paid(session, order, payment, actor_id=None, reason=f"stripe {event['id']}")
        return "applied"
    _refund_late_capture(session, order, payment)
    return "late_capture_refunding"


def _refund_late_capture(session, order: Order, payment: Payment) -> None:
    """The hold expired (or the buyer cancelled) before the money came: keep the record
    straight and send the money straight back (with the order's lock held)."""
    payment.state = PaymentState.succeeded
    payment.captured_fen = payment.amount_fen
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.late_capture,
            amount_fen=payment.amount_fen,
            detail=f"order was {order.status.value}; refunding in full",
        )
    )
    posting_rules.late_capture(
        session, order_id=order.id, gateway=payment.clearing, amount_fen=payment.amount_fen
    )
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        state=RefundState.pending,
        amount_fen=payment.amount_fen,
        currency=payment.currency,
        reason="paid after the order was cancelled",
    )
    session.add(refund)
    session.flush()
    refund_id = refund.id
    after_commit(session, lambda: refunds.send_to_provider(db.session, refund_id))


def _intent_failed(session, event, intent) -> str:
    payment = _payment_for(session, intent.get("id"))
    if payment is None:
        return "unmatched"
    if payment.state is not PaymentState.pending:
        return "stale"  # a failed attempt reported after a later attempt succeeded
    error = intent.get("last_payment_error") or {}
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.attempt_failed,
            provider_event_id=event["id"],
            detail=str(error.get("message") or error.get("code") or "payment failed")[:500],
        )
    )
    # The order stays payable: the buyer may try again with the same intent until the hold ends.
    return "recorded"


def refund_by(session, refund_object: dict) -> Refund | None:
    """Our refund a Stripe refund object is: by Stripe's id, else by the id we gave it."""
    found = None
    if refund_object.get("id"):
        found = session.execute(
            sa.select(Refund).where(Refund.provider_reference == refund_object["id"])
        ).scalar_one_or_none()
    ours = (refund_object.get("metadata") or {}).get("refund_id")
    if found is None and ours and str(ours).isdigit():
        found = session.get(Refund, int(ours))
    return found


def _apply_refund_object(session, event, refund_object: dict) -> str:
    refund = refund_by(session, refund_object)
    if refund is None:
        return "unmatched"
    status = refund_object.get("status")
    if status == "succeeded":
        changed = refunds.confirm_refund(
            session, refund, provider_reference=refund_object.get("id")
        )
        return "applied" if changed else "already_applied"
    if status in ("failed", "canceled"):
        refunds.fail_refund(session, refund, detail=f"stripe says {status}")
        return "applied"
    return "pending"


def _refund_event(session, event, refund_object) -> str:
    return _apply_refund_object(session, event, refund_object)


def _charge_refunded(session, event, charge) -> str:
    outcomes = [
        _apply_refund_object(session, event, item)
        for item in ((charge.get("refunds") or {}).get("data") or [])
    ]
    if not outcomes:
        return "ignored"
    return "applied" if "applied" in outcomes else outcomes[0]


_HANDLERS = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "charge.refund.updated": _refund_event,
    "charge.refunded": _charge_refunded,
}
