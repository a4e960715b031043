"""Stations' orders: found by number, phone tail, state and date, a page at a time; an
offline payment recorded, shipped with a tracking number, a line refunded (all or part of it).
Their listings are ``station_products``, their livestream sessions ``station_livestreams``, the
uploads of a platform's order export ``station_imports`` and the map of platforms' product ids
``station_mappings``.

Every action goes through the service the API endpoint calls, with the form loaded by the
endpoint's own schema (``forms.load``); another station's order is the services' 404, whatever
the URL says.
"""

import uuid
from datetime import timedelta

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError, fields

from marketplace.accounts.models import Role
from marketplace.clock import shanghai_midnight
from marketplace.console import forms, listing, messages, signin
from marketplace.console.pages import blp
from marketplace.errors import DomainError, ValidationFailed
from marketplace.extensions import db
from marketplace.orders import fulfilment
from marketplace.orders import service as orders
from marketplace.orders.models import OrderStatus, PaymentStatus
from marketplace.orders.schemas import OrderQuery, ShipmentIn
from marketplace.payments import refund_requests, refunds
from marketplace.payments import service as payments
from marketplace.payments.schemas import OfflinePaymentIn, RefundIn

STATIONS = (Role.station,)
#: rows of a station's short lists that do not page yet (its past uploads)
LISTED = 50
#: the order lists a station works from, and what each shows: the first four are its tabs, the
#: search form offers them all
ORDER_VIEWS = {
    "to_ship": ("待发货", {"status": OrderStatus.paid}),
    "unpaid": ("待付款", {"status": OrderStatus.pending_payment}),
    "shipped": ("已发货", {"status": OrderStatus.shipped}),
    "all": ("全部", {}),
    "delivered": ("已签收", {"status": OrderStatus.delivered}),
    "completed": ("已完成", {"status": OrderStatus.completed}),
    "partly_refunded": ("部分退款", {"payment_status": PaymentStatus.partially_refunded}),
    "refunded": ("已退款", {"status": OrderStatus.refunded}),
    "cancelled": ("已取消", {"status": OrderStatus.cancelled}),
}
TABS = ("to_ship", "unpaid", "shipped", "all")
#: what the order search form sends as the API's order query names it
SEARCHED = ("number", "phone_tail")
DATES = ("created_from", "created_to")


@blp.app_template_filter("phone_tail")
def phone_tail(phone: str | None) -> str:
    """A buyer's phone in a list: only its last four digits, as the counter asks for them."""
    return f"尾号 {phone[-4:]}" if phone else "—"


# --- orders -------------------------------------------------------------------------------


@blp.get("/station/orders")
@signin.signed_in(*STATIONS)
def station_orders():
    searched = any(request.args.get(name, "").strip() for name in (*SEARCHED, *DATES))
    view = request.args.get("view") or ("all" if searched else "to_ship")
    if view not in ORDER_VIEWS:
        view = "to_ship"
    page = {"views": ORDER_VIEWS, "tabs": TABS, "view": view, "values": request.args}
    try:
        filters = _order_search(request.args)
    except ValidationFailed as error:
        errors = messages.chinese_errors(error.errors)
        refused = render_template(
            "console/station_orders.html", orders=[], pager=None, errors=errors, **page
        )
        return refused, error.status
    actor = signin.current_console_actor()
    listed, pager = listing.paged(
        orders.list_orders, db.session, actor, {**filters, **ORDER_VIEWS[view][1]}
    )
    return render_template(
        "console/station_orders.html", orders=listed, pager=pager, errors={}, **page
    )


def _order_search(args) -> dict:
    """The search form's fields as the API's order query takes them: its Beijing dates as the
    moments they begin (the last day included whole)."""
    query = {name: args[name] for name in SEARCHED if args.get(name, "").strip()}
    errors = {}
    for name, days_after in zip(DATES, (0, 1), strict=True):
        text = args.get(name, "").strip()
        if not text:
            continue
        try:
            day = fields.Date().deserialize(text)
        except ValidationError as error:
            errors[name] = error.messages
            continue
        query[name] = shanghai_midnight(day + timedelta(days=days_after)).isoformat()
    try:
        filters = forms.load(OrderQuery(), query)
    except ValidationFailed as error:
        errors.update(error.errors)
    if errors:
        raise ValidationFailed(errors)
    return filters


def _order_page(order_id: int, **context):
    actor = signin.current_console_actor()
    order = orders.order_as_seen(db.session, actor, order_id)
    return forms.render_form(
        "console/station_order.html",
        order=order,
        refunds=refunds.refunds_of(db.session, actor, order_id),
        refund_key=uuid.uuid4().hex,
        **context,
    )


@blp.get("/station/orders/<int:order_id>")
@signin.signed_in(*STATIONS)
def station_order(order_id: int):
    return _order_page(order_id)


@blp.post("/station/orders/<int:order_id>/payment")
@signin.signed_in(*STATIONS)
def record_payment(order_id: int):
    actor = signin.current_console_actor()
    try:
        data = forms.load(OfflinePaymentIn(), request.form, yuan={"amount": "amount_fen"})
        payments.record_offline_payment(db.session, actor, order_id, **data)
    except DomainError as error:
        return _order_page(order_id, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_order", order_id=order_id))


@blp.post("/station/orders/<int:order_id>/shipment")
@signin.signed_in(*STATIONS)
def ship(order_id: int):
    actor = signin.current_console_actor()
    try:
        data = forms.load(ShipmentIn(), request.form)
        fulfilment.ship(db.session, actor, order_id, **data)
    except DomainError as error:
        return _order_page(order_id, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_order", order_id=order_id))


@blp.post("/station/orders/<int:order_id>/refund")
@signin.signed_in(*STATIONS)
def refund_line(order_id: int):
    """A line, or some of its units, refunded as the API's refund endpoint does it: cash and
    transfers count at once, a card payment once the provider confirms. The page's key makes a
    second press of the button the same refund, not another."""
    actor = signin.current_console_actor()
    try:
        data = forms.load(RefundIn(), request.form, whole=("order_line_id", "quantity"))
        refund_requests.request_refund_once(
            db.session,
            actor,
            order_id,
            lines=data["lines"],
            reason=data["reason"],
            idempotency_key=request.form.get("refund_key") or None,
        )
    except DomainError as error:
        return _order_page(order_id, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_order", order_id=order_id, _anchor="refunds"))
