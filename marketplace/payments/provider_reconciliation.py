"""``flask payments reconcile --since DATE``: Stripe's side against ours. Every PaymentIntent
and refund Stripe made since the date (paged) is compared with the payment or refund it
belongs to here. What a missed webhook explains (Stripe says succeeded, or a refund failed,
and we still wait) is fixed by applying the event Stripe would have sent, recorded as the
reconciliation's (its event id starts ``reconcile:``; the webhook arriving later finds it
done). Everything else is reported for a person: money Stripe holds that we do not know of,
a state we hold that Stripe contradicts, an amount that differs.
"""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from marketplace.payments import webhooks
from marketplace.payments.gateways import from_stripe_amount
from marketplace.payments.models import Payment, PaymentState, RefundState

#: Stripe's intent states that mean the money is ours, and those that mean it never came.
_SUCCEEDED = "succeeded"
_NOT_PAID = ("requires_payment_method", "requires_confirmation", "requires_action", "canceled")


@dataclass
class Reconciliation:
    compared: int = 0
    fixed: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reported


def reconcile(session, gateway, since: datetime) -> Reconciliation:
    found = Reconciliation()
    for intent in gateway.payment_intents_since(since):
        found.compared += 1
        _compare_intent(session, intent, found)
    for refund in gateway.refunds_since(since):
        found.compared += 1
        _compare_refund(session, refund, found)
    return found


def _apply(session, event_type: str, obj: dict) -> str:
    event = {
        "id": f"reconcile:{obj['id']}:{obj.get('status')}",
        "type": event_type,
        "data": {"object": obj},
    }
    return webhooks.handle_event(session, event)


def _compare_intent(session, intent: dict, found: Reconciliation) -> None:
    reference, status = intent["id"], intent.get("status")
    payment = session.execute(
        sa.select(Payment).where(Payment.provider_reference == reference)
    ).scalar_one_or_none()
    if payment is None:
        if status == _SUCCEEDED:
            found.reported.append(
                f"PaymentIntent {reference} succeeded for {_money(intent)} and is no payment "
                f"here (metadata {intent.get('metadata') or {}})"
            )
        return
    if status == _SUCCEEDED and payment.state is not PaymentState.succeeded:
        outcome = _apply(session, "payment_intent.succeeded", intent)
        line = f"payment {payment.id} (order {payment.order_id}): Stripe says succeeded"
        if outcome in ("applied", "late_capture_refunding"):
            found.fixed.append(f"{line}; the missed webhook applied ({outcome})")
        else:
            found.reported.append(f"{line}; not applied: {outcome}")
    elif status in _NOT_PAID and payment.state is PaymentState.succeeded:
        found.reported.append(
            f"payment {payment.id} (order {payment.order_id}) is succeeded here; Stripe says "
            f"{status}"
        )


def _compare_refund(session, refund: dict, found: Reconciliation) -> None:
    reference, status = refund["id"], refund.get("status")
    ours = webhooks.refund_by(session, refund)
    if ours is None:
        found.reported.append(
            f"Stripe refund {reference} of {_money(refund)} ({status}) is no refund here"
        )
        return
    session.refresh(ours)
    line = f"refund {ours.id} (order {ours.order_id})"
    if status in ("succeeded", "failed", "canceled") and ours.state is RefundState.pending:
        outcome = _apply(session, "refund.updated", refund)
        session.refresh(ours)
        found.fixed.append(f"{line}: Stripe says {status}; now {ours.state.value} ({outcome})")
    elif status == "succeeded" and ours.state is RefundState.failed:
        outcome = _apply(session, "refund.updated", refund)
        found.fixed.append(f"{line}: failed here, Stripe says succeeded; confirmed ({outcome})")
    elif status in ("failed", "canceled") and ours.state is RefundState.succeeded:
        found.reported.append(f"{line} is succeeded here; Stripe says {status}")


def _money(obj: dict) -> str:
    try:
        fen, currency = from_stripe_amount(obj.get("amount"), str(obj.get("currency")))
    except (TypeError, ValueError):
        return f"{obj.get('amount')} {obj.get('currency')}"
    return f"{fen / 100:.2f} {currency}"
