"""Orders after checkout (``checkout.py``): what each reader sees of them, cancellation, expiry
of unpaid holds, and giving stock back. Who sees which orders and lines is decided in
``orders/scoping.py``.
"""

from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.accounts.scoping import Seen, with_lines_seen
from marketplace.catalog.models import Product
from marketplace.catalog.stock import return_stock
from marketplace.clock import shanghai_midnight
from marketplace.db import page_of, utcnow
from marketplace.errors import PermissionDenied
from marketplace.livestreams.models import LivestreamSession
from marketplace.orders import states
from marketplace.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from marketplace.orders.scoping import ORDER_LINES, ORDERS
from marketplace.orders.signals import unpaid_order_cancelled
from marketplace.reasons import reason
from marketplace.regions.service import in_subtree_of

CANCELLED_BY_BUYER = reason(
    "order.cancelled_by_buyer", "Only the buyer or an admin cancels an order."
)
PHONE_TAIL_NOT_FOR_OFFICIALS = reason(
    "order.phone_tail_not_for_officials",
    "Officials do not read buyers' addresses, so they cannot search orders by phone number.",
)


def get_order(session, actor: Actor, order_id: int, *, events: bool = True) -> Order:
    """The order with all its lines, if the actor may see it (404 otherwise): for the services
    that act on it. What a reader is shown of it comes from ``as_seen_by``."""
    loads = [selectinload(Order.lines)]
    if events:
        loads.append(selectinload(Order.events))
    return ORDERS.get(session, order_id, actor, options=loads)


def as_seen_by(session, actor: Actor, orders: list[Order]) -> list[Seen]:
    """Each order with only the lines the actor may see, in one statement whatever the number
    of orders. Where that is not every line (a station's share of an order with another
    station's goods), the order's money is that of the visible lines too: another station's
    prices, totals and refunds are not its business."""
    every, visible = defaultdict(list), defaultdict(list)
    if orders:
        rows = session.execute(
            sa.select(OrderLine, ORDER_LINES.clause(actor).label("visible"))
            .where(OrderLine.order_id.in_([order.id for order in orders]))
            .order_by(OrderLine.id)
        )
        for line, is_visible in rows:
            every[line.order_id].append(line)
            if is_visible:
                visible[line.order_id].append(line)
    seen = [
        with_lines_seen(
            order,
            visible[order.id],
            len(every[order.id]),
            {"total_fen": "line_total_fen", "refunded_fen": "refunded_fen"},
        )
        for order in orders
    ]
    if actor.role is Role.official:
        # Officials follow the money, not the parcel: who it ships to is not theirs to read.
        for order in seen:
            order.__dict__.update(dict.fromkeys(_ADDRESS, None))
    return seen


_ADDRESS = (
    "recipient_name",
    "recipient_phone",
    "province",
    "city",
    "district",
    "address_line",
    "postal_code",
)


def order_as_seen(session, actor: Actor, order_id: int) -> Seen:
    """One order with its history, as the actor may see it."""
    order = ORDERS.get(session, order_id, actor, options=[selectinload(Order.events)])
    return as_seen_by(session, actor, [order])[0]


def visible_line_ids(session, actor: Actor, order_id: int) -> set[int]:
    """The lines of an order the actor may act on (ship, refund): a station its own."""
    return set(
        session.scalars(
            ORDER_LINES.restrict(
                sa.select(OrderLine.id).where(OrderLine.order_id == order_id), actor
            )
        )
    )


def list_orders(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = _found_by_number_or_phone(ORDERS.restrict(sa.select(Order), actor), actor, filters)
    if filters.get("status") is not None:
        stmt = stmt.where(Order.status == filters["status"])
    if filters.get("payment_status") is not None:
        stmt = stmt.where(Order.payment_status == filters["payment_status"])
    if filters.get("created_from") is not None:
        stmt = stmt.where(Order.created_at >= filters["created_from"])
    if filters.get("created_to") is not None:
        stmt = stmt.where(Order.created_at < filters["created_to"])
    if filters.get("livestream_code"):
        stmt = stmt.where(
            Order.livestream_session_id.in_(
                sa.select(LivestreamSession.id).where(
                    LivestreamSession.code == filters["livestream_code"]
                )
            )
        )
    if filters.get("livestream_session_id") is not None:
        stmt = stmt.where(Order.livestream_session_id == filters["livestream_session_id"])
    if filters.get("channel") is not None:
        stmt = stmt.where(Order.channel == filters["channel"])
    if filters.get("station_id") is not None:
        stmt = stmt.where(
            Order.id.in_(
                sa.select(OrderLine.order_id).where(OrderLine.station_id == filters["station_id"])
            )
        )
    if filters.get("region_id") is not None:
        stmt = stmt.where(
            Order.id.in_(
                sa.select(OrderLine.order_id)
                .join(Product, Product.id == OrderLine.product_id)
                .where(in_subtree_of(Product.origin_village_id, filters["region_id"]))
            )
        )
    if filters.get("paid_in") is not None:
        period = filters["paid_in"]
        stmt = stmt.where(
            Order.paid_at >= shanghai_midnight(period.start),
            Order.paid_at < shanghai_midnight(period.end + timedelta(days=1)),
        )
    orders, total = page_of(
        session, stmt, order_by=[Order.id.desc()], page=page, page_size=page_size
    )
    return as_seen_by(session, actor, orders), total


def _found_by_number_or_phone(stmt, actor: Actor, filters: dict):
    """A counter's two ways of finding an order: part of its number, read off a slip, or the
    last four digits of the recipient's phone, said by the buyer. Only the tail is matched,
    so a search never confirms a whole number; and it is no way round the address officials
    are not shown."""
    if filters.get("number"):
        number = filters["number"].upper()
        stmt = stmt.where(sa.func.upper(Order.number).contains(number, autoescape=True))
    if filters.get("phone_tail"):
        if actor.role is Role.official:
            raise PermissionDenied(PHONE_TAIL_NOT_FOR_OFFICIALS())
        stmt = stmt.where(Order.recipient_phone.endswith(filters["phone_tail"], autoescape=True))
    return stmt


def cancel(session, actor: Actor, order_id: int, *, reason: str | None) -> Order:
    """The buyer (or an admin) cancels an unpaid order; its stock goes back on the shelf."""
    order = get_order(session, actor, order_id)
    if actor.role not in (Role.buyer, Role.unit, Role.admin):
        raise PermissionDenied(CANCELLED_BY_BUYER())
    _cancel_unpaid(session, order, actor_id=actor.user_id, reason=reason or "cancelled by buyer")
    return order


def _cancel_unpaid(session, order: Order, *, actor_id, reason: str) -> None:
    states.move(session, order, OrderStatus.cancelled, actor_id=actor_id, reason=reason)
    states.move(session, order, PaymentStatus.void, actor_id=actor_id, reason=reason)
    return_stock(session, {line.sku_id: line.quantity for line in order.lines})
    session.flush()
    unpaid_order_cancelled.send(order, session=session, reason=reason)


def expire_unpaid(session, *, now=None, batch: int = 200) -> int:
    """Cancel orders whose payment hold ran out and return their stock. Safe to run from many
    workers at once: rows another sweeper holds are skipped, and each order moves only once."""
    now = now or utcnow()
    due = (
        session.execute(
            sa.select(Order)
            .where(Order.status == OrderStatus.pending_payment, Order.hold_expires_at <= now)
            .order_by(Order.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
            .options(selectinload(Order.lines))
        )
        .scalars()
        .all()
    )
    for order in due:
        _cancel_unpaid(session, order, actor_id=None, reason="payment hold expired")
    return len(due)
