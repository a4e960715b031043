"""What the payments domain tells the ledger, and the entries it makes of it: an order paid,
a refund confirmed, money that arrived for a cancelled order and went back."""

from datetime import date

from marketplace.clock import shanghai_date, shanghai_today
from marketplace.ledger import attribution, journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import EntryKind


def orders_paid(session, paid: list[attribution.PaidOrder]) -> None:
    """Attribute a batch of paid orders, each as of its payment day."""
    attribution.attribute(session, paid)


def order_paid(session, order, gateway: str) -> None:
    """Attribute every line of ``order`` (its lines loaded) as of its payment day."""
    paid = attribution.PaidOrder(
        order_id=order.id,
        gateway=gateway,
        paid_on=shanghai_date(order.paid_at),
        lines=tuple(
            attribution.PaidLine(
                id=line.id,
                order_id=order.id,
                producer_id=line.producer_id,
                station_id=line.station_id,
                quantity=line.quantity,
                line_total_fen=line.line_total_fen,
            )
            for line in order.lines
        ),
    )
    orders_paid(session, [paid])


def refund_confirmed(
    session, *, refund_id: int, order_id: int, gateway: str, refund_lines, on: date | None = None
) -> None:
    """Reverse exactly the refunded share of what each refunded line attributed, on the day
    the money went back (today, unless a record of the past says otherwise).
    ``refund_lines``: ``(refund_line_id, order_line_id, amount_fen, line_total_fen)``."""
    attribution.reverse_refund(
        session,
        refund_id=refund_id,
        order_id=order_id,
        gateway=gateway,
        on=on or shanghai_today(),
        refund_lines=refund_lines,
    )


def late_capture(session, *, order_id: int, gateway: str, amount_fen: int) -> None:
    """Money for an order that could no longer take it: held in suspense until it goes back."""
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.late_capture,
                effective_on=shanghai_today(),
                order_id=order_id,
                legs=[
                    Leg(journal.gateway_clearing(gateway), amount_fen),
                    Leg(journal.SUSPENSE, -amount_fen),
                ],
            )
        ],
    )


def late_capture_refunded(session, *, order_id: int, refund_id: int, gateway: str, amount_fen: int):
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.late_capture_refund,
                effective_on=shanghai_today(),
                order_id=order_id,
                refund_id=refund_id,
                legs=[
                    Leg(journal.SUSPENSE, amount_fen),
                    Leg(journal.gateway_clearing(gateway), -amount_fen),
                ],
            )
        ],
    )
