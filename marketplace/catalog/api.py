from pathlib import Path

from flask import current_app, g, send_file
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.accounts.auth import current_actor, login_required, optional_login
from marketplace.accounts.models import Role
from marketplace.catalog import images, service
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
from marketplace.catalog.storefront import views as storefront
from marketplace.errors import handle_domain_error
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.paging import paged

blp = Blueprint(
    "catalog",
    __name__,
    description="Products, SKUs, certification and images; the public storefront list",
)

_MANAGE = (Role.station, Role.admin)
#: what a client holding the current version (If-None-Match: its ETag) gets
NOT_MODIFIED = {"description": "Not Modified: the ETag sent in If-None-Match is current."}
_BEARER = [{"bearerAuth": []}]


@blp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error):
    limit = current_app.config["MAX_IMAGE_BYTES"]
    return handle_domain_error(
        images.ImageTooLarge(
            images.IMAGE_TOO_LARGE(max_bytes=limit),
            errors={"file": [images.FILE_TOO_LARGE(max_bytes=limit)]},
        )
    )


@blp.route("/categories")
class Categories(MethodView):
    @blp.response(200, CategoryOut(many=True))
    def get(self):
        """The product categories (reference data: 中药材, 山货, 农产品 ...)."""
        return service.list_categories(db.session)


# --- the public storefront ------------------------------------------------------------------


@blp.route("/products")
class Products(MethodView):
    @storefront.cached_for_anonymous
    @optional_login
    @blp.arguments(StorefrontQuery, location="query")
    @blp.response(200, ProductCardOut(many=True))
    @blp.paginate(page_size=storefront.PAGE_SIZE, max_page_size=100)
    @blp.doc(security=[{}, {"bearerAuth": []}], responses={304: NOT_MODIFIED})
    def get(self, filters, pagination_parameters):
        """The storefront: products on sale, filtered, searched, sorted and paged.

        Anonymous requests are answered from a cache shared by all workers: a listing or
        price change shows at once, stock figures may lag by a few seconds (checkout is the
        authority on stock). Responses carry an ETag; send If-None-Match to get a 304.
        """
        return storefront.list_response(
            filters, pagination_parameters, media_prefix=images.MEDIA_PREFIX
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
    @blp.paginate(page_size=storefront.PAGE_SIZE, max_page_size=100)
    @blp.doc(security=_BEARER)
    def get(self, filters, pagination_parameters):
        """Products in every state, for those who manage them: a station's own, an
        official's region's (read-only), all for admins. Newest first."""
        return paged(
            pagination_parameters,
            service.list_managed_products,
            db.session,
            current_actor(),
            filters,
        )


@blp.route("/products/<id:product_id>")
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


@blp.route("/products/<id:product_id>/publish")
class PublishProduct(MethodView):
    @login_required(*_MANAGE)
    @blp.response(200, ProductOut)
    @blp.doc(security=_BEARER)
    def post(self, product_id):
        """Put a draft or delisted product on sale: it needs an active SKU and, if it has a
        certificate, one valid today."""
        return service.publish_product(db.session, current_actor(), product_id)


@blp.route("/products/<id:product_id>/delist")
class DelistProduct(MethodView):
    @login_required(*_MANAGE)
    @blp.response(200, ProductOut)
    @blp.doc(security=_BEARER)
    def post(self, product_id):
        """Take an active product off sale."""
        return service.delist_product(db.session, current_actor(), product_id)


@blp.route("/products/<id:product_id>/skus")
class ProductSkus(MethodView):
    @login_required(*_MANAGE)
    @blp.arguments(SkuIn)
    @blp.response(201, SkuOut)
    @blp.doc(security=_BEARER)
    def post(self, data, product_id):
        """Add a SKU (a 500 g box, a 1 kg box) with its price and counted stock."""
        return service.add_sku(db.session, current_actor(), product_id, data)


@blp.route("/products/<id:product_id>/skus/<id:sku_id>")
class ProductSkuById(MethodView):
    @login_required(*_MANAGE)
    @blp.arguments(SkuUpdateIn)
    @blp.response(200, SkuOut)
    @blp.doc(security=_BEARER)
    def patch(self, data, product_id, sku_id):
        """Change a SKU's price, spec, weight, activity or stock (a fresh count)."""
        return service.update_sku(db.session, current_actor(), product_id, sku_id, data)


# --- images ---------------------------------------------------------------------------------


@blp.route("/products/<id:product_id>/images")
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


@blp.route("/products/<id:product_id>/images/<id:image_id>")
class ProductImageById(MethodView):
    @login_required(*_MANAGE)
    @blp.response(204)
    @blp.doc(security=_BEARER)
    def delete(self, product_id, image_id):
        images.delete_image(db.session, current_actor(), product_id, image_id)


@blp.route("/media/<string:storage_key>")
class Media(MethodView):
    @blp.response(200, content_type="image/*")
    @blp.doc(responses={304: NOT_MODIFIED})
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
