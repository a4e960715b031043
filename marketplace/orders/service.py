"""Checkout and the buyer's and station's views of orders.

Checkout is one short transaction: claim the idempotency key, lock the SKUs in id order, take
the stock with one conditional UPDATE, write the order. Its statement count does not depend on
the number of lines. Talking to a payment provider happens after the commit, elsewhere.
"""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.clock import shanghai_today
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.orders import single_statement_checkout, states
from marketplace.orders.models import (
    Channel,
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)

CHECKOUT_SCOPE = "checkout"


class OutOfStock(Conflict):
    code, title = "out-of-stock", "Not enough stock"


def _order_number() -> str:
    # Date for people reading it; 10 random base32 characters so numbers reveal no volumes.
    return f"MK{shanghai_today():%Y%m%d}{secrets.token_hex(5).upper()}"


def _lock_skus(session, sku_ids: list[int]):
    """The SKUs with what checkout needs of their products, locked in a stable (id) order so
    two baskets sharing SKUs can never deadlock each other."""
    stmt = (
        sa.select(
            Sku.id,
            Sku.price_fen,
            Sku.currency,
            Sku.stock,
            Sku.is_active,
            Sku.spec,
            Sku.station_id,
            Product.id.label("product_id"),
            Product.name,
            Product.status,
            Product.producer_id,
        )
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sku_ids))
        .order_by(Sku.id)
        .with_for_update(of=Sku)
    )
    return {row.id: row for row in session.execute(stmt)}


def _take_stock(session, wanted: dict[int, int]) -> int:
    """Decrement every SKU's stock in one statement; only rows that still have enough change."""
    amount = sa.case(wanted, value=Sku.id)
    result = session.execute(
        sa.update(Sku)
        .where(Sku.id.in_(wanted), Sku.stock >= amount)
        .values(stock=Sku.stock - amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def return_stock(session, returned: dict[int, int]) -> None:
    """Give units back to the shelf (a cancelled or expired order, a refund before shipping)."""
    if not returned:
        return
    amount = sa.case(returned, value=Sku.id)
    session.execute(
        sa.update(Sku)
        .where(Sku.id.in_(returned))
        .values(stock=Sku.stock + amount)
        .execution_options(synchronize_session=False)
    )


def _check_lines(requested: list[dict], found: dict) -> None:
    errors = {}
    short = []
    for index, line in enumerate(requested):
        row = found.get(line["sku_id"])
        if row is None or not row.is_active or row.status is not ProductStatus.active:
            errors[f"lines.{index}.sku_id"] = ["no such SKU on sale"]
        elif row.currency != "CNY":
            errors[f"lines.{index}.sku_id"] = [f"priced in {row.currency}; this shop sells in CNY"]
        elif row.stock < line["quantity"]:
            short.append({"sku_id": row.id, "requested": line["quantity"], "available": row.stock})
    if errors:
        raise ValidationFailed(errors)
    if short:
        names = ", ".join(f"SKU {s['sku_id']} ({s['available']} left)" for s in short)
        raise OutOfStock(f"Not enough stock for {names}.", shortages=short)


def checkout(
    session, actor: Actor, data: dict, *, idempotency_key: str | None, hold: timedelta
) -> tuple[Order, bool]:
    """Place an order. Returns it and whether this was a replay of an earlier identical call."""
    if actor.role not in (Role.buyer, Role.unit):
        raise PermissionDenied("Only buyers and buying units place orders.")
    key = idempotency.validate_key(idempotency_key)
    now = utcnow()
    values = _order_values(actor, data, hold, now)
    if session.get_bind().dialect.name == "postgresql":
        order = _place_in_one_statement(session, actor, data, values, key=key, now=now)
        if order is not None:
            return order, False
        # Nothing was written: the steps below find out what stood in the way and say so.
    claimed = idempotency.claim(
        session, user_id=actor.user_id, scope=CHECKOUT_SCOPE, key=key, body=data
    )
    if isinstance(claimed, idempotency.IdempotencyKey):
        return get_order(session, actor, claimed.resource_id), True
    # The key is ours until this transaction ends; if the checkout fails, the claim goes with it.
    order = _place(session, actor, data, values)
    idempotency.complete(session, claimed, status=201, resource_id=order.id)
    return order, False


def _order_values(actor: Actor, data: dict, hold: timedelta, now) -> dict:
    """The order's columns but its id and total, as both checkout paths write them."""
    is_unit = actor.role is Role.unit
    if is_unit:
        channel = Channel.unit_procurement
    elif data.get("livestream_code"):
        channel = Channel.livestream
    else:
        channel = Channel.web
    return {
        "number": _order_number(),
        "buyer_id": actor.user_id,
        "unit_id": actor.unit_id if is_unit else None,
        "channel": channel,
        "livestream_code": data.get("livestream_code"),
        "status": OrderStatus.pending_payment,
        "payment_status": PaymentStatus.unpaid,
        "refunded_fen": 0,
        "currency": "CNY",
        "note": data.get("note"),
        "hold_expires_at": now + hold,
        "created_at": now,
        "paid_at": None,
        "version": 1,
        **data["shipping_address"],
    }


def _place_in_one_statement(
    session, actor: Actor, data: dict, values: dict, *, key: str, now
) -> Order | None:
    """The PostgreSQL fast path (single_statement_checkout.py); None when it wrote nothing."""
    enums = ("channel", "status", "payment_status")
    try:
        placed = single_statement_checkout.place(
            session.connection(),
            # Stored by name, as SQLAlchemy stores a non-native Enum.
            order_values={**values, **{name: values[name].name for name in enums}},
            lines=data["lines"],
            scope=CHECKOUT_SCOPE,
            key=key,
            request_hash=idempotency.request_fingerprint(data),
            now=now,
        )
    except single_statement_checkout.Unplaced as error:
        raise OutOfStock("Stock changed during checkout; try again.") from error
    if placed is None:
        return None
    order_id, lines = placed
    order = Order(id=order_id, total_fen=sum(line["line_total_fen"] for line in lines), **values)
    set_committed_value(
        order,
        "lines",
        [
            OrderLine(order_id=order_id, refunded_quantity=0, refunded_fen=0, **line)
            for line in lines
        ],
    )
    return order


def _place(session, actor: Actor, data: dict, values: dict) -> Order:
    requested = data["lines"]
    wanted = {line["sku_id"]: line["quantity"] for line in requested}
    found = _lock_skus(session, list(wanted))
    _check_lines(requested, found)
    if _take_stock(session, wanted) != len(wanted):
        # Unreachable while the rows are locked; kept so SQLite without row locks stays right.
        raise OutOfStock("Stock changed during checkout; try again.")
    values = {
        **values,
        "total_fen": sum(found[line["sku_id"]].price_fen * line["quantity"] for line in requested),
    }
    # Checkout is the hottest write there is: plain INSERTs, one per table whatever the basket
    # size, and no unit of work. The order handed back is built from what was written.
    orders, lines_table = Order.__table__, OrderLine.__table__
    order_id = session.execute(sa.insert(orders).values(values).returning(orders.c.id)).scalar_one()
    line_values = [
        _line_values(order_id, found[line["sku_id"]], line["quantity"]) for line in requested
    ]
    line_ids = dict(
        session.execute(
            sa.insert(lines_table).returning(lines_table.c.sku_id, lines_table.c.id), line_values
        ).all()
    )
    order = Order(id=order_id, **values)
    set_committed_value(
        order,
        "lines",
        sorted(
            (OrderLine(id=line_ids[row["sku_id"]], **row) for row in line_values),
            key=lambda line: line.id,
        ),
    )
    states.record_creation(session, order, actor_id=actor.user_id)
    return order


def _line_values(order_id: int, sku, quantity: int) -> dict:
    """An order line: the catalog's price, product, producer and station as they are now."""
    return {
        "order_id": order_id,
        "sku_id": sku.id,
        "product_id": sku.product_id,
        "station_id": sku.station_id,
        "producer_id": sku.producer_id,
        "product_name": sku.name,
        "sku_spec": sku.spec,
        "unit_price_fen": sku.price_fen,
        "quantity": quantity,
        "line_total_fen": sku.price_fen * quantity,
        "refunded_quantity": 0,
        "refunded_fen": 0,
    }


def _visible_orders(actor: Actor) -> sa.Select:
    stmt = sa.select(Order)
    if actor.role is Role.admin:
        return stmt
    if actor.role is Role.buyer:
        return stmt.where(Order.buyer_id == actor.user_id)
    if actor.role is Role.unit:
        return stmt.where(Order.unit_id == actor.unit_id)
    if actor.role is Role.station:
        return stmt.where(
            Order.id.in_(
                sa.select(OrderLine.order_id).where(OrderLine.station_id == actor.station_id)
            )
        )
    return stmt.where(sa.false())


def get_order(session, actor: Actor, order_id: int) -> Order:
    order = session.execute(
        _visible_orders(actor)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.events))
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {order_id} not found.")
    return order


def list_orders(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = _visible_orders(actor)
    if filters.get("status") is not None:
        stmt = stmt.where(Order.status == filters["status"])
    if filters.get("payment_status") is not None:
        stmt = stmt.where(Order.payment_status == filters["payment_status"])
    if filters.get("created_from") is not None:
        stmt = stmt.where(Order.created_at >= filters["created_from"])
    if filters.get("created_to") is not None:
        stmt = stmt.where(Order.created_at < filters["created_to"])
    if filters.get("livestream_code"):
        stmt = stmt.where(Order.livestream_code == filters["livestream_code"])
    return page_of(
        session,
        stmt,
        order_by=[Order.id.desc()],
        page=page,
        page_size=page_size,
        options=[selectinload(Order.lines)],
    )


def lines_for(order: Order, actor: Actor) -> list[OrderLine]:
    """A station sees only its own lines of a shared order: another station's goods, prices and
    shipping are not its business."""
    if actor.role is Role.station:
        return [line for line in order.lines if line.station_id == actor.station_id]
    return list(order.lines)


def cancel(session, actor: Actor, order_id: int, *, reason: str | None) -> Order:
    """The buyer (or an admin) cancels an unpaid order; its stock goes back on the shelf."""
    order = get_order(session, actor, order_id)
    if actor.role not in (Role.buyer, Role.unit, Role.admin):
        raise PermissionDenied("Only the buyer or an admin cancels an order.")
    _cancel_unpaid(session, order, actor_id=actor.user_id, reason=reason or "cancelled by buyer")
    return order


def _cancel_unpaid(session, order: Order, *, actor_id, reason: str) -> None:
    states.move(session, order, OrderStatus.cancelled, actor_id=actor_id, reason=reason)
    states.move(session, order, PaymentStatus.void, actor_id=actor_id, reason=reason)
    return_stock(session, {line.sku_id: line.quantity for line in order.lines})
    session.flush()


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
