import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, created_at, enum_type, intpk


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


class PlatformProduct(Base):
    """A station's map from an outside platform's product id (its SKU or style id, or the
    merchant code the platform carries) to the SKU it sells here."""

    __tablename__ = "platform_products"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"))
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    outside_id: Mapped[str] = mapped_column(sa.String(64))
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id"), index=True)
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("station_id", "platform", "outside_id"),)


class ImportLayout(Base):
    """A station's description of an export layout we have no mapping for: which of its
    columns holds each of our fields, and which of its values mean what."""

    __tablename__ = "import_layouts"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    columns: Mapped[dict] = mapped_column(sa.JSON)
    #: {"statuses": {"paid": [...], ...}, "refund_states": {...}, "live": [...]}
    values: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("station_id", "name"),)


class PlatformImport(Base):
    """One upload of a platform's export: what it did, and every line it could not take."""

    __tablename__ = "platform_imports"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: SHA-256 of the file's bytes: the same file twice is visible at a glance
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: the session the upload named for all its rows, if any
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("livestream_sessions.id"))
    rows: Mapped[int]
    created_lines: Mapped[int]
    updated_lines: Mapped[int]
    unchanged_lines: Mapped[int]
    #: the same (sub-)order again in the file, with the same values: taken once
    duplicate_lines: Mapped[int]
    #: not paid on the platform: nothing to record
    skipped_lines: Mapped[int]
    failed_lines: Mapped[int]
    #: the problems beyond the first ``MAX_PROBLEMS`` kept in ``problems``
    problems_not_kept: Mapped[int] = mapped_column(default=0)
    #: [{"line": 12, "column": "商品ID", "reason": "..."}]
    problems: Mapped[list] = mapped_column(sa.JSON)
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    #: a stored upload was not a dry run (a dry run's report is never stored)
    dry_run = False


class ImportedLine(Base):
    """A platform's (sub-)order as imported: the order line it became, and the state and
    refunds the platform last reported, so that a later export applies only what is new."""

    __tablename__ = "imported_lines"

    id: Mapped[intpk]
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    #: the platform's sub-order id (its order id where it has none); unique per platform
    outside_line_id: Mapped[str] = mapped_column(sa.String(64))
    outside_order_id: Mapped[str] = mapped_column(sa.String(64))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_lines.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    refund_state: Mapped[str] = mapped_column(sa.String(16))
    #: what was refunded of the line so far, as applied from the platform's exports
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: the upload that last read this (sub-)order, its line there and a digest of its cells:
    #: the same id again in that upload is a duplicate row, or a contradiction
    last_import_id: Mapped[int] = mapped_column(sa.ForeignKey("platform_imports.id"))
    source_line: Mapped[int]
    row_digest: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("platform", "outside_line_id"),)


class PayerKind(enum.StrEnum):
    #: a producer of the session's products, from what it is owed for its sales (an
    #: enterprise's payable, a co-operative's retained earnings)
    producer = "producer"
    #: money from outside the marketplace (a sponsor, a county programme), recorded as received
    outside = "outside"


class PledgeKind(enum.StrEnum):
    #: the same amount to each household named ("500 yuan each to these 20 households")
    per_household = "per_household"
    #: a share of the session's net sales, to a village's registered households, equally
    share_of_net = "share_of_net"


class PledgeState(enum.StrEnum):
    #: promised on air; becomes a fund when the session ends
    pledged = "pledged"
    #: the fund holds the money; its disbursement awaits a second user's approval
    funded = "funded"
    #: approved: the households have it
    disbursed = "disbursed"
    cancelled = "cancelled"


class Pledge(Base):
    """A promise made in a session to give households part of its proceeds. When the session
    ends it becomes an assistance fund, paid by the account it names, with a disbursement
    proposed; a second user approves it. Funded once and disbursed once: the state moves
    under the pledge's row lock, and the fund and the disbursement are unique to it."""

    __tablename__ = "pledges"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("livestream_sessions.id"), index=True)
    kind: Mapped[PledgeKind] = mapped_column(enum_type(PledgeKind, 16))
    payer_kind: Mapped[PayerKind] = mapped_column(enum_type(PayerKind, 16))
    #: the paying producer (payer_kind producer)
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producers.id"))
    payer_name: Mapped[str] = mapped_column(sa.String(100))
    #: per_household: what each household gets
    amount_each_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: share_of_net: basis points of the session's net sales (of the paying producer's
    #: products when a producer pays), to the registered households of ``village_id``
    share_bp: Mapped[int | None]
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"))
    memo: Mapped[str] = mapped_column(sa.String(300))
    state: Mapped[PledgeState] = mapped_column(enum_type(PledgeState, 16))
    #: the amount once known (at funding), and the net sales a share was taken of
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    basis_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: why the session's end did not fund it: {"reason": ...}, with owed_fen, pledged_fen and
    #: shortfall_fen when the payer was owed too little
    not_funded: Mapped[dict | None] = mapped_column(sa.JSON)
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assistance_funds.id"), unique=True)
    disbursement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("fund_disbursements.id"), unique=True
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: who funded it and so proposed the disbursement (the maker), and who approved it
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    households: Mapped[list["PledgeHousehold"]] = relationship(
        order_by="PledgeHousehold.household_id", lazy="raise"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'per_household' AND amount_each_fen > 0 AND share_bp IS NULL)"
            " OR (kind = 'share_of_net' AND share_bp > 0 AND share_bp <= 10000"
            " AND village_id IS NOT NULL AND amount_each_fen IS NULL)",
            name="kind_terms",
        ),
        sa.CheckConstraint(
            "(payer_kind = 'producer') = (producer_id IS NOT NULL)", name="producer_payer"
        ),
        sa.CheckConstraint(
            "state NOT IN ('funded', 'disbursed') OR (fund_id IS NOT NULL AND amount_fen > 0)",
            name="funded_has_fund",
        ),
        sa.CheckConstraint(
            "state <> 'disbursed' OR (disbursement_id IS NOT NULL"
            " AND approved_by_id IS NOT NULL AND approved_by_id <> proposed_by_id)",
            name="maker_checker",
        ),
    )


class PledgeHousehold(Base):
    """A household a pledge gives to; its amount is fixed when the pledge is funded."""

    __tablename__ = "pledge_households"

    id: Mapped[intpk]
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"))
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.UniqueConstraint("pledge_id", "household_id"),)
