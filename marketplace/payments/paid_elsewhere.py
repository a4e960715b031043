"""Payments taken on an outside platform (Douyin, Kuaishou, Pinduoduo, Taobao, ...), for the
sales imported from its exports (``platform_sales``), which arrive as orders already paid.

The platform took the buyer's money, so each order gets a payment of the ``platform`` gateway
that has succeeded: its money clears through that platform's own clearing account in the ledger
(``Payment.clearing``), which ``flask ledger check`` reconciles like any gateway's, and the
order is attributed in the same transaction. Sales arrive by the thousand (an evening's
livestream): ``record_payments`` writes a batch with one INSERT per table and one attribution
batch. A refund the platform reports is recorded confirmed at once and reverses exactly what
the refunded line attributed, as every refund does; a platform's sale took nothing off our
shelf, so its refunds return no stock.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from marketplace.clock import shanghai_date
from marketplace.db import new_ids
from marketplace.ledger import attribution, posting_rules
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
from marketplace.payments.refunds import confirm_refund
from marketplace.payments.service import lock_order_for_payment

_PAYMENTS, _EVENTS = Payment.__table__, PaymentEvent.__table__


@dataclass(frozen=True)
class PaidElsewhere:
    """An order paid on ``platform``: its platform reference (unique per platform among our
    payments) and its lines as the ledger attributes them."""

    order_id: int
    platform: str
    reference: str
    paid_at: datetime
    lines: tuple[attribution.PaidLine, ...]

    @property
    def amount_fen(self) -> int:
        return sum(line.line_total_fen for line in self.lines)


def record_payments(session, sales: list[PaidElsewhere]) -> None:
    """The platform's payment of each order, succeeded, and the orders attributed as of
    their payment days. A constant number of statements per batch."""
    if not sales:
        return
    ids = _insert_payments(session, sales)
    session.execute(
        sa.insert(_EVENTS),
        [
            {
                "payment_id": payment_id,
                "kind": PaymentEventKind.succeeded,
                "amount_fen": sale.amount_fen,
                "detail": f"paid on {sale.platform}, order {sale.reference}",
                "created_at": sale.paid_at,
            }
            for sale, payment_id in zip(sales, ids, strict=True)
        ],
    )
    posting_rules.orders_paid(
        session,
        [
            attribution.PaidOrder(
                order_id=sale.order_id,
                gateway=sale.platform,
                paid_on=shanghai_date(sale.paid_at),
                lines=sale.lines,
            )
            for sale in sales
        ],
    )


def _insert_payments(session, sales: list[PaidElsewhere]) -> list[int]:
    """The sales' payments, succeeded: their ids, in the order of ``sales``."""
    rows = [
        {
            "order_id": sale.order_id,
            "gateway": Gateway.platform,
            "state": PaymentState.succeeded,
            "method": sale.platform,
            "amount_fen": sale.amount_fen,
            "currency": "CNY",
            "captured_fen": sale.amount_fen,
            "refunded_fen": 0,
            "provider_reference": f"{sale.platform}:{sale.reference}",
            "created_at": sale.paid_at,
            "succeeded_at": sale.paid_at,
        }
        for sale in sales
    ]
    if len(rows) > 1 and session.connection().dialect.name == "postgresql":
        # A batch: its ids drawn first and written with the rows (``db.new_ids`` says why).
        ids = new_ids(session, _PAYMENTS, len(rows))
        session.execute(
            sa.insert(_PAYMENTS), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
    else:
        # Rows come back in any order: each is found again by its unique reference.
        by_reference = dict(
            session.execute(
                sa.insert(_PAYMENTS).returning(_PAYMENTS.c.provider_reference, _PAYMENTS.c.id),
                rows,
            ).all()
        )
        ids = [by_reference[row["provider_reference"]] for row in rows]
    return ids


def record_refund(
    session,
    order_id: int,
    parts: list[tuple[int, int, int]],
    *,
    reason: str,
    refunded_at: datetime | None = None,
):
    """Record a refund the platform made: ``parts`` are ``(order line id, amount in fen, units
    returned)``. It is confirmed at once (the platform already paid it back) and reverses
    exactly what each line attributed."""
    order = lock_order_for_payment(session, order_id)
    payment = session.execute(
        sa.select(Payment).where(
            Payment.order_id == order.id, Payment.state == PaymentState.succeeded
        )
    ).scalar_one()
    amount = sum(amount for _, amount, _ in parts)
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        state=RefundState.pending,
        amount_fen=amount,
        currency=payment.currency,
        reason=reason[:300],
        lines=[
            RefundLine(order_line_id=line_id, quantity=units, amount_fen=line_amount)
            for line_id, line_amount, units in parts
        ],
    )
    session.add(refund)
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.refund_requested,
            amount_fen=amount,
            detail=reason[:500],
        )
    )
    confirm_refund(session, refund, provider_reference=None, restock=False, refunded_at=refunded_at)
    return refund
