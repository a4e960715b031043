from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.catalog.models import CertificationLevel, ProductStatus
from marketplace.catalog.storefront.ordering import Cursor, sort_of
from marketplace.numbers import MAX_PRICE_FEN, MAX_STOCK, BoundedInteger, Fen, Id
from marketplace.producers.models import ProducerKind
from marketplace.reasons import reason

#: a tonne: no SKU weighs more
MAX_WEIGHT_GRAMS = 10**6

CERTIFICATE_ENDS_BEFORE_START = reason(
    "product.certificate_ends_before_start", "must not be before valid_from"
)
SKU_CODE_CHARACTERS = reason("sku.code_characters", "letters, digits, _ . - only")
PRICE_RANGE_INVERTED = reason("storefront.price_range_inverted", "must not be below min_price_fen")
NOT_A_CURSOR = reason(
    "storefront.not_a_cursor", "not a cursor this list gave: follow next_cursor of X-Pagination"
)
CURSOR_OF_ANOTHER_SORT = reason(
    "storefront.cursor_of_another_sort", "this cursor pages the list sorted by {sort}"
)


def Currency(**kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(["CNY"]), **kwargs)


SORTS = ("newest", "price_asc", "price_desc", "name", "relevance")


class CategoryOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


# --- certification --------------------------------------------------------------------------


class CertificateIn(Schema):
    """The poverty-alleviation product certificate (扶贫产品认定证书)."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    level = fields.Enum(CertificationLevel, required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, metadata={"description": "null: open-ended"})

    @validates_schema
    def _period(self, data, **kwargs):
        if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError(CERTIFICATE_ENDS_BEFORE_START(), field_name="valid_to")


class CertificateOut(Schema):
    number = fields.String(attribute="certificate_number")
    level = fields.Enum(CertificationLevel, attribute="certificate_level")
    valid_from = fields.Date(attribute="certificate_valid_from")
    valid_to = fields.Date(attribute="certificate_valid_to", allow_none=True)


class _CertificateOfProduct(fields.Nested):
    """The certificate columns of a product as one block, or null when it has none."""

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj if obj.certificate_number is not None else None


# --- SKUs -----------------------------------------------------------------------------------


class SkuIn(Schema):
    code = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=64),
            validate.Regexp(r"^[A-Za-z0-9_.-]+$", error=SKU_CODE_CHARACTERS()),
        ],
        metadata={"description": "The station's own code (商家编码), unique in its catalog."},
    )
    spec = fields.String(required=True, validate=validate.Length(min=1, max=100))
    price_fen = Fen(low=1, high=MAX_PRICE_FEN, required=True)
    currency = Currency(load_default="CNY")
    stock = BoundedInteger(
        0, MAX_STOCK, required=True, metadata={"description": "Units counted on hand."}
    )
    weight_grams = BoundedInteger(1, MAX_WEIGHT_GRAMS, load_default=None, allow_none=True)
    is_active = fields.Boolean(load_default=True)


class SkuUpdateIn(Schema):
    version = Id(
        required=True,
        metadata={"description": "The SKU's version you read; if it changed since, 409."},
    )
    spec = fields.String(validate=validate.Length(min=1, max=100))
    price_fen = Fen(low=1, high=MAX_PRICE_FEN)
    stock = BoundedInteger(
        0, MAX_STOCK, metadata={"description": "A fresh stock count; replaces the figure."}
    )
    weight_grams = BoundedInteger(1, MAX_WEIGHT_GRAMS, allow_none=True)
    is_active = fields.Boolean()


class SkuOut(Schema):
    id = fields.Integer()
    code = fields.String()
    spec = fields.String()
    price_fen = fields.Integer()
    currency = fields.String()
    stock = fields.Integer()
    weight_grams = fields.Integer(allow_none=True)
    is_active = fields.Boolean()
    version = fields.Integer(metadata={"description": "Name it in a PATCH."})


# --- products -------------------------------------------------------------------------------


class ProductIn(Schema):
    station_id = Id(
        load_default=None,
        metadata={"description": "Admins only (required for them); stations list their own."},
    )
    producer_id = Id(required=True)
    origin_village_id = Id(
        load_default=None,
        metadata={"description": "Defaults to the producer's region when that is a village."},
    )
    category = fields.String(required=True, metadata={"description": "A category code."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    subtitle = fields.String(load_default=None, validate=validate.Length(max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=20000))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=10))
    certificate = fields.Nested(CertificateIn, load_default=None, allow_none=True)
    skus = fields.List(fields.Nested(SkuIn), load_default=list, validate=validate.Length(max=50))


class ProductUpdateIn(Schema):
    version = Id(required=True, metadata={"description": "The version you read."})
    producer_id = Id()
    origin_village_id = Id()
    category = fields.String()
    name = fields.String(validate=validate.Length(min=1, max=100))
    subtitle = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=20000))
    unit = fields.String(validate=validate.Length(min=1, max=10))
    certificate = fields.Nested(
        CertificateIn, allow_none=True, metadata={"description": "null removes it"}
    )


class NamedRef(Schema):
    id = fields.Integer()
    name = fields.String()


class ProducerRef(NamedRef):
    kind = fields.Enum(ProducerKind)


class ImageOut(Schema):
    id = fields.Integer()
    url = fields.Method("_url")
    content_type = fields.String()
    size_bytes = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    position = fields.Integer()

    def _url(self, image):
        from marketplace.catalog.images import media_url

        return media_url(image.storage_key)


class ProductOut(Schema):
    id = fields.Integer()
    name = fields.String()
    subtitle = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    unit = fields.String()
    status = fields.Enum(ProductStatus)
    category = fields.Nested(CategoryOut)
    producer = fields.Nested(ProducerRef)
    origin_village = fields.Nested(NamedRef)
    station = fields.Nested(NamedRef)
    certificate = _CertificateOfProduct(CertificateOut, allow_none=True)
    min_price_fen = fields.Integer(allow_none=True)
    currency = fields.Constant("CNY")
    skus = fields.List(
        fields.Nested(SkuOut),
        metadata={"description": "Every SKU for those who manage it; active ones for others."},
    )
    images = fields.List(fields.Nested(ImageOut))
    published_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class ManagedProductQuery(Schema):
    status = fields.Enum(ProductStatus)
    station_id = Id(strict=False, metadata={"description": "Admins and officials."})
    producer_id = Id(strict=False)
    category = fields.String(metadata={"description": "A category code."})
    q = fields.String(validate=validate.Length(min=1, max=50))


# --- the public storefront ------------------------------------------------------------------


class StorefrontCursor(fields.String):
    """A page's ``next_cursor``, loaded as the ``Cursor`` it encodes."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) > 400:  # no cursor this list gives is that long
                raise ValueError(text)
            return Cursor.decode(text)
        except ValueError:
            raise ValidationError(NOT_A_CURSOR()) from None


class StorefrontQuery(Schema):
    category = fields.String(
        validate=validate.Length(min=1, max=32), metadata={"description": "A category code."}
    )
    village_id = Id(strict=False, metadata={"description": "Origin village."})
    region = Id(strict=False, metadata={"description": "Origin anywhere in this region's subtree."})
    producer_id = Id(strict=False)
    station_id = Id(strict=False)
    certified = fields.Boolean(
        metadata={"description": "true: only products whose certificate is valid today."}
    )
    min_price_fen = Fen(high=MAX_PRICE_FEN, strict=False)
    max_price_fen = Fen(high=MAX_PRICE_FEN, strict=False)
    q = fields.String(
        validate=validate.Length(min=1, max=50),
        metadata={
            "description": "Search of the name, subtitle, producer, village and category: a "
            "product matches when its text holds every Chinese character of q and every other "
            "word of it (as a word's start on PostgreSQL)."
        },
    )
    sort = fields.String(
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "Default: relevance when q is given (the name holding the query "
            "first, then the other text holding it as typed, then its characters apart; newest "
            "first within each), newest otherwise."
        },
    )
    cursor = StorefrontCursor(
        metadata={
            "description": "Where the page starts: the next_cursor of the previous page's "
            "X-Pagination. Reaches any depth; page numbers stop at the bound of the total."
        }
    )

    @validates_schema
    def _price_range(self, data, **kwargs):
        low, high = data.get("min_price_fen"), data.get("max_price_fen")
        if low is not None and high is not None and high < low:
            raise ValidationError(PRICE_RANGE_INVERTED(), field_name="max_price_fen")

    @validates_schema
    def _cursor_of_this_sort(self, data, **kwargs):
        cursor = data.get("cursor")
        if cursor is not None and cursor.sort != sort_of(data):
            raise ValidationError(CURSOR_OF_ANOTHER_SORT(sort=cursor.sort), field_name="cursor")


class CardCategory(Schema):
    code = fields.String()
    name = fields.String()


class CardSku(Schema):
    id = fields.Integer()
    code = fields.String()
    spec = fields.String()
    price_fen = fields.Integer()
    currency = fields.String()
    stock = fields.Integer(metadata={"description": "May lag a few seconds; checkout decides."})
    weight_grams = fields.Integer(allow_none=True)


class CardCertificate(Schema):
    number = fields.String()
    level = fields.Enum(CertificationLevel)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    valid_today = fields.Boolean()


class ProductCardOut(Schema):
    """One product of the public list: documents what storefront/listing.py builds by hand."""

    id = fields.Integer()
    name = fields.String()
    subtitle = fields.String(allow_none=True)
    unit = fields.String()
    min_price_fen = fields.Integer()
    currency = fields.String()
    published_at = fields.DateTime()
    category = fields.Nested(CardCategory)
    producer = fields.Nested(ProducerRef)
    origin_village = fields.Nested(NamedRef)
    station = fields.Nested(NamedRef)
    certificate = fields.Nested(CardCertificate, allow_none=True)
    image_url = fields.String(allow_none=True)
    skus = fields.List(fields.Nested(CardSku))


# --- images ---------------------------------------------------------------------------------


class ImageUploadIn(Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG or WebP."})
