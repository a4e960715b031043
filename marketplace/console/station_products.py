"""Stations' listings: found by name, state and producer, a page at a time; a new product, its
details edited, its SKUs' price and stock, its images, put on sale and taken off.

Every action goes through the catalog service the API endpoint calls, with the form loaded by
the endpoint's own schema (``forms.load``); every edit names the version it was made from, so
an edit made meanwhile by someone else is a 409 said in Chinese, never overwritten. Another
station's listing is the services' 404, whatever the URL says.
"""

import io
from pathlib import Path

from flask import current_app, redirect, request, url_for

from marketplace.catalog import images
from marketplace.catalog import service as catalog
from marketplace.catalog.models import CertificationLevel, ProductStatus
from marketplace.catalog.schemas import (
    ManagedProductQuery,
    ProductIn,
    ProductUpdateIn,
    SkuIn,
    SkuUpdateIn,
)
from marketplace.console import forms, listing, signin
from marketplace.console.pages import blp
from marketplace.console.stations import STATIONS
from marketplace.console.words import zh
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.producers import service as producers
from marketplace.regions import service as regions
from marketplace.regions.models import RegionLevel

#: a station's producers, offered in its forms (a station works with tens)
PRODUCERS_OFFERED = 200
#: the villages of the station's county a product may come from (a county has a few hundred)
VILLAGES_OFFERED = 1000
#: what the forms take: a product's counts and ids, and its first SKU's price in yuan
WHOLE = ("producer_id", "origin_village_id", "stock", "weight_grams", "version")
YUAN = {"price": "price_fen"}
#: fields a station may empty, which the API takes as null
CLEARABLE = ("subtitle", "description")


def _choices() -> dict:
    """What the forms offer to choose from, as (value, what the user reads) pairs."""
    actor = signin.current_console_actor()
    own, _ = producers.list_producers(db.session, actor, {}, page=1, page_size=PRODUCERS_OFFERED)
    return {
        "producers": own,
        "statuses": list(ProductStatus),
        "choices": {
            "producers": [(producer.id, producer.name) for producer in own],
            "categories": [(c.code, c.name) for c in catalog.list_categories(db.session)],
            "levels": [("", "—")] + [(level.value, zh(level)) for level in CertificationLevel],
            "villages": [("", "生产者所在的村"), *_villages_of_county(actor.station_village_id)],
        },
    }


def _villages_of_county(village_id: int) -> list[tuple[int, str]]:
    """Where a product may come from: any village of the station's county (an enterprise's or
    a co-operative's produce is often grown in another village than its office)."""
    village = regions.get_region(db.session, village_id)
    county = next(iter(regions.ancestors(db.session, village)), village)
    villages, _ = regions.list_regions(
        db.session,
        {"level": RegionLevel.village, "within": county.id},
        page=1,
        page_size=VILLAGES_OFFERED,
    )
    return [(found.id, found.name) for found in villages]


# --- the list -----------------------------------------------------------------------------


def _products_page(**context):
    """The list as the request's search asks; a search the API's query refuses lists nothing
    and says why beside its field."""
    actor = signin.current_console_actor()
    search = {name: request.args.get(name, "") for name in ("q", "status", "producer_id")}
    try:
        filters = forms.load(ManagedProductQuery(), search)
    except DomainError as error:
        refused = forms.refusal(error)
        return forms.render_form(
            "console/station_products.html",
            products=[],
            pager=None,
            search=search,
            search_errors=refused["errors"],
            **_choices(),
            **context,
        ), error.status
    products, pager = listing.paged(catalog.list_managed_products, db.session, actor, filters)
    return forms.render_form(
        "console/station_products.html",
        products=products,
        pager=pager,
        search=search,
        search_errors={},
        **_choices(),
        **context,
    )


def _back_to_list(anchor: str):
    """The list as it was (search and page kept), at the row just changed."""
    return redirect(url_for("console.station_products", **request.args, _anchor=anchor))


@blp.get("/station/products")
@signin.signed_in(*STATIONS)
def station_products():
    return _products_page()


@blp.post("/station/products/<int:product_id>/skus/<int:sku_id>")
@signin.signed_in(*STATIONS)
def update_sku(product_id: int, sku_id: int):
    actor = signin.current_console_actor()
    try:
        data = forms.load(SkuUpdateIn(), request.form, yuan=YUAN, whole=WHOLE)
        catalog.update_sku(db.session, actor, product_id, sku_id, data)
    except DomainError as error:
        refused = forms.refusal(error)
        if request.form.get("from") == "product":
            page = _product_page(product_id, failed="sku_state", failed_sku=sku_id, **refused)
            return page, error.status
        page = _products_page(**refused, failed_sku=sku_id)
        return page if isinstance(page, tuple) else (page, error.status)
    if request.form.get("from") == "product":
        return redirect(url_for("console.edit_product", product_id=product_id, _anchor="skus"))
    return _back_to_list(f"sku-{sku_id}")


@blp.post("/station/products/<int:product_id>/<any(publish, delist):action>")
@signin.signed_in(*STATIONS)
def change_listing(product_id: int, action: str):
    actor = signin.current_console_actor()
    change = catalog.publish_product if action == "publish" else catalog.delist_product
    try:
        change(db.session, actor, product_id)
    except DomainError as error:
        if request.form.get("from") == "product":
            refused = forms.refusal(error)
            return _product_page(product_id, failed="listing", **refused), error.status
        page = _products_page(**forms.refusal(error), failed_product=product_id)
        return page if isinstance(page, tuple) else (page, error.status)
    if request.form.get("from") == "product":
        return redirect(url_for("console.edit_product", product_id=product_id))
    return _back_to_list(f"product-{product_id}")


# --- a new product ------------------------------------------------------------------------


@blp.get("/station/products/new")
@signin.signed_in(*STATIONS)
def new_product():
    return forms.render_form("console/station_new_product.html", **_choices())


@blp.post("/station/products/new")
@signin.signed_in(*STATIONS)
def create_product():
    """A draft with its first SKU, loaded whole by the API's own schema: the SKU's fields are
    named as the schema nests them (``skus.0.price``), so each reason lands beside its field."""
    actor = signin.current_console_actor()
    try:
        data = forms.load(ProductIn(), request.form, yuan=YUAN, whole=WHOLE)
        product = catalog.create_product(db.session, actor, data)
    except DomainError as error:
        page = forms.render_form(
            "console/station_new_product.html", **forms.refusal(error), **_choices()
        )
        return page, error.status
    return redirect(url_for("console.edit_product", product_id=product.id))


# --- one product: its details and images ----------------------------------------------------


#: the forms of a product's page; a refused one shows what was typed and its reasons, the others
#: the product as it is
PRODUCT_FORMS = ("details", "image", "sku", "sku_state", "listing")


def _product_page(product_id: int, *, failed: str | None = None, **context):
    actor = signin.current_console_actor()
    product = catalog.managed_product(db.session, actor, product_id)
    errors, typed = context.pop("errors", {}), context.pop("values", {})
    shown = {name: {"errors": {}, "typed": {}} for name in PRODUCT_FORMS}
    if failed is not None:
        shown[failed] = {"errors": errors, "typed": typed}
    if failed != "details":
        shown["details"]["typed"] = _typed(product)
    if failed == "listing":  # publishing names the certificate's dates and the SKUs
        shown["details"]["errors"] = errors
    return forms.render_form(
        "console/station_product.html",
        product=product,
        shown=shown,
        media_url=images.media_url,
        max_images=images.MAX_IMAGES_PER_PRODUCT,
        **_choices(),
        **context,
    )


def _typed(product) -> dict:
    """The product as its form shows it first."""
    return {
        "version": product.version,
        "name": product.name,
        "subtitle": product.subtitle or "",
        "description": product.description or "",
        "unit": product.unit,
        "producer_id": str(product.producer_id),
        "origin_village_id": str(product.origin_village_id),
        "category": product.category.code,
        "certificate.number": product.certificate_number or "",
        "certificate.level": product.certificate_level.value if product.certificate_level else "",
        "certificate.valid_from": product.certificate_valid_from or "",
        "certificate.valid_to": product.certificate_valid_to or "",
    }


@blp.get("/station/products/<int:product_id>")
@signin.signed_in(*STATIONS)
def edit_product(product_id: int):
    return _product_page(product_id)


@blp.post("/station/products/<int:product_id>")
@signin.signed_in(*STATIONS)
def update_product(product_id: int):
    """The details as the API's PATCH takes them. An emptied subtitle or description is
    removed; the certificate is changed when its fields are filled, removed when asked."""
    actor = signin.current_console_actor()
    try:
        data = forms.load(ProductUpdateIn(), request.form, whole=WHOLE)
        for name in CLEARABLE:
            if name in request.form and name not in data:
                data[name] = None
        if request.form.get("remove_certificate"):
            data["certificate"] = None
        catalog.update_product(db.session, actor, product_id, data)
    except DomainError as error:
        return _product_page(product_id, failed="details", **forms.refusal(error)), error.status
    return redirect(url_for("console.edit_product", product_id=product_id, saved=1))


@blp.post("/station/products/<int:product_id>/skus")
@signin.signed_in(*STATIONS)
def add_sku(product_id: int):
    """Another SKU (a 1 kg bag beside the 500 g one) as the API's SKU endpoint takes it."""
    actor = signin.current_console_actor()
    try:
        data = forms.load(SkuIn(), request.form, yuan=YUAN, whole=WHOLE)
        catalog.add_sku(db.session, actor, product_id, data)
    except DomainError as error:
        return _product_page(product_id, failed="sku", **forms.refusal(error)), error.status
    return redirect(url_for("console.edit_product", product_id=product_id, _anchor="skus"))


@blp.post("/station/products/<int:product_id>/images")
@signin.signed_in(*STATIONS)
def upload_image(product_id: int):
    """An image through the catalog's image service, as the API's upload: JPEG, PNG or WebP
    recognised from its content. No file chosen is the service's "empty file"."""
    actor = signin.current_console_actor()
    upload = request.files.get("file")
    config = current_app.config
    try:
        images.add_image(
            db.session,
            actor,
            product_id,
            upload.stream if upload else io.BytesIO(),
            folder=Path(config["UPLOAD_FOLDER"]),
            max_bytes=config["MAX_IMAGE_BYTES"],
        )
    except DomainError as error:
        return _product_page(product_id, failed="image", **forms.refusal(error)), error.status
    return redirect(url_for("console.edit_product", product_id=product_id, _anchor="images"))


@blp.post("/station/products/<int:product_id>/images/<int:image_id>/delete")
@signin.signed_in(*STATIONS)
def remove_image(product_id: int, image_id: int):
    actor = signin.current_console_actor()
    images.delete_image(db.session, actor, product_id, image_id)
    return redirect(url_for("console.edit_product", product_id=product_id, _anchor="images"))
