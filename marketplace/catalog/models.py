import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk, utcnow


class Category(Base):
    """Reference data: 中药材, 山货, 农产品 ... (seeded by the migrations)."""

    __tablename__ = "categories"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)


class ProductStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    delisted = "delisted"


class CertificationLevel(enum.StrEnum):
    """Who issued the poverty-alleviation product certificate (扶贫产品认定)."""

    national = "national"
    provincial = "provincial"
    municipal = "municipal"
    county = "county"


def fold_for_search(text: str) -> str:
    """Search text and queries are compared case-folded; Chinese has no case and is unchanged."""
    return text.casefold()


def certificate_valid_on(valid_from: date | None, valid_to: date | None, day: date) -> bool:
    """Certificates run by calendar day in China (``marketplace.clock``)."""
    return valid_from is not None and valid_from <= day and (valid_to is None or valid_to >= day)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[intpk]
    #: the station that lists it; only that station's operators may change it
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    origin_village_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    subtitle: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    #: the selling unit shown next to a price: 盒, 袋, 斤, 瓶...
    unit: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[ProductStatus] = mapped_column(enum_type(ProductStatus, 16), default="draft")
    certificate_number: Mapped[str | None] = mapped_column(sa.String(64))
    certificate_level: Mapped[CertificationLevel | None] = mapped_column(
        enum_type(CertificationLevel, 16)
    )
    certificate_valid_from: Mapped[date | None]
    certificate_valid_to: Mapped[date | None]
    #: lowest active SKU price, kept by the service so lists filter and sort without a join
    min_price_fen: Mapped[Fen | None]
    #: name, subtitle, producer and village folded together (``fold_for_search``) for
    #: substring search
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    station = relationship("Station", lazy="raise")
    producer = relationship("Producer", lazy="raise")
    origin_village = relationship("Region", lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")
    skus: Mapped[list["Sku"]] = relationship(
        back_populates="product", order_by="Sku.id", lazy="raise"
    )
    images: Mapped[list["ProductImage"]] = relationship(
        back_populates="product", order_by="(ProductImage.position, ProductImage.id)", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The storefront's orders: newest first, by price, and by price within a category (an
        # ordered index range serves a deep page without sorting every match).
        sa.Index("ix_products_status_published", "status", "published_at", "id"),
        sa.Index("ix_products_status_price", "status", "min_price_fen", "id"),
        sa.Index("ix_products_status_category", "status", "category_id", "min_price_fen", "id"),
        # ... by name, and the newest of a category: so the first page of each starts in an index.
        sa.Index("ix_products_status_name", "status", "name", "id"),
        sa.Index(
            "ix_products_status_category_published", "status", "category_id", "published_at", "id"
        ),
        # The search's, on PostgreSQL: the text's characters and words (storefront/search.py),
        # of the active products only, which are all the storefront searches.
        sa.Index(
            "ix_products_search",
            sa.func.product_search_lexemes(sa.column("search_text")),
            postgresql_using="gin",
            postgresql_where=sa.text("status = 'active'"),
        ).ddl_if(dialect="postgresql"),
        sa.CheckConstraint(
            "(certificate_number IS NULL) = (certificate_level IS NULL)"
            " AND (certificate_number IS NULL) = (certificate_valid_from IS NULL)"
            " AND (certificate_valid_to IS NULL OR certificate_valid_to >= certificate_valid_from)",
            name="certificate_complete",
        ),
    )


class Sku(Base):
    """A sellable variant (500 g box, 1 kg box) with its own price and stock."""

    __tablename__ = "skus"

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    #: the station's own code for it (商家编码), unique within the station's catalog
    code: Mapped[str] = mapped_column(sa.String(64))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"))
    spec: Mapped[str] = mapped_column(sa.String(100))
    price_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    #: units on hand; checkout takes from it with a conditional UPDATE, never below zero
    stock: Mapped[int] = mapped_column(default=0)
    weight_grams: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    #: what an edit must name: raised by each edit (not by checkout taking stock, which is no
    #: editor's figure to contradict)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="skus", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("station_id", "code"),
        sa.CheckConstraint("price_fen > 0", name="price_positive"),
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
    )


class ProductCertificate(Base):
    """A certificate a product held, kept when it is replaced or removed: a sale is judged
    by the certificates valid on the day it was paid, whatever the product holds now."""

    __tablename__ = "product_certificates"

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[CertificationLevel] = mapped_column(enum_type(CertificationLevel, 16))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    #: who recorded it (None: the demo loader, a migration)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship(lazy="raise")


class ProductImage(Base):
    __tablename__ = "product_images"

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    #: file name under UPLOAD_FOLDER: the content's SHA-256 plus the type's extension
    storage_key: Mapped[str] = mapped_column(sa.String(80))
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size_bytes: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship(back_populates="images", lazy="raise")


class CatalogPage(Base):
    """Serialized anonymous catalog pages, shared by every worker through the database.

    A page is valid while ``generation`` equals the current catalog generation (bumped by any
    listing or price change, so those show at once) and for CATALOG_CACHE_SECONDS at most
    (so stock figures lag by no more than that).
    """

    __tablename__ = "catalog_pages"

    cache_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(sa.BigInteger)
    etag: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: the matches counted, at most one past the list's bound (storefront/listing.py)
    total: Mapped[int]
    #: the cursor of the page after this one (None after the last)
    next_cursor: Mapped[str | None] = mapped_column(sa.String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CatalogGeneration(Base):
    """A single row whose counter moves on every change that a cached list must not hide."""

    __tablename__ = "catalog_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
