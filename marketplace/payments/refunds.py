"""Giving money back: whole orders or chosen lines and quantities, never more than captured.

A refund is recorded as pending first; the provider is called after that commits; the refund
counts (on the lines, the payment and the order) only once the provider confirms it, by webhook
for Stripe, at once for cash handed back at a station.
"""

import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.accounts.scoping import Seen, with_lines_seen
from marketplace.catalog.stock import return_stock
from marketplace.db import after_commit, utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.extensions import db
from marketplace.ledger import posting_rules
from marketplace.orders import states
from marketplace.orders.models import Order, OrderLine, PaymentStatus
from marketplace.orders.service import get_order, visible_line_ids
from marketplace.payments.gateways import GatewayRefused, GatewayUnavailable, gateway_for
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
from marketplace.payments.scoping import REFUND_LINES, REFUNDS
from marketplace.payments.service import lock_order_for_payment
from marketplace.reasons import reason

logger = logging.getLogger(__name__)

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


def request_refund(
    session, actor: Actor, order_id: int, *, lines: list[dict] | None, reason: str | None
) -> Refund:
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(REFUNDER_NOT_ADMIN_OR_STATION())
    get_order(session, actor, order_id)  # scoping first: outside it, the order does not exist
    order = lock_order_for_payment(session, order_id)
    if order.payment_status not in (PaymentStatus.paid, PaymentStatus.partially_refunded):
        raise states.IllegalTransition(
            ORDER_NOT_PAID(order_number=order.number, payment_status=order.payment_status.value),
            current=order.payment_status.value,
            requested=PaymentStatus.refunded.value,
        )
    payment = _captured_payment(session, order.id)
    if payment.gateway is Gateway.platform:
        raise Conflict(PAID_ON_PLATFORM(order_number=order.number, platform=payment.method))
    yours = visible_line_ids(session, actor, order.id)
    chosen = _requested_lines(order, yours, lines, _pending_quantities(session, order.id))
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
    if payment.gateway is Gateway.stripe:
        refund_id = refund.id
        after_commit(session, lambda: send_to_provider(db.session, refund_id))
    else:
        # Cash or a transfer handed back at the station: done when it is recorded.
        confirm_refund(session, refund, provider_reference=None, actor_id=actor.user_id)
    session.flush()
    return refund


def send_to_provider(session, refund_id: int) -> None:
    """Ask the provider to give the money back. Runs after the pending refund committed, so a
    crash here leaves a pending refund that `flask payments retry-refunds` sends again (the
    provider's idempotency key makes the retry safe)."""
    refund = session.get(Refund, refund_id)
    if refund is None or refund.state is not RefundState.pending:
        return
    payment = session.get(Payment, refund.payment_id)
    try:
        reference = gateway_for(payment.gateway).refund(
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
    refund.provider_reference = reference
    session.flush()


def confirm_refund(
    session, refund: Refund, *, provider_reference, actor_id=None, restock: bool = True
) -> bool:
    """The provider gave the money back: now it counts. Returns False when already counted.
    Units that never shipped go back on the shelf, unless ``restock`` is false (a platform's
    sale never took units off our shelf)."""
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
    return_stock(session, returned)
    refund.restocked = bool(returned)
    refund.state = RefundState.succeeded
    refund.completed_at = utcnow()
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
        )
    )
    was_paid = order.payment_status is not PaymentStatus.void
    reason = f"refund {refund.id}: {refund.reason or 'no reason given'}"
    states.record_refund(session, order, parts, actor_id=actor_id, reason=reason)
    if was_paid:
        posting_rules.refund_confirmed(
            session,
            refund_id=refund.id,
            order_id=order.id,
            gateway=payment.clearing,
            refund_lines=reversed_lines,
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
    session.flush()
    return True


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
