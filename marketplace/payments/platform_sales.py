"""Sales made on outside platforms (Douyin, Kuaishou, Pinduoduo, Taobao, ...), recorded here from
their order exports so that they count for households like any other sale.

The platform took the buyer's money, so each sale is recorded as an order already paid
through the ``platform`` gateway: its money clears through that platform's own clearing
account in the ledger (``Payment.clearing``), which ``flask ledger check`` reconciles with the
payments like any gateway's. A refund the platform reports reverses exactly what the refunded
line attributed, as every refund does. A platform's sale took nothing off our shelf, so it
takes no stock and its refunds return none.

Sales arrive by the thousand (an evening's livestream), so ``record_sales`` writes a batch of
them with one multi-row INSERT per table and attributes them in one ledger batch.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from marketplace.clock import shanghai_date
from marketplace.ledger import attribution
from marketplace.orders import states
from marketplace.orders.models import (
    Channel,
    EventDimension,
    LinePricing,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
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
from marketplace.payments.service import _lock_order

#: How far along its fulfilment a platform's order may be, in order.
_PROGRESS = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.completed)


@dataclass(frozen=True)
class SaleLine:
    sku_id: int
    product_id: int
    station_id: int
    producer_id: int
    product_name: str
    sku_spec: str
    unit_price_fen: int
    quantity: int
    #: what the line brought in: its price × quantity less the seller's discount
    line_total_fen: int
    list_price_fen: int


@dataclass(frozen=True)
class Sale:
    """One order of a platform as ours: no two of its lines share a SKU."""

    platform: str
    #: the platform's (sub-)order id; with the platform, unique among our payments
    reference: str
    number: str
    #: what people see of the sale's origin ("douyin order 692…, sub-order 692…")
    note: str
    placed_at: datetime
    paid_at: datetime
    livestream_session_id: int | None
    status: OrderStatus
    lines: tuple[SaleLine, ...]


def record_sales(session, sales: list[Sale]) -> list[tuple[int, list[int]]]:
    """Write the sales as paid orders and attribute them. Returns each sale's order id and
    line ids (in the order of its lines). A constant number of statements per batch."""
    if not sales:
        return []
    orders, lines = Order.__table__, OrderLine.__table__
    # Rows come back in any order (asking for the parameters' order would cost SQLite a
    # statement a row): each is found again by a unique value of its own.
    by_number = dict(
        session.execute(
            sa.insert(orders).returning(orders.c.number, orders.c.id),
            [_order_values(sale) for sale in sales],
        ).all()
    )
    order_ids = [by_number[sale.number] for sale in sales]
    line_values = [
        _line_values(order_id, line)
        for order_id, sale in zip(order_ids, sales, strict=True)
        for line in sale.lines
    ]
    # Every line of a sale has its own SKU (see ``Sale``), so (order, SKU) finds its id.
    line_ids = {
        (order_id, sku_id): line_id
        for line_id, order_id, sku_id in session.execute(
            sa.insert(lines).returning(lines.c.id, lines.c.order_id, lines.c.sku_id), line_values
        )
    }
    sale_line_ids = [
        [line_ids[order_id, line.sku_id] for line in sale.lines]
        for order_id, sale in zip(order_ids, sales, strict=True)
    ]
    session.execute(
        sa.insert(OrderEvent.__table__),
        [
            event
            for order_id, sale in zip(order_ids, sales, strict=True)
            for event in _events(order_id, sale)
        ],
    )
    payments = Payment.__table__
    by_reference = dict(
        session.execute(
            sa.insert(payments).returning(payments.c.provider_reference, payments.c.id),
            [
                {
                    "order_id": order_id,
                    "gateway": Gateway.platform.name,
                    "state": PaymentState.succeeded.name,
                    "method": sale.platform,
                    "amount_fen": _total(sale),
                    "currency": "CNY",
                    "captured_fen": _total(sale),
                    "refunded_fen": 0,
                    "provider_reference": f"{sale.platform}:{sale.reference}",
                    "created_at": sale.paid_at,
                    "succeeded_at": sale.paid_at,
                }
                for order_id, sale in zip(order_ids, sales, strict=True)
            ],
        ).all()
    )
    payment_ids = [by_reference[f"{sale.platform}:{sale.reference}"] for sale in sales]
    session.execute(
        sa.insert(PaymentEvent.__table__),
        [
            {
                "payment_id": payment_id,
                "kind": PaymentEventKind.succeeded.name,
                "amount_fen": _total(sale),
                "detail": f"paid on {sale.platform}, order {sale.reference}",
                "created_at": sale.paid_at,
            }
            for payment_id, sale in zip(payment_ids, sales, strict=True)
        ],
    )
    attribution.attribute(
        session,
        [
            attribution.PaidOrder(
                order_id=order_id,
                gateway=sale.platform,
                paid_on=shanghai_date(sale.paid_at),
                lines=tuple(
                    attribution.PaidLine(
                        id=line_id,
                        order_id=order_id,
                        producer_id=line.producer_id,
                        station_id=line.station_id,
                        quantity=line.quantity,
                        line_total_fen=line.line_total_fen,
                    )
                    for line_id, line in zip(ids, sale.lines, strict=True)
                ),
            )
            for order_id, sale, ids in zip(order_ids, sales, sale_line_ids, strict=True)
        ],
    )
    return list(zip(order_ids, sale_line_ids, strict=True))


def _total(sale: Sale) -> int:
    return sum(line.line_total_fen for line in sale.lines)


def _order_values(sale: Sale) -> dict:
    return {
        "number": sale.number,
        "buyer_id": None,
        "unit_id": None,
        "channel": Channel.imported.name,
        "livestream_session_id": sale.livestream_session_id,
        "status": sale.status.name,
        "payment_status": PaymentStatus.paid.name,
        "total_fen": _total(sale),
        "refunded_fen": 0,
        "currency": "CNY",
        "note": sale.note[:200],
        "hold_expires_at": sale.paid_at,
        "created_at": sale.placed_at,
        "paid_at": sale.paid_at,
        "version": 1,
    }


def _line_values(order_id: int, line: SaleLine) -> dict:
    return {
        "order_id": order_id,
        "sku_id": line.sku_id,
        "product_id": line.product_id,
        "station_id": line.station_id,
        "producer_id": line.producer_id,
        "product_name": line.product_name,
        "sku_spec": line.sku_spec,
        "unit_price_fen": line.unit_price_fen,
        "quantity": line.quantity,
        "line_total_fen": line.line_total_fen,
        "discount_fen": line.unit_price_fen * line.quantity - line.line_total_fen,
        "list_price_fen": line.list_price_fen,
        "pricing": LinePricing.platform.name,
        "live_price_id": None,
        "refunded_quantity": 0,
        "refunded_fen": 0,
    }


def _events(order_id: int, sale: Sale) -> list[dict]:
    """Paid on the platform, then as far along as the platform says it is."""
    reason = sale.note[:300]
    events = [
        _event(order_id, EventDimension.payment, None, PaymentStatus.paid, sale.paid_at, reason),
        _event(order_id, EventDimension.status, None, OrderStatus.paid, sale.paid_at, reason),
    ]
    reached = _PROGRESS.index(sale.status)
    for before, after in itertools.pairwise(_PROGRESS[: reached + 1]):
        events.append(_event(order_id, EventDimension.status, before, after, sale.paid_at, reason))
    return events


def _event(order_id, dimension, from_value, to_value, at, reason) -> dict:
    return {
        "order_id": order_id,
        "dimension": dimension.name,
        "from_value": from_value.value if from_value else None,
        "to_value": to_value.value,
        "actor_id": None,
        "reason": reason,
        "created_at": at,
    }


def advance(session, order_id: int, target: OrderStatus, *, reason: str) -> bool:
    """Move a platform's order along its fulfilment to ``target``, one step at a time, if
    it is not there or beyond yet. Returns whether it moved."""
    order = _lock_order(session, order_id)
    if order.status not in _PROGRESS or target not in _PROGRESS:
        return False
    current, wanted = _PROGRESS.index(order.status), _PROGRESS.index(target)
    for step in _PROGRESS[current + 1 : wanted + 1]:
        states.move(session, order, step, actor_id=None, reason=reason)
    session.flush()
    return wanted > current


def refund(session, order_id: int, parts: list[tuple[int, int, int]], *, reason: str) -> Refund:
    """Record a refund the platform made: ``parts`` are ``(order line id, amount in fen, units
    returned)``. It is confirmed at once (the platform already paid it back) and reverses
    exactly what each line attributed."""
    order = _lock_order(session, order_id)
    payment = session.execute(
        sa.select(Payment).where(
            Payment.order_id == order.id, Payment.state == PaymentState.succeeded
        )
    ).scalar_one()
    amount = sum(amount for _, amount, _ in parts)
    refund_row = Refund(
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
    session.add(refund_row)
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            kind=PaymentEventKind.refund_requested,
            amount_fen=amount,
            detail=reason[:500],
        )
    )
    confirm_refund(session, refund_row, provider_reference=None, restock=False)
    return refund_row
