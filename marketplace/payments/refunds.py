"""Completing refunds (``refund_requests.py`` records them, pending): a refund is sent to the
provider once its request committed, and counts (on the lines, the payment and the order) only
once the provider confirms it: in Stripe's answer to its creation when that says succeeded (or
failed), else by webhook; at once for cash handed back at a station. A webhook arriving after
the answer settled it changes nothing twice. And the order's refunds, as the actor may see them.
"""

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.scoping import Seen, with_lines_seen
from marketplace.catalog.stock import return_stock
from marketplace.clock import shanghai_date
from marketplace.db import utcnow
from marketplace.ledger import posting_rules
from marketplace.orders import states
from marketplace.orders.models import Order, PaymentStatus
from marketplace.orders.service import get_order
from marketplace.payments.gateways import GatewayRefused, GatewayUnavailable, gateway_for
from marketplace.payments.models import (
    Payment,
    PaymentEvent,
    PaymentEventKind,
    Refund,
    RefundLine,
    RefundState,
)
from marketplace.payments.scoping import REFUND_LINES, REFUNDS
from marketplace.payments.service import lock_order_for_payment

logger = logging.getLogger(__name__)


def send_to_provider(session, refund_id: int) -> None:
    """Ask the provider to give the money back. Runs after the pending refund committed, so a
    crash here leaves a pending refund that `flask payments retry-refunds` sends again (the
    provider's idempotency key makes the retry safe)."""
    refund = session.get(Refund, refund_id)
    if refund is None or refund.state is not RefundState.pending:
        return
    payment = session.get(Payment, refund.payment_id)
    try:
        answer = gateway_for(payment.gateway).refund(
            payment_reference=payment.provider_reference,
            amount_fen=refund.amount_fen,
            currency=refund.currency,
            idempotency_key=f"refund-{refund.id}",
            refund_id=refund.id,
        )
    except GatewayRefused as error:
        logger.error("refund %s refused by the provider: %s", refund.id, error.detail)
        fail_refund(session, refund, detail=error.detail)
        return
    except GatewayUnavailable as error:
        logger.error("refund %s not sent yet, will retry: %s", refund.id, error.detail)
        return
    if answer is None:
        return
    if answer.status == "succeeded":
        confirm_refund(session, refund, provider_reference=answer.reference)
        return
    refund.provider_reference = answer.reference
    if answer.status in ("failed", "canceled"):
        detail = f"stripe says {answer.status}: {answer.failure_reason or 'no reason given'}"
        fail_refund(session, refund, detail=detail)
        return
    session.flush()


def confirm_refund(
    session,
    refund: Refund,
    *,
    provider_reference,
    actor_id=None,
    restock: bool = True,
    refunded_at: datetime | None = None,
) -> bool:
    """The provider gave the money back: now it counts. Returns False when already counted.
    Units that never shipped go back on the shelf, unless ``restock`` is false (a platform's
    sale never took units off our shelf). ``refunded_at``: when the money went back, for a
    refund recorded after the fact (now, otherwise)."""
    order = lock_order_for_payment(session, refund.order_id)
    # Stripe reports one refund in several events that may be handled at once; whatever was
    # read before the order lock may be stale, so the state is decided after it.
    session.refresh(refund, ["state"])
    if refund.state is RefundState.succeeded:
        return False
    if refund.state is RefundState.failed:
        logger.error("refund %s confirmed by the provider after it had failed", refund.id)
    payment = session.get(Payment, refund.payment_id)
    session.refresh(payment, ["refunded_fen"])
    returned, reversed_lines, parts = _refunded_lines(session, refund, order, restock=restock)
    return_stock(session, returned)
    refund.restocked = bool(returned)
    refund.state = RefundState.succeeded
    refund.completed_at = refunded_at or utcnow()
    if provider_reference:
        refund.provider_reference = provider_reference
    payment.refunded_fen += refund.amount_fen
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.refund_succeeded,
            amount_fen=refund.amount_fen,
            actor_id=actor_id,
            detail=f"refund {refund.id}",
            created_at=refund.completed_at,
        )
    )
    was_paid = order.payment_status not in (PaymentStatus.void, PaymentStatus.late_capture_refunded)
    reason = f"refund {refund.id}: {refund.reason or 'no reason given'}"
    states.record_refund(session, order, parts, actor_id=actor_id, reason=reason)
    on = shanghai_date(refunded_at) if refunded_at else None  # None: today
    _post_refund(session, refund, order, payment, reversed_lines, was_paid=was_paid, on=on)
    session.flush()
    return True


def _refunded_lines(session, refund: Refund, order: Order, *, restock: bool):
    """What the refund's lines give back: the units going back on the shelf by SKU (those
    that never shipped, when ``restock``), the lines as the ledger reverses them
    ``(refund line id, order line id, amount, line total)``, and as the order records them
    ``(order line id, quantity, amount)``."""
    lines = {line.id: line for line in order.lines}
    refund_lines = session.execute(
        sa.select(RefundLine).where(RefundLine.refund_id == refund.id)
    ).scalars()
    returned, reversed_lines, parts = {}, [], []
    for item in refund_lines:
        line = lines[item.order_line_id]
        reversed_lines.append((item.id, line.id, item.amount_fen, line.line_total_fen))
        parts.append((line.id, item.quantity, item.amount_fen))
        if restock and line.shipped_at is None and item.quantity:
            returned[line.sku_id] = returned.get(line.sku_id, 0) + item.quantity
    return returned, reversed_lines, parts


def _post_refund(
    session, refund: Refund, order: Order, payment: Payment, reversed_lines, *, was_paid, on
) -> None:
    """The refund in the ledger: the reversal of what its lines attributed, or, for an order
    that was never paid, the late capture going back."""
    if was_paid:
        posting_rules.refund_confirmed(
            session,
            refund_id=refund.id,
            order_id=order.id,
            gateway=payment.clearing,
            refund_lines=reversed_lines,
            on=on,
        )
    else:
        # Money that came after the order was cancelled going back (a late capture).
        posting_rules.late_capture_refunded(
            session,
            order_id=order.id,
            refund_id=refund.id,
            gateway=payment.clearing,
            amount_fen=refund.amount_fen,
        )
        if payment.refunded_fen >= payment.captured_fen:
            states.record_late_capture_returned(
                session, order, actor_id=None, reason=f"refund {refund.id}: late capture returned"
            )


def fail_refund(session, refund: Refund, *, detail: str) -> None:
    lock_order_for_payment(session, refund.order_id)
    # As in confirm_refund: never fail a refund another worker counted meanwhile.
    session.refresh(refund, ["state"])
    if refund.state is not RefundState.pending:
        return
    refund.state = RefundState.failed
    refund.completed_at = utcnow()
    session.add(
        PaymentEvent(
            payment_id=refund.payment_id,
            kind=PaymentEventKind.refund_failed,
            amount_fen=refund.amount_fen,
            detail=detail[:500],
        )
    )
    session.flush()


def retry_pending(session, *, older_than) -> int:
    """Send again the refunds whose provider call never happened (a crash, a provider outage)."""
    due = (
        session.execute(
            sa.select(Refund.id).where(
                Refund.state == RefundState.pending,
                Refund.provider_reference.is_(None),
                Refund.created_at <= older_than,
            )
        )
        .scalars()
        .all()
    )
    for refund_id in due:
        send_to_provider(session, refund_id)
    return len(due)


def refunds_of(session, actor: Actor, order_id: int) -> list[Seen]:
    """The order's refunds the actor may see, each with the lines it may see; where that is not
    every line of a refund, its amount is that of the visible lines."""
    get_order(session, actor, order_id, events=False)  # outside its scope, the order is a 404
    refunds = session.scalars(
        REFUNDS.restrict(sa.select(Refund).where(Refund.order_id == order_id), actor)
        .order_by(Refund.id)
        .options(selectinload(Refund.lines))
    ).all()
    visible = set(
        session.scalars(
            REFUND_LINES.restrict(
                sa.select(RefundLine.id).where(RefundLine.refund_id.in_([r.id for r in refunds])),
                actor,
            )
        )
    )
    return [
        with_lines_seen(
            refund,
            [line for line in refund.lines if line.id in visible],
            len(refund.lines),
            {"amount_fen": "amount_fen"},
        )
        for refund in refunds
    ]
