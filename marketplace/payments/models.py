import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk


class Gateway(enum.StrEnum):
    stripe = "stripe"
    #: cash or bank transfer recorded at a station's counter; unit procurement paid by invoice
    offline = "offline"
    #: sales made on an outside platform (Douyin, Pinduoduo...) and imported
    platform = "platform"


class PaymentState(enum.StrEnum):
    #: waiting for the buyer (a PaymentIntent exists, nothing captured yet)
    pending = "pending"
    succeeded = "succeeded"
    #: the hold expired or the order was cancelled before money came
    cancelled = "cancelled"


class Payment(Base):
    """Money taken (or being taken) for one order through one gateway."""

    __tablename__ = "payments"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    gateway: Mapped[Gateway] = mapped_column(enum_type(Gateway))
    state: Mapped[PaymentState] = mapped_column(enum_type(PaymentState))
    #: card, alipay, wechat_pay, cash, bank_transfer, invoice
    method: Mapped[str | None] = mapped_column(sa.String(24))
    amount_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    captured_fen: Mapped[Fen] = mapped_column(default=0)
    refunded_fen: Mapped[Fen] = mapped_column(default=0)
    #: the provider's id (a PaymentIntent id), or the receipt / transfer reference offline
    provider_reference: Mapped[str | None] = mapped_column(sa.String(128))
    #: what the buyer's browser needs to confirm a PaymentIntent
    client_secret: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    events: Mapped[list["PaymentEvent"]] = relationship(
        back_populates="payment", order_by="PaymentEvent.id", lazy="raise"
    )

    @property
    def clearing(self) -> str:
        """Whose clearing account in the ledger holds this money: the gateway's, or for a
        sale on an outside platform, that platform's (its ``method``)."""
        return self.method if self.gateway is Gateway.platform else self.gateway.value

    __table_args__ = (
        sa.UniqueConstraint("gateway", "provider_reference"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "captured_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= captured_fen",
            name="refund_bound",
        ),
    )


class PaymentEventKind(enum.StrEnum):
    created = "created"
    attempt_failed = "attempt_failed"
    succeeded = "succeeded"
    cancelled = "cancelled"
    refund_requested = "refund_requested"
    refund_succeeded = "refund_succeeded"
    refund_failed = "refund_failed"
    #: money arrived for an order that can no longer take it; it is being sent back
    late_capture = "late_capture"


class PaymentEvent(Base):
    """Append-only log of everything that happened to a payment, with the provider's event id
    stored once: a webhook delivered twice finds its id taken and changes nothing."""

    __tablename__ = "payment_events"

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    kind: Mapped[PaymentEventKind] = mapped_column(enum_type(PaymentEventKind))
    amount_fen: Mapped[Fen | None]
    provider_event_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    payment: Mapped[Payment] = relationship(back_populates="events", lazy="raise")


class RefundState(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    state: Mapped[RefundState] = mapped_column(enum_type(RefundState))
    amount_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    #: whether the refunded units went back on the shelf (they had not shipped)
    restocked: Mapped[bool] = mapped_column(default=False)
    provider_reference: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list["RefundLine"]] = relationship(
        back_populates="refund", order_by="RefundLine.id", lazy="raise"
    )

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)


class RefundLine(Base):
    """How much of which order line a refund gives back: the ledger reverses exactly this."""

    __tablename__ = "refund_lines"

    id: Mapped[intpk]
    refund_id: Mapped[int] = mapped_column(sa.ForeignKey("refunds.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int]
    amount_fen: Mapped[Fen]

    refund: Mapped[Refund] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class WebhookReceipt(Base):
    """Every provider event id we have seen, whatever it was about: the duplicate check for
    webhooks, and the trail of events that matched no payment (logged and acknowledged)."""

    __tablename__ = "webhook_receipts"

    id: Mapped[intpk]
    provider: Mapped[str] = mapped_column(sa.String(16))
    event_id: Mapped[str] = mapped_column(sa.String(128))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    #: what we did with it: applied, ignored (duplicate state), unmatched (unknown intent)
    outcome: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("provider", "event_id"),)
