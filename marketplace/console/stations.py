"""Stations' pages: their orders to ship (record an offline payment, ship with a tracking
number), and their listings (new product, price and stock, publish, delist). Their livestream
sessions are ``station_livestreams``, the uploads of a platform's order export
``station_imports`` and the map of platforms' product ids ``station_mappings``.

Every action goes through the service the API endpoint calls, with the form loaded by the
endpoint's own schema (``forms.load``); another station's order or listing is the services'
404, whatever the URL says.
"""

from flask import redirect, render_template, request, url_for

from marketplace.accounts.models import Role
from marketplace.catalog import service as catalog
from marketplace.catalog.schemas import ProductIn, SkuIn, SkuUpdateIn
from marketplace.console import forms, signin
from marketplace.console.pages import blp
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.orders import fulfilment
from marketplace.orders import service as orders
from marketplace.orders.models import OrderStatus
from marketplace.orders.schemas import ShipmentIn
from marketplace.payments import service as payments
from marketplace.payments.schemas import OfflinePaymentIn
from marketplace.producers import service as producers

STATIONS = (Role.station,)
LISTED = 50
#: the order lists a station works from, and what each shows
ORDER_VIEWS = {
    "to_ship": ("待发货", {"status": OrderStatus.paid}),
    "unpaid": ("待付款", {"status": OrderStatus.pending_payment}),
    "shipped": ("已发货", {"status": OrderStatus.shipped}),
    "all": ("全部", {}),
}


# --- orders -------------------------------------------------------------------------------


@blp.get("/station/orders")
@signin.signed_in(*STATIONS)
def station_orders():
    view = request.args.get("view", "to_ship")
    if view not in ORDER_VIEWS:
        view = "to_ship"
    actor = signin.current_console_actor()
    listed, total = orders.list_orders(
        db.session, actor, ORDER_VIEWS[view][1], page=1, page_size=LISTED
    )
    return render_template(
        "console/station_orders.html", orders=listed, total=total, view=view, views=ORDER_VIEWS
    )


def _order_page(order_id: int, **context):
    actor = signin.current_console_actor()
    order = orders.order_as_seen(db.session, actor, order_id)
    return forms.render_form("console/station_order.html", order=order, **context)


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


# --- listings -----------------------------------------------------------------------------


def _products_page(**context):
    actor = signin.current_console_actor()
    products, total = catalog.list_managed_products(db.session, actor, {}, page=1, page_size=LISTED)
    return forms.render_form(
        "console/station_products.html",
        products=products,
        total=total,
        statuses={"draft": "草稿", "active": "在售", "delisted": "已下架"},
        **context,
    )


@blp.get("/station/products")
@signin.signed_in(*STATIONS)
def station_products():
    return _products_page()


@blp.post("/station/products/<int:product_id>/skus/<int:sku_id>")
@signin.signed_in(*STATIONS)
def update_sku(product_id: int, sku_id: int):
    actor = signin.current_console_actor()
    try:
        data = forms.load(
            SkuUpdateIn(), request.form, yuan={"price": "price_fen"}, whole=("stock", "version")
        )
        catalog.update_sku(db.session, actor, product_id, sku_id, data)
    except DomainError as error:
        return _products_page(**forms.refusal(error), failed_sku=sku_id), error.status
    return redirect(url_for("console.station_products", _anchor=f"sku-{sku_id}"))


@blp.post("/station/products/<int:product_id>/<any(publish, delist):action>")
@signin.signed_in(*STATIONS)
def change_listing(product_id: int, action: str):
    actor = signin.current_console_actor()
    change = catalog.publish_product if action == "publish" else catalog.delist_product
    try:
        change(db.session, actor, product_id)
    except DomainError as error:
        return _products_page(**forms.refusal(error), failed_product=product_id), error.status
    return redirect(url_for("console.station_products", _anchor=f"product-{product_id}"))


def _new_product_page(**context):
    actor = signin.current_console_actor()
    own, _ = producers.list_producers(db.session, actor, {}, page=1, page_size=200)
    return forms.render_form(
        "console/station_new_product.html",
        producers=own,
        categories=catalog.list_categories(db.session),
        **context,
    )


@blp.get("/station/products/new")
@signin.signed_in(*STATIONS)
def new_product():
    return _new_product_page()


@blp.post("/station/products/new")
@signin.signed_in(*STATIONS)
def create_product():
    actor = signin.current_console_actor()
    try:
        sku = forms.load(
            SkuIn(),
            _prefixed(request.form, "sku_"),
            yuan={"price": "price_fen"},
            whole=("stock", "weight_grams"),
        )
        data = forms.load(ProductIn(), request.form, whole=("producer_id",))
        data["skus"] = [sku]
        product = catalog.create_product(db.session, actor, data)
    except DomainError as error:
        refused = forms.refusal(error)
        # The first SKU's fields are named sku_* on the form.
        refused["errors"] = {k.replace("skus.0.", "sku_"): v for k, v in refused["errors"].items()}
        return _new_product_page(**refused), error.status
    return redirect(url_for("console.station_products", _anchor=f"product-{product.id}"))


def _prefixed(form, prefix: str) -> dict:
    return {
        name.removeprefix(prefix): value for name, value in form.items() if name.startswith(prefix)
    }
