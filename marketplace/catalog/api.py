import functools
import json
from datetime import timedelta
from pathlib import Path

from flask import current_app, g, request, send_file
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.accounts.auth import current_actor, login_required, optional_login
from marketplace.accounts.models import Role
from marketplace.catalog import images, page_cache, service, storefront
from marketplace.catalog.schemas import (
    CategoryOut,
    ImageOut,
    ImageUploadIn,
    ManagedProductQuery,
    ProductCardOut,
    ProductIn,
    ProductOut,
    ProductUpdateIn,
    SkuIn,
    SkuOut,
    SkuUpdateIn,
    StorefrontQuery,
)
from marketplace.db import read_without_transaction, utcnow
from marketplace.errors import handle_domain_error
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.paging import paged

blp = Blueprint(
    "catalog",
    __name__,
    description="Products, SKUs, certification and images; the public storefront list",
)

STOREFRONT_PAGE_SIZE = 20
_MANAGE = (Role.station, Role.admin)
_BEARER = [{"bearerAuth": []}]


@blp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error):
    limit = current_app.config["MAX_IMAGE_BYTES"]
    return handle_domain_error(
        images.ImageTooLarge(
            f"Images may be at most {limit} bytes.", errors={"file": [f"larger than {limit} bytes"]}
        )
    )


@blp.route("/categories")
class Categories(MethodView):
    @blp.response(200, CategoryOut(many=True))
    def get(self):
        """The product categories (reference data: 中药材, 山货, 农产品 ...)."""
        return service.list_categories(db.session)


# --- the public storefront ------------------------------------------------------------------


_PUBLIC = "public, no-cache"
_PRIVATE = "private, no-cache"


def _client_holds(etag: str) -> bool:
    return request.if_none_match.contains_weak(etag.strip('"'))


def _not_modified(etag: str, cache_control: str):
    return current_app.response_class(
        status=304, headers={"ETag": etag, "Cache-Control": cache_control}
    )


def _finish(response, cache_control: str):
    """Built pages are revalidated by ETag too: the client that holds one gets a 304."""
    if response.status_code != 200:
        return response
    if _client_holds(response.headers["ETag"]):
        return _not_modified(response.headers["ETag"], cache_control)
    response.headers["Cache-Control"] = cache_control
    return response


def _pagination(page: int, page_size: int, total: int) -> str:
    """The X-Pagination header of flask-smorest, rebuilt without a schema for cache hits."""
    metadata: dict = {"total": total, "total_pages": 0}
    if total:
        last = (total - 1) // page_size + 1
        metadata.update(total_pages=last, first_page=1, last_page=last)
        if page <= last:
            metadata["page"] = page
            if page > 1:
                metadata["previous_page"] = page - 1
            if page < last:
                metadata["next_page"] = page + 1
    return json.dumps(metadata)


def _cached_for_anonymous(view):
    """Serve anonymous lists from the page cache shared by all workers.

    A hit costs one statement and skips argument parsing and the list queries; a miss builds
    the page through the view and stores it. Requests with a token, and every request when
    CATALOG_CACHE_SECONDS is 0, are built fresh; they write nothing, so they read outside a
    transaction.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        max_age = current_app.config["CATALOG_CACHE_SECONDS"]
        if "Authorization" in request.headers or max_age <= 0:
            read_without_transaction(db.session)
            return _finish(view(*args, **kwargs), _PRIVATE)
        key = page_cache.cache_key(request.args)
        now = utcnow()
        generation, page = page_cache.lookup_page(
            db.session,
            key,
            now=now,
            max_age=timedelta(seconds=max_age),
            held_etag=request.headers.get("If-None-Match"),
        )
        if page is None:
            response = view(*args, **kwargs)
            if response.status_code == 200:
                built = page_cache.CachedPage(
                    response.headers["ETag"],
                    response.get_data(),
                    int(response.headers["X-Total-Count"]),
                )
                page_cache.store_page(db.session, key, generation, built, now=now)
            return _finish(response, _PUBLIC)
        if _client_holds(page.etag):
            return _not_modified(page.etag, _PUBLIC)
        # Only pages whose arguments passed validation are stored, so these parse.
        pagination = _pagination(
            int(request.args.get("page", 1)),
            int(request.args.get("page_size", STOREFRONT_PAGE_SIZE)),
            page.total,
        )
        return current_app.response_class(
            page.body,
            mimetype="application/json",
            headers={
                "ETag": page.etag,
                "X-Total-Count": str(page.total),
                "X-Pagination": pagination,
                "Cache-Control": _PUBLIC,
            },
        )

    return wrapper


@blp.route("/products")
class Products(MethodView):
    @_cached_for_anonymous
    @optional_login
    @blp.arguments(StorefrontQuery, location="query")
    @blp.response(200, ProductCardOut(many=True))
    @blp.paginate(page_size=STOREFRONT_PAGE_SIZE, max_page_size=100)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, filters, pagination_parameters):
        """The storefront: products on sale, filtered, searched, sorted and paged.

        Anonymous requests are answered from a cache shared by all workers: a listing or
        price change shows at once, stock figures may lag by a few seconds (checkout is the
        authority on stock). Responses carry an ETag; send If-None-Match to get a 304.
        """
        with page_cache.storefront_reads(db.session) as connection:
            cards, total = storefront.list_storefront(
                connection,
                filters,
                page=pagination_parameters.page,
                page_size=pagination_parameters.page_size,
                media_prefix=images.MEDIA_PREFIX,
            )
        pagination_parameters.item_count = total
        body, etag = storefront.render_page(cards, total)
        return current_app.response_class(
            body, mimetype="application/json", headers={"ETag": etag, "X-Total-Count": str(total)}
        )

    @login_required(*_MANAGE)
    @blp.arguments(ProductIn)
    @blp.response(201, ProductOut)
    @blp.doc(security=_BEARER)
    def post(self, data):
        """Create a draft product, optionally with its first SKUs.

        A station lists its own products; an admin names the station. The producer must be
        one the station manages; the origin village defaults to the producer's village.
        """
        return service.create_product(db.session, current_actor(), data)


# --- management -----------------------------------------------------------------------------


@blp.route("/station/products")
class ManagedProducts(MethodView):
    @login_required(Role.station, Role.admin, Role.official)
    @blp.arguments(ManagedProductQuery, location="query")
    @blp.response(200, ProductOut(many=True))
    @blp.paginate(page_size=STOREFRONT_PAGE_SIZE, max_page_size=100)
    @blp.doc(security=_BEARER)
    def get(self, filters, pagination_parameters):
        """Products in every state, for those who manage them: a station's own, an
        official's region's (read-only), all for admins. Newest first."""
        return paged(pagination_parameters, service.list_managed_products, filters)


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @optional_login
    @blp.response(200, ProductOut)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, product_id):
        """A product. Drafts and delisted products only for its station, admins and the
        officials of its region."""
        return service.get_product(db.session, g.get("actor"), product_id)

    @login_required(*_MANAGE)
    @blp.arguments(ProductUpdateIn)
    @blp.response(200, ProductOut)
    @blp.doc(security=_BEARER)
    def patch(self, data, product_id):
        """Change a product. Send the ``version`` you read; if it changed since, 409."""
        return service.update_product(db.session, current_actor(), product_id, data)


@blp.route("/products/<int:product_id>/publish")
class PublishProduct(MethodView):
    @login_required(*_MANAGE)
    @blp.response(200, ProductOut)
    @blp.doc(security=_BEARER)
    def post(self, product_id):
        """Put a draft or delisted product on sale: it needs an active SKU and, if it has a
        certificate, one valid today."""
        return service.publish_product(db.session, current_actor(), product_id)


@blp.route("/products/<int:product_id>/delist")
class DelistProduct(MethodView):
    @login_required(*_MANAGE)
    @blp.response(200, ProductOut)
    @blp.doc(security=_BEARER)
    def post(self, product_id):
        """Take an active product off sale."""
        return service.delist_product(db.session, current_actor(), product_id)


@blp.route("/products/<int:product_id>/skus")
class ProductSkus(MethodView):
    @login_required(*_MANAGE)
    @blp.arguments(SkuIn)
    @blp.response(201, SkuOut)
    @blp.doc(security=_BEARER)
    def post(self, data, product_id):
        """Add a SKU (a 500 g box, a 1 kg box) with its price and counted stock."""
        return service.add_sku(db.session, current_actor(), product_id, data)


@blp.route("/products/<int:product_id>/skus/<int:sku_id>")
class ProductSkuById(MethodView):
    @login_required(*_MANAGE)
    @blp.arguments(SkuUpdateIn)
    @blp.response(200, SkuOut)
    @blp.doc(security=_BEARER)
    def patch(self, data, product_id, sku_id):
        """Change a SKU's price, spec, weight, activity or stock (a fresh count)."""
        return service.update_sku(db.session, current_actor(), product_id, sku_id, data)


# --- images ---------------------------------------------------------------------------------


@blp.route("/products/<int:product_id>/images")
class ProductImages(MethodView):
    @login_required(*_MANAGE)
    @blp.arguments(ImageUploadIn, location="files")
    @blp.response(201, ImageOut)
    @blp.doc(security=_BEARER)
    def post(self, files, product_id):
        """Upload an image (multipart field ``file``): JPEG, PNG or WebP, recognised from
        its content, at most MAX_IMAGE_BYTES."""
        config = current_app.config
        return images.add_image(
            db.session,
            current_actor(),
            product_id,
            files["file"].stream,
            folder=Path(config["UPLOAD_FOLDER"]),
            max_bytes=config["MAX_IMAGE_BYTES"],
        )


@blp.route("/products/<int:product_id>/images/<int:image_id>")
class ProductImageById(MethodView):
    @login_required(*_MANAGE)
    @blp.response(204)
    @blp.doc(security=_BEARER)
    def delete(self, product_id, image_id):
        images.delete_image(db.session, current_actor(), product_id, image_id)


@blp.route("/media/<string:storage_key>")
class Media(MethodView):
    @blp.response(200, content_type="image/*")
    def get(self, storage_key):
        """An uploaded image. Names are content hashes, so a file never changes: it may be
        cached for a year."""
        path = images.media_path(Path(current_app.config["UPLOAD_FOLDER"]), storage_key)
        response = send_file(
            path, mimetype=images.MEDIA_TYPES[path.suffix[1:]], conditional=True, etag=True
        )
        response.cache_control.public = True
        response.cache_control.max_age = 365 * 24 * 3600
        response.cache_control.immutable = True
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
