"""Livestream sessions, their history, and the SKUs they feature at live prices."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk


class Platform(enum.StrEnum):
    #: our own storefront and checkout
    own = "own"
    douyin = "douyin"
    kuaishou = "kuaishou"
    taobao = "taobao"
    pinduoduo = "pinduoduo"
    wechat_channels = "wechat_channels"


class SessionState(enum.StrEnum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


class HostKind(enum.StrEnum):
    #: a county or township official ("the county head is live", 县长来了)
    official = "official"
    #: the organising station's own operator
    station_operator = "station_operator"
    #: an outside host: an influencer (达人), a guest presenter
    guest = "guest"


class LivestreamSession(Base):
    """One livestream: who presents it, who organises it (a station, or a region for a
    county-led session), where it runs, when, and its state."""

    __tablename__ = "livestream_sessions"

    id: Mapped[intpk]
    #: what buyers name at checkout, and what links orders to the session
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    host_name: Mapped[str] = mapped_column(sa.String(50))
    host_kind: Mapped[HostKind] = mapped_column(enum_type(HostKind))
    #: the host's account id on the platform (抖音 达人ID), which imported orders carry
    host_account: Mapped[str | None] = mapped_column(sa.String(64))
    #: the organiser: a station, or (county-led sessions) a region
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    #: the live room on the platform; two sessions are never live in one room at once
    room_id: Mapped[str] = mapped_column(sa.String(64))
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_end: Mapped[datetime] = mapped_column(UTCDateTime())
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[SessionState] = mapped_column(enum_type(SessionState, 16), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]
    version: Mapped[int] = mapped_column(default=1)

    events: Mapped[list["SessionEvent"]] = relationship(
        back_populates="session", order_by="SessionEvent.id", lazy="raise"
    )
    station = relationship("Station", lazy="raise")
    region = relationship("Region", lazy="raise")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("(station_id IS NULL) <> (region_id IS NULL)", name="one_organiser"),
        sa.CheckConstraint("scheduled_end > scheduled_start", name="scheduled_in_order"),
        # The database, not a check in the service, keeps one live session per room: two
        # requests putting two sessions live at once cannot both commit.
        sa.Index(
            "ix_livestream_sessions_live_room",
            "platform",
            "room_id",
            unique=True,
            postgresql_where=sa.text("state = 'live'"),
            sqlite_where=sa.text("state = 'live'"),
        ),
    )


class SessionEvent(Base):
    """Append-only: every move of a session's state, who made it, when, why."""

    __tablename__ = "livestream_session_events"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("livestream_sessions.id"), index=True)
    from_state: Mapped[SessionState | None] = mapped_column(enum_type(SessionState, 16))
    to_state: Mapped[SessionState] = mapped_column(enum_type(SessionState, 16))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[created_at]

    session: Mapped[LivestreamSession] = relationship(back_populates="events", lazy="raise")


class LivePrice(Base):
    """A SKU featured in a session at a live price, with an optional cap on the units sold at
    it. ``sold`` counts those units; checkout raises it under the row's lock
    (``live_prices.count_live_units``), so the cap is as hard as stock."""

    __tablename__ = "live_prices"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("livestream_sessions.id"), index=True)
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id"), index=True)
    price_fen: Mapped[Fen]
    #: units that may be sold at the live price; NULL: as many as stock allows
    cap: Mapped[int | None]
    sold: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("session_id", "sku_id"),
        sa.CheckConstraint("price_fen > 0", name="price_positive"),
        sa.CheckConstraint("sold >= 0 AND (cap IS NULL OR sold <= cap)", name="within_cap"),
    )
