"""Checkout: placing an order takes the stock and writes the order in one short transaction,
by one of two paths that write exactly the same rows.

* **Step by step** (``_place``), the reference and the only path on SQLite: claim the
  idempotency key, lock the session's live prices and then the SKUs in id order, take the
  stock and the live-price units, write the order, its lines and its first events. Its
  statement count does not depend on the number of lines, and it answers every refusal
  precisely (a 422 naming the line, a 409 with what is left, a replay of the earlier order).
* **In one statement** (``checkout_statement.py``), PostgreSQL's fast path: the common case in
  one round trip instead of seven, writing everything or nothing; when it writes nothing, the
  step-by-step path runs in the same transaction and finds out why.

Both call the same owners for the same rules: ``catalog.stock`` (what is on sale, the SKUs'
locks, taking stock), ``livestreams.live_prices`` (a session's live prices, their locks, the
units a cap still covers), ``idempotency`` and ``orders.writing``.
``tests/orders/test_checkout_paths.py`` holds the two to the same rows.

Talking to a payment provider happens after the commit, in ``payments/order_payment.py``.

**Live prices.** A basket that names a livestream session's code is tied to the session and
priced by it: while the session is live, a featured SKU costs its live price for as many units
as the price's cap has left; the rest of a line, or a line the session does not feature or
names while it is not live, costs the catalog price, and each line says which price applied and
why (``LinePricing``). A line the cap covers only in part becomes two lines, the live units and
the rest. A buyer who wants the live price or nothing (``live_price_only``) gets a 409 instead
of catalog-priced units. The cap is counted under the live price's row lock, taken before the
SKUs' in both paths, so it is as hard as stock.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm.attributes import set_committed_value

from marketplace import idempotency
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog import stock
from marketplace.catalog.models import ProductStatus
from marketplace.clock import shanghai_today
from marketplace.db import begin_after_reading_without_transaction, utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.livestreams import live_prices
from marketplace.orders import checkout_statement, states, writing
from marketplace.orders.models import (
    Channel,
    LinePricing,
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from marketplace.orders.service import get_order
from marketplace.reasons import Message, reason

CHECKOUT_SCOPE = "checkout"

BUYERS_ONLY = reason("checkout.buyers_only", "Only buyers and buying units place orders.")
NO_SESSION_WITH_CODE = reason(
    "checkout.no_session_with_code", "no livestream session has this code"
)
SKU_NOT_ON_SALE = reason("checkout.sku_not_on_sale", "no such SKU on sale")
SKU_CURRENCY = reason(
    "checkout.sku_currency", "priced in {currency}; this shop sells in {shop_currency}"
)
OUT_OF_STOCK = reason("checkout.out_of_stock", "Not enough stock for {short_skus}.")
STOCK_CHANGED = reason("checkout.stock_changed", "Stock changed during checkout; try again.")
LIVE_UNITS_CHANGED = reason(
    "checkout.live_units_changed", "The live price's units changed during checkout; try again."
)
LIVE_PRICE_REFUSED = reason(
    "checkout.live_price_refused",
    "The live price does not cover every unit asked for, and the catalog price was refused "
    "(live_price_only).",
)
#: Why the live price does not cover a line's units, under the line's quantity (the text is
#: the line's pricing, as the order's lines name it).
SESSION_NOT_LIVE = reason("checkout.session_not_live", LinePricing.session_not_live.value)
SKU_NOT_FEATURED = reason("checkout.sku_not_featured", LinePricing.not_featured.value)
CAP_REACHED = reason("checkout.cap_reached", LinePricing.cap_reached.value)


class OutOfStock(Conflict):
    code, title = "out-of-stock", "Not enough stock"


class LivePriceUnavailable(Conflict):
    code, title = "live-price-unavailable", "The live price does not cover the basket"


def _order_number() -> str:
    # Date for people reading it; 10 random base32 characters so numbers reveal no volumes.
    return f"MK{shanghai_today():%Y%m%d}{secrets.token_hex(5).upper()}"


def checkout(
    session, actor: Actor, data: dict, *, idempotency_key: str | None, hold: timedelta
) -> tuple[Order, bool]:
    """Place an order. Returns it and whether this was a replay of an earlier identical call."""
    if actor.role not in (Role.buyer, Role.unit):
        raise PermissionDenied(BUYERS_ONLY())
    key = idempotency.validate_key(idempotency_key)
    now = utcnow()
    values = _order_values(actor, data, hold, now)
    if session.get_bind().dialect.name == "postgresql":
        order = _place_in_one_statement(session, actor, data, values, key=key, now=now)
        if order is not None:
            return order, False
        # Nothing was written: the steps below find out what stood in the way and say so, in
        # a transaction (a checkout request reads and runs its one statement outside one).
        begin_after_reading_without_transaction(session)
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
    """The order's columns but its id, its total and its session, as both paths write them."""
    is_unit = actor.role is Role.unit
    if data.get("livestream_code"):
        channel = Channel.livestream
    elif is_unit:
        channel = Channel.unit_procurement
    else:
        channel = Channel.web
    return {
        "number": _order_number(),
        "buyer_id": actor.user_id,
        "unit_id": actor.unit_id if is_unit else None,
        "channel": channel,
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


# --- step by step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Live:
    """The session a basket names: its id, whether it is live, and its live prices for the
    basket's SKUs (locked), by SKU."""

    session_id: int
    is_live: bool
    prices: dict


def _lock_live_prices(session, code: str | None, sku_ids: list[int]) -> _Live | None:
    if code is None:
        return None
    found = session.execute(live_prices.session_by_code(code)).first()
    if found is None:
        raise ValidationFailed({"livestream_code": [NO_SESSION_WITH_CODE()]})
    prices = {}
    if found.is_live:
        rows = session.execute(live_prices.locked_for_basket(found.session_id, sku_ids))
        prices = {row.sku_id: row for row in rows}
    return _Live(found.session_id, found.is_live, prices)


def _check_lines(requested: list[dict], found: dict) -> None:
    errors = {}
    short = []
    for index, line in enumerate(requested):
        row = found.get(line["sku_id"])
        if row is None or not row.is_active or row.status is not ProductStatus.active:
            errors[f"lines.{index}.sku_id"] = [SKU_NOT_ON_SALE()]
        elif not row.on_sale:
            errors[f"lines.{index}.sku_id"] = [
                SKU_CURRENCY(currency=row.currency, shop_currency=stock.CURRENCY)
            ]
        elif row.stock < line["quantity"]:
            short.append({"sku_id": row.id, "requested": line["quantity"], "available": row.stock})
    if errors:
        raise ValidationFailed(errors)
    if short:
        names = ", ".join(f"SKU {s['sku_id']} ({s['available']} left)" for s in short)
        raise OutOfStock(OUT_OF_STOCK(short_skus=names), shortages=short)


@dataclass(frozen=True)
class _Part:
    """Units of one requested line at one price: a line is one part, or two when the live
    price's cap covers only some of its units."""

    sku: object
    quantity: int
    unit_price_fen: int
    pricing: LinePricing
    live_price_id: int | None = None


@dataclass(frozen=True)
class _Refused:
    """A line of a basket that wants the live price or nothing, which the live price does not
    cover: its pricing had it been accepted, and the units the live price had left for it."""

    line: int
    sku_id: int
    pricing: LinePricing
    live_units_left: int

    @property
    def reason(self) -> Message:
        if self.pricing is LinePricing.session_not_live:
            return SESSION_NOT_LIVE()
        if self.pricing is LinePricing.not_featured:
            return SKU_NOT_FEATURED()
        return CAP_REACHED()

    def member(self) -> dict:
        """As the problem's ``refused`` member lists it."""
        return {
            "line": self.line,
            "sku_id": self.sku_id,
            "reason": self.pricing.value,
            "live_units_left": self.live_units_left,
        }


def _price(requested: list[dict], found: dict, live: _Live | None, *, live_only: bool):
    """Each requested line as its parts, in the order the lines were sent, live units first."""
    parts, refused = [], []
    for index, line in enumerate(requested):
        sku, quantity = found[line["sku_id"]], line["quantity"]
        if live is None:
            parts.append(_Part(sku, quantity, sku.price_fen, LinePricing.catalog))
            continue
        price = live.prices.get(sku.id)
        if not live.is_live:
            pricing, live_quantity = LinePricing.session_not_live, 0
        elif price is None:
            pricing, live_quantity = LinePricing.not_featured, 0
        else:
            live_quantity = live_prices.live_units(price.cap, price.sold, quantity)
            pricing = LinePricing.cap_reached
        if live_quantity:
            parts.append(_Part(sku, live_quantity, price.price_fen, LinePricing.live, price.id))
        if live_quantity < quantity:
            if live_only:
                refused.append(_Refused(index, sku.id, pricing, live_quantity))
            parts.append(_Part(sku, quantity - live_quantity, sku.price_fen, pricing))
    if refused:
        raise LivePriceUnavailable(
            LIVE_PRICE_REFUSED(),
            errors={f"lines.{r.line}.quantity": [r.reason] for r in refused},
            refused=[r.member() for r in refused],
        )
    return parts


def _place(session, actor: Actor, data: dict, values: dict) -> Order:
    requested = data["lines"]
    wanted = {line["sku_id"]: line["quantity"] for line in requested}
    # The live prices' locks first, then the SKUs', as the one statement takes them.
    live = _lock_live_prices(session, data.get("livestream_code"), list(wanted))
    found = {row.id: row for row in session.execute(stock.locked_for_sale(list(wanted)))}
    _check_lines(requested, found)
    parts = _price(requested, found, live, live_only=data.get("live_price_only", False))
    if stock.take_stock(session, wanted) != len(wanted):
        # Unreachable while the rows are locked; kept so SQLite without row locks stays right.
        raise OutOfStock(STOCK_CHANGED())
    live_units = {p.live_price_id: p.quantity for p in parts if p.live_price_id is not None}
    if live_prices.count_live_units(session, live_units) != len(live_units):
        raise LivePriceUnavailable(LIVE_UNITS_CHANGED())
    values = {**values, "livestream_session_id": live.session_id if live else None}
    new = writing.NewOrder(
        values=values,
        lines=tuple(_new_line(part) for part in parts),
        history=states.opening_history(
            values["status"], values["payment_status"], values["created_at"]
        ),
        actor_id=actor.user_id,
        reason="placed",
    )
    # Checkout is the hottest write there is: plain INSERTs, one per table whatever the basket
    # size, and no unit of work. The order handed back is built from what was written.
    (written,) = writing.write_orders(session, [new])
    order = writing.as_written(Order, {"id": written.order_id, **writing.order_row(new)})
    set_committed_value(
        order,
        "lines",
        sorted(
            (
                writing.as_written(
                    OrderLine, {"id": line_id, **writing.line_row(written.order_id, line)}
                )
                for line_id, line in zip(written.line_ids, new.lines, strict=True)
            ),
            key=lambda line: line.id,
        ),
    )
    return order


def _new_line(part: _Part) -> writing.NewLine:
    """An order line: the price that applied, and the catalog's price, product, producer and
    station as they are now."""
    sku = part.sku
    return writing.NewLine(
        sku_id=sku.id,
        product_id=sku.product_id,
        station_id=sku.station_id,
        producer_id=sku.producer_id,
        product_name=sku.product_name,
        sku_spec=sku.spec,
        unit_price_fen=part.unit_price_fen,
        quantity=part.quantity,
        list_price_fen=sku.price_fen,
        pricing=part.pricing,
        live_price_id=part.live_price_id,
    )


# --- the one statement (PostgreSQL) ---------------------------------------------------------


def _place_in_one_statement(
    session, actor: Actor, data: dict, values: dict, *, key: str, now
) -> Order | None:
    """The PostgreSQL fast path (``checkout_statement.py``); None when it wrote nothing."""
    enums = ("channel", "status", "payment_status")
    try:
        placed = checkout_statement.run(
            session.connection(),
            # Stored by name, as SQLAlchemy stores a non-native Enum.
            order_values={**values, **{name: values[name].name for name in enums}},
            lines=data["lines"],
            code=data.get("livestream_code"),
            live_only=data.get("live_price_only", False),
            scope=CHECKOUT_SCOPE,
            key=key,
            request_hash=idempotency.request_fingerprint(data),
            now=now,
        )
    except checkout_statement.Unplaced as error:
        raise OutOfStock(STOCK_CHANGED()) from error
    if placed is None:
        return None
    order_id, session_id, lines = placed
    order = writing.as_written(
        Order,
        {
            **values,
            "id": order_id,
            "livestream_session_id": session_id,
            "total_fen": sum(line["line_total_fen"] for line in lines),
        },
    )
    set_committed_value(
        order,
        "lines",
        [
            writing.as_written(
                OrderLine,
                {**line, "order_id": order_id, "refunded_quantity": 0, "refunded_fen": 0},
            )
            for line in lines
        ],
    )
    return order
