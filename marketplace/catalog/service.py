"""Catalog management: products, their SKUs and their listing state.

Stations manage the products they list; admins manage any; officials only read (views decide
roles, ``catalog/scoping.py`` decides which rows). Whatever changes what the public list shows
(a listing, a price, a name) invalidates the shared page cache in the same transaction; a stock
count alone does not, because checkout is the authority on stock. What a product names (its
station, producer, category, village) is checked in ``catalog/references.py``.
"""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog import references
from marketplace.catalog.certificates import apply_certificate
from marketplace.catalog.models import (
    Category,
    Product,
    ProductStatus,
    Sku,
    certificate_valid_on,
    fold_for_search,
)
from marketplace.catalog.scoping import PRODUCTS
from marketplace.catalog.storefront.page_cache import invalidate_pages
from marketplace.clock import shanghai_today
from marketplace.db import check_version, utcnow
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.producers.signals import producer_renamed
from marketplace.reasons import reason

#: Everything a product response shows, in a constant number of statements.
FULL_PRODUCT = (
    joinedload(Product.category),
    joinedload(Product.producer),
    joinedload(Product.origin_village),
    joinedload(Product.station),
    selectinload(Product.skus),
    selectinload(Product.images),
)
#: What a buyer sees of a product: the SKUs on sale only.
PUBLIC_PRODUCT = (
    *FULL_PRODUCT[:4],
    selectinload(Product.skus.and_(Sku.is_active.is_(True))),
    selectinload(Product.images),
)

_MANAGERS = (Role.admin, Role.station, Role.official)
_LISTING_FIELDS = ("spec", "price_fen", "weight_grams", "is_active")

NO_SUCH_PRODUCT = reason("product.not_found", "Product {product_id} not found.")
ALREADY_ACTIVE = reason("product.already_active", "Product {product_id} is already active.")
NOT_ON_SALE = reason("product.not_on_sale", "Product {product_id} is not on sale ({status}).")
NO_ACTIVE_SKU = reason(
    "product.no_active_sku", "needs at least one active SKU before it can go on sale"
)
CERTIFICATE_NOT_YET_VALID = reason(
    "product.certificate_not_yet_valid", "the certificate is not valid yet"
)
CERTIFICATE_EXPIRED = reason("product.certificate_expired", "the certificate has expired")
NO_SUCH_SKU = reason("sku.not_found", "SKU {sku_id} not found.")
SKU_CODE_GIVEN_TWICE = reason("sku.code_given_twice", "given twice")
SKU_CODE_TAKEN = reason("sku.code_taken", "already used by another SKU of this station")
SKU_CODE_TAKEN_MEANWHILE = reason(
    "sku.code_taken_meanwhile", "a SKU code is already used in this station"
)
LAST_SKU_ON_SALE = reason(
    "sku.last_on_sale", "the last SKU on sale of an active product; delist the product first"
)


def list_categories(session) -> list[Category]:
    return list(session.execute(sa.select(Category).order_by(Category.id)).scalars())


# --- reading --------------------------------------------------------------------------------


def get_product(session, actor: Actor | None, product_id: int) -> Product:
    """An active product for anyone; a draft or delisted one only for those who manage or
    oversee it (its station, admins, officials of its region), and 404 for everyone else."""
    if actor is not None and actor.role in _MANAGERS:
        try:
            PRODUCTS.get(session, product_id, actor)
        except NotFound:
            pass
        else:
            return _reload(session, product_id)
    product = (
        session.execute(
            sa.select(Product)
            .where(Product.id == product_id, Product.status == ProductStatus.active)
            .options(*PUBLIC_PRODUCT)
            # The SKUs collection is filtered: never reuse one already loaded in full.
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one_or_none()
    )
    if product is None:
        raise NotFound(NO_SUCH_PRODUCT(product_id=product_id))
    return product


def list_managed_products(
    session, actor: Actor, filters: dict, *, page: int, page_size: int
) -> tuple[list[Product], int]:
    """Products in every state for their managers: a station's own, an official's region's,
    everything for admins."""
    stmt = PRODUCTS.restrict(sa.select(Product), actor)
    if filters.get("status") is not None:
        stmt = stmt.where(Product.status == filters["status"])
    for field in ("station_id", "producer_id"):
        if filters.get(field) is not None:
            stmt = stmt.where(getattr(Product, field) == filters[field])
    if filters.get("category") is not None:
        category_id = sa.select(Category.id).where(Category.code == filters["category"])
        stmt = stmt.where(Product.category_id == category_id.scalar_subquery())
    if filters.get("q"):
        stmt = stmt.where(
            Product.search_text.contains(fold_for_search(filters["q"]), autoescape=True)
        )
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.options(*FULL_PRODUCT)
        .order_by(Product.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return list(rows.unique().scalars()), total


# --- products -------------------------------------------------------------------------------


def managed_product(session, actor: Actor, product_id: int) -> Product:
    """The product in whatever state, for those who manage or oversee it (a station its own):
    what an edit starts from. 404 for everyone else, even when it is on sale."""
    PRODUCTS.get(session, product_id, actor)
    return _reload(session, product_id)


def product_for_change(session, actor: Actor, product_id: int) -> Product:
    """The product, if the actor may see it, locked against concurrent SKU and state changes
    (so the lowest price is computed from SKUs nobody else is changing) and freshly loaded."""
    PRODUCTS.get(session, product_id, actor)
    return _reload(session, product_id, lock=True)


def _reload(session, product_id: int, *, lock: bool = False) -> Product:
    stmt = (
        sa.select(Product)
        .where(Product.id == product_id)
        .options(*FULL_PRODUCT)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Product)
    return session.execute(stmt).unique().scalar_one()


def _refresh_listing(product: Product) -> None:
    """Keep the columns the public list filters and sorts on in step with their sources."""
    prices = [sku.price_fen for sku in product.skus if sku.is_active]
    product.min_price_fen = min(prices) if prices else None
    parts = (
        product.name,
        product.subtitle,
        product.producer.name,
        product.origin_village.name,
        product.category.name,
    )
    product.search_text = fold_for_search(" ".join(part for part in parts if part))


@producer_renamed.connect
def _refresh_listings_of_renamed(producer, *, session) -> None:
    """The search text holds the producer's name: a renamed producer is found by its new one
    at once, in the rename's transaction."""
    products = session.execute(
        sa.select(Product).where(Product.producer_id == producer.id).options(*FULL_PRODUCT)
    )
    for product in products.unique().scalars():
        _refresh_listing(product)
    invalidate_pages(session)


def _check_sku_codes(session, station_id: int, codes: list[str], field) -> None:
    """``field(i)`` names the i-th code in the error, so the client sees which one clashes."""
    errors = {}
    seen: set[str] = set()
    for index, code in enumerate(codes):
        if code in seen:
            errors[field(index)] = [SKU_CODE_GIVEN_TWICE()]
        seen.add(code)
    taken = set(
        session.execute(
            sa.select(Sku.code).where(Sku.station_id == station_id, Sku.code.in_(codes))
        ).scalars()
    )
    for index, code in enumerate(codes):
        if code in taken:
            errors[field(index)] = [SKU_CODE_TAKEN()]
    if errors:
        raise ValidationFailed(errors)


def _flush_new_skus(session, field: str) -> None:
    # The codes were checked, but a concurrent request may have taken one since.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed({field: [SKU_CODE_TAKEN_MEANWHILE()]}) from None


def _new_sku(session, product: Product, data: dict) -> Sku:
    sku = Sku(
        product=product,
        station_id=product.station_id,
        code=data["code"],
        spec=data["spec"],
        price_fen=data["price_fen"],
        currency=data["currency"],
        stock=data["stock"],
        weight_grams=data.get("weight_grams"),
        is_active=data["is_active"],
    )
    session.add(sku)
    return sku


def create_product(session, actor: Actor, data: dict) -> Product:
    """A new draft listed by the actor's station (admins name one)."""
    station_id = references.listing_station(session, actor, data.get("station_id"))
    errors: dict = {}
    producer = references.producer_of_station(session, data["producer_id"], station_id, errors)
    category = references.category(session, data["category"], errors)
    village = None
    if data.get("origin_village_id") is not None:
        village = references.village(session, data["origin_village_id"], errors)
    elif producer is not None:
        village = references.producers_village(session, producer, errors)
    if errors:
        raise ValidationFailed(errors)
    if data["skus"]:
        _check_sku_codes(
            session, station_id, [s["code"] for s in data["skus"]], lambda i: f"skus.{i}.code"
        )

    product = Product(
        station_id=station_id,
        producer=producer,
        origin_village=village,
        category=category,
        name=data["name"],
        subtitle=data.get("subtitle"),
        description=data.get("description"),
        unit=data["unit"],
        status=ProductStatus.draft,
        skus=[],
        images=[],
    )
    session.add(product)
    apply_certificate(session, product, data.get("certificate"), by=actor.user_id)
    for sku in data["skus"]:
        _new_sku(session, product, sku)
    # Complete before the first flush, so a new product is one INSERT at version 1.
    _refresh_listing(product)
    _flush_new_skus(session, "skus")
    # A draft is not in the public list, so the page cache stays valid.
    return _reload(session, product.id)


def update_product(session, actor: Actor, product_id: int, data: dict) -> Product:
    product = product_for_change(session, actor, product_id)
    check_version(product, data["version"])
    errors: dict = {}
    if "producer_id" in data:
        producer = references.producer_of_station(
            session, data["producer_id"], product.station_id, errors
        )
        if producer is not None:
            product.producer = producer
    if "origin_village_id" in data:
        village = references.village(session, data["origin_village_id"], errors)
        if village is not None:
            product.origin_village = village
    if "category" in data:
        category = references.category(session, data["category"], errors)
        if category is not None:
            product.category = category
    if errors:
        raise ValidationFailed(errors)
    for field in ("name", "subtitle", "description", "unit"):
        if field in data:
            setattr(product, field, data[field])
    if "certificate" in data:
        apply_certificate(session, product, data["certificate"], by=actor.user_id)
    _refresh_listing(product)
    if session.is_modified(product) and product.status is ProductStatus.active:
        invalidate_pages(session)
    session.flush()
    return product


def publish_product(session, actor: Actor, product_id: int) -> Product:
    """Put a draft or delisted product on sale."""
    product = product_for_change(session, actor, product_id)
    if product.status is ProductStatus.active:
        raise Conflict(ALREADY_ACTIVE(product_id=product_id))
    errors = {}
    if not any(sku.is_active for sku in product.skus):
        errors["skus"] = [NO_ACTIVE_SKU()]
    if product.certificate_number is not None:
        today = shanghai_today()
        if product.certificate_valid_from > today:
            errors["certificate.valid_from"] = [CERTIFICATE_NOT_YET_VALID()]
        elif not certificate_valid_on(
            product.certificate_valid_from, product.certificate_valid_to, today
        ):
            errors["certificate.valid_to"] = [CERTIFICATE_EXPIRED()]
    if errors:
        raise ValidationFailed(errors)
    product.status = ProductStatus.active
    # Relisting keeps the first publication date, so "newest" cannot be gamed by toggling.
    product.published_at = product.published_at or utcnow()
    invalidate_pages(session)
    session.flush()
    return product


def delist_product(session, actor: Actor, product_id: int) -> Product:
    product = product_for_change(session, actor, product_id)
    if product.status is not ProductStatus.active:
        raise Conflict(NOT_ON_SALE(product_id=product_id, status=product.status.value))
    product.status = ProductStatus.delisted
    invalidate_pages(session)
    session.flush()
    return product


# --- SKUs -----------------------------------------------------------------------------------


def add_sku(session, actor: Actor, product_id: int, data: dict) -> Sku:
    product = product_for_change(session, actor, product_id)
    _check_sku_codes(session, product.station_id, [data["code"]], lambda i: "code")
    sku = _new_sku(session, product, data)
    _refresh_listing(product)
    _flush_new_skus(session, "code")
    if product.status is ProductStatus.active and sku.is_active:
        invalidate_pages(session)
    return sku


def update_sku(session, actor: Actor, product_id: int, sku_id: int, data: dict) -> Sku:
    """Change a SKU, from the ``version`` the editor read (another is a 409 naming the
    current one; the product's lock serialises two editors). ``stock`` is a fresh count that
    replaces the figure; it does not touch the cached public pages, which may show the old
    figure for a few seconds."""
    product = product_for_change(session, actor, product_id)
    sku = next((s for s in product.skus if s.id == sku_id), None)
    if sku is None:
        raise NotFound(NO_SUCH_SKU(sku_id=sku_id))
    data = dict(data)
    check_version(sku, data.pop("version"))
    if (
        data.get("is_active") is False
        and sku.is_active
        and product.status is ProductStatus.active
        and not any(s.is_active for s in product.skus if s is not sku)
    ):
        raise ValidationFailed({"is_active": [LAST_SKU_ON_SALE()]})
    listing_changed = any(
        field in data and data[field] != getattr(sku, field) for field in _LISTING_FIELDS
    )
    for field, value in data.items():
        setattr(sku, field, value)
    sku.version += 1
    _refresh_listing(product)
    if listing_changed and product.status is ProductStatus.active:
        invalidate_pages(session)
    session.flush()
    return sku
