"""Recording a batch of platform sales as ours: each an order already paid, written through the
orders' own batch function (``orders.writing.write_orders``) and paid through the payments'
(``payments.paid_elsewhere.record_payments``), which attributes it. A constant number of
statements per batch; nothing here writes a table of its own but through those owners."""

from dataclasses import dataclass
from datetime import datetime

from marketplace.ledger.attribution import PaidLine
from marketplace.orders import fulfilment, states
from marketplace.orders.models import Channel, LinePricing, OrderStatus, PaymentStatus
from marketplace.orders.writing import NewLine, NewOrder, write_orders
from marketplace.payments import paid_elsewhere
from marketplace.payments.service import lock_order_for_payment


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
    lines: tuple[NewLine, ...]


def platform_line(**facts) -> NewLine:
    """A line sold on a platform at its price there, less the seller's discount."""
    return NewLine(pricing=LinePricing.platform, **facts)


def record_sales(session, sales: list[Sale]) -> list[tuple[int, list[int]]]:
    """Write the sales as paid orders, with their payments, and attribute them. Returns each
    sale's order id and line ids (in the order of its lines)."""
    written = write_orders(session, [_new_order(sale) for sale in sales])
    paid_elsewhere.record_payments(
        session,
        [
            paid_elsewhere.PaidElsewhere(
                order_id=order.order_id,
                platform=sale.platform,
                reference=sale.reference,
                paid_at=sale.paid_at,
                lines=tuple(
                    PaidLine(
                        id=line_id,
                        order_id=order.order_id,
                        producer_id=line.producer_id,
                        station_id=line.station_id,
                        quantity=line.quantity,
                        line_total_fen=line.line_total_fen,
                    )
                    for line_id, line in zip(order.line_ids, sale.lines, strict=True)
                ),
            )
            for order, sale in zip(written, sales, strict=True)
        ],
    )
    return [(order.order_id, order.line_ids) for order in written]


def _new_order(sale: Sale) -> NewOrder:
    return NewOrder(
        values={
            "number": sale.number,
            "buyer_id": None,
            "unit_id": None,
            "channel": Channel.imported,
            "livestream_session_id": sale.livestream_session_id,
            "status": sale.status,
            "payment_status": PaymentStatus.paid,
            "note": sale.note[:200],
            "hold_expires_at": sale.paid_at,
            "created_at": sale.placed_at,
            "paid_at": sale.paid_at,
        },
        lines=sale.lines,
        history=states.opening_history(sale.status, PaymentStatus.paid, sale.paid_at),
        reason=sale.note,
    )


def advance(session, order_id: int, target: OrderStatus, *, reason: str) -> bool:
    """A platform's later export says the sale moved on (shipped, completed)."""
    order = lock_order_for_payment(session, order_id)
    return fulfilment.advance(session, order, target, reason=reason)


def refund(
    session,
    order_id: int,
    parts: list[tuple[int, int, int]],
    *,
    reason: str,
    refunded_at: datetime | None = None,
) -> None:
    """A platform's later export says part of the sale was refunded (``refunded_at``: when,
    for a record of the past; the export's arrival otherwise)."""
    paid_elsewhere.record_refund(session, order_id, parts, reason=reason, refunded_at=refunded_at)
