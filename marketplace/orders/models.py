import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk


class OrderStatus(enum.StrEnum):
    """Where the goods are. Money has its own dimension, PaymentStatus, because a partial
    refund neither stops nor undoes shipping."""

    pending_payment = "pending_payment"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    completed = "completed"
    cancelled = "cancelled"
    #: everything captured was given back; nothing more happens to the order
    refunded = "refunded"


class PaymentStatus(enum.StrEnum):
    unpaid = "unpaid"
    paid = "paid"
    #: some of the captured money was given back; the rest of the order goes on
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    #: cancelled before any money was taken
    void = "void"
    #: cancelled before the money came; it came all the same (a late capture) and went back
    late_capture_refunded = "late_capture_refunded"


class EventDimension(enum.StrEnum):
    status = "status"
    payment = "payment"


class Channel(enum.StrEnum):
    web = "web"
    livestream = "livestream"
    station_counter = "station_counter"
    unit_procurement = "unit_procurement"
    imported = "imported"


class LinePricing(enum.StrEnum):
    """Which price a line was charged, and why."""

    #: no session named: the catalog price
    catalog = "catalog"
    #: the session's live price
    live = "live"
    #: the session named is not live (scheduled, ended or cancelled): the catalog price
    session_not_live = "session_not_live"
    #: the session does not feature this SKU (another station's, or not on air): catalog
    not_featured = "not_featured"
    #: the live price's cap was reached: these units are at the catalog price
    cap_reached = "cap_reached"
    #: sold on an outside platform at its price there (an imported sale)
    platform = "platform"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[intpk]
    #: the number shown to people: MK + Shanghai date + sequence-free random part
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: None only for sales imported from an outside platform, whose buyers are not ours
    buyer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: the buying organisation when a unit user orders for it
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buying_units.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel), default=Channel.web)
    #: the livestream session whose code was named at checkout (fixed at creation)
    livestream_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("livestream_sessions.id"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus), index=True)
    payment_status: Mapped[PaymentStatus] = mapped_column(enum_type(PaymentStatus))
    total_fen: Mapped[Fen]
    refunded_fen: Mapped[Fen] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    #: the shipping address; imported sales have none (the platform ships, and masks it)
    recipient_name: Mapped[str | None] = mapped_column(sa.String(50))
    recipient_phone: Mapped[str | None] = mapped_column(sa.String(20))
    province: Mapped[str | None] = mapped_column(sa.String(30))
    city: Mapped[str | None] = mapped_column(sa.String(30))
    district: Mapped[str | None] = mapped_column(sa.String(30))
    address_line: Mapped[str | None] = mapped_column(sa.String(200))
    postal_code: Mapped[str | None] = mapped_column(sa.String(6))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    #: an unpaid order gives its stock back after this moment
    hold_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[created_at]
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="raise"
    )
    events: Mapped[list["OrderEvent"]] = relationship(
        back_populates="order", order_by="OrderEvent.id", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("total_fen > 0", name="total_positive"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_bound"),
        sa.CheckConstraint(
            "channel = 'imported' OR (buyer_id IS NOT NULL AND recipient_name IS NOT NULL"
            " AND recipient_phone IS NOT NULL AND province IS NOT NULL AND city IS NOT NULL"
            " AND district IS NOT NULL AND address_line IS NOT NULL)",
            name="buyer_and_address",
        ),
    )


class OrderLine(Base):
    """What was bought, with the price, producer and station snapshotted at checkout."""

    __tablename__ = "order_lines"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    product_name: Mapped[str] = mapped_column(sa.String(100))
    sku_spec: Mapped[str] = mapped_column(sa.String(100))
    unit_price_fen: Mapped[Fen]
    quantity: Mapped[int]
    line_total_fen: Mapped[Fen]
    #: what the seller gave off the line's price × quantity (a platform's shop discount)
    discount_fen: Mapped[Fen] = mapped_column(default=0, server_default="0")
    #: the catalog price when ordered (the live price, if charged, is unit_price_fen)
    list_price_fen: Mapped[Fen]
    pricing: Mapped[LinePricing] = mapped_column(
        enum_type(LinePricing), default=LinePricing.catalog
    )
    live_price_id: Mapped[int | None] = mapped_column(sa.ForeignKey("live_prices.id"))
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[Fen] = mapped_column(default=0)
    carrier: Mapped[str | None] = mapped_column(sa.String(50))
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "line_total_fen = unit_price_fen * quantity - discount_fen"
            " AND discount_fen >= 0 AND line_total_fen > 0",
            name="line_total",
        ),
        sa.CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refund_quantity"
        ),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= line_total_fen", name="refund_amount"
        ),
    )


class OrderEvent(Base):
    """Append-only history of the order's states: who moved it, when, from what, to what, why.

    ``dimension`` says which state moved: the order's ``status`` or its ``payment_status``.
    """

    __tablename__ = "order_events"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    dimension: Mapped[EventDimension] = mapped_column(enum_type(EventDimension, 16))
    from_value: Mapped[str | None] = mapped_column(sa.String(24))
    to_value: Mapped[str] = mapped_column(sa.String(24))
    #: NULL when the system acted (hold expiry, a payment webhook)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[created_at]

    order: Mapped[Order] = relationship(back_populates="events", lazy="raise")
