import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, created_at, enum_type, intpk, utcnow


class HouseholdStatus(enum.StrEnum):
    #: 贫困户: registered and not yet lifted out
    in_poverty = "in_poverty"
    #: 已脱贫: lifted out of poverty
    lifted = "lifted"
    #: 监测对象: under monitoring against falling back (one of MonitoringType)
    monitoring = "monitoring"


class MonitoringType(enum.StrEnum):
    """The three kinds of monitored household (三类监测对象)."""

    #: 脱贫不稳定户
    unstable_lifted = "unstable_lifted"
    #: 边缘易致贫户
    marginal = "marginal"
    #: 突发严重困难户
    sudden_hardship = "sudden_hardship"


class PovertyCause(enum.StrEnum):
    illness = "illness"  # 因病
    disability = "disability"  # 因残
    schooling = "schooling"  # 因学
    disaster = "disaster"  # 因灾
    lack_of_land = "lack_of_land"  # 缺土地
    lack_of_water = "lack_of_water"  # 缺水
    lack_of_skills = "lack_of_skills"  # 缺技术
    lack_of_labour = "lack_of_labour"  # 缺劳力
    lack_of_funds = "lack_of_funds"  # 缺资金
    poor_transport = "poor_transport"  # 交通条件落后
    lack_of_motivation = "lack_of_motivation"  # 自身发展动力不足
    other = "other"  # 其他


class Household(Base):
    """A registered household (建档立卡户)."""

    __tablename__ = "households"

    id: Mapped[intpk]
    #: 建档立卡编号, unique in the national system
    registry_number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    head_name: Mapped[str] = mapped_column(sa.String(50))
    #: AES-GCM ciphertext of the head's national ID number (see marketplace.pii)
    head_id_encrypted: Mapped[str] = mapped_column(sa.String(255))
    #: keyed hash of the ID number, for exact lookup without decrypting every row
    head_id_lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: the masked form shown to everyone but admins (220***********1234)
    head_id_masked: Mapped[str] = mapped_column(sa.String(18))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    members_count: Mapped[int]
    #: Looked up through the two indexes below that lead with it (migration 0029).
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    #: list of PovertyCause values, most important first
    poverty_causes: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: 帮扶责任人: the cadre assigned to help this household
    helper_name: Mapped[str | None] = mapped_column(sa.String(50))
    helper_phone: Mapped[str | None] = mapped_column(sa.String(20))
    #: the status in force today, kept equal to the latest effective status change
    status: Mapped[HouseholdStatus] = mapped_column(enum_type(HouseholdStatus), index=True)
    monitoring_type: Mapped[MonitoringType | None] = mapped_column(enum_type(MonitoringType))
    #: the status of the household's latest change, by day and then id, whatever its day: kept
    #: by the database (a trigger on ``household_status_changes``, migration 0025), for every
    #: writer. A report counting a county's households by their status at a period's end takes
    #: it for each household with no change after that end, and looks up only the others.
    latest_status: Mapped[HouseholdStatus | None] = mapped_column(enum_type(HouseholdStatus))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: optimistic concurrency: an edit naming an older version is refused with 409
    version: Mapped[int] = mapped_column(default=1)

    village = relationship("Region", lazy="raise")
    status_history: Mapped[list["HouseholdStatusChange"]] = relationship(
        back_populates="household",
        order_by="(HouseholdStatusChange.effective_from, HouseholdStatusChange.id)",
        lazy="raise",
    )
    payout_account: Mapped["PayoutAccount | None"] = relationship(
        back_populates="household", lazy="raise", uselist=False
    )

    #: Not stored: set by registration to the first month whose reports count the household
    #: (its initial status's month, or the first open month after it if that one is closed).
    reported_from = None

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("members_count > 0", name="members_positive"),
        # A county's report counts its registered households by village and status from this
        # index alone (``ledger/village_rollups.py`` counts the reached ones).
        sa.Index("ix_households_village_id_latest_status", "village_id", "latest_status"),
        # A village's report lists its households in id order from this index alone
        # (migration 0028); elsewhere than PostgreSQL it is a plain (village_id, id) index.
        sa.Index(
            "ix_households_village_listing",
            "village_id",
            "id",
            postgresql_include=["head_name", "members_count", "latest_status"],
        ),
    )


class HouseholdStatusChange(Base):
    """Append-only: the household's status from ``effective_from`` until the next change."""

    __tablename__ = "household_status_changes"

    id: Mapped[intpk]
    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[HouseholdStatus] = mapped_column(enum_type(HouseholdStatus))
    monitoring_type: Mapped[MonitoringType | None] = mapped_column(enum_type(MonitoringType))
    effective_from: Mapped[date]
    note: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[created_at]

    household: Mapped[Household] = relationship(back_populates="status_history", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint(
            "(status = 'monitoring') = (monitoring_type IS NOT NULL)", name="monitoring_type"
        ),
        # A report asks each of its households' status on a day: the latest change by then,
        # read from the end of this index (with the status in it, on PostgreSQL).
        sa.Index(
            "ix_household_status_changes_latest",
            "household_id",
            "effective_from",
            "id",
            postgresql_include=["status"],
        ),
        # The households whose status at a period's end is not their latest: those with a
        # change after it. Few, for any recent period.
        sa.Index("ix_household_status_changes_effective_from", "effective_from", "household_id"),
    )


class PayoutAccount(Base):
    """The household's one-card account (惠民惠农一卡通) that payouts go to.

    The card holder may be a relative, so the holder's name and ID are kept beside the card.
    """

    __tablename__ = "payout_accounts"

    id: Mapped[intpk]
    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("households.id", ondelete="CASCADE"), unique=True
    )
    bank_name: Mapped[str] = mapped_column(sa.String(100))
    card_encrypted: Mapped[str] = mapped_column(sa.String(255))
    card_lookup: Mapped[str] = mapped_column(sa.String(64), index=True)
    card_masked: Mapped[str] = mapped_column(sa.String(19))
    holder_name: Mapped[str] = mapped_column(sa.String(50))
    holder_id_encrypted: Mapped[str] = mapped_column(sa.String(255))
    holder_id_masked: Mapped[str] = mapped_column(sa.String(18))
    #: the holder's relation to the head of household (本人, 配偶, 子女...)
    holder_relation: Mapped[str] = mapped_column(sa.String(20), default="本人")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    household: Mapped[Household] = relationship(back_populates="payout_account", lazy="raise")
