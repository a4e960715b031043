import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk, utcnow


class Station(Base):
    """A village e-commerce service station (村级电商服务站): lists products and ships orders."""

    __tablename__ = "stations"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    version: Mapped[int] = mapped_column(default=1)

    village = relationship("Region", lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class ProducerKind(enum.StrEnum):
    #: a registered household selling its own produce
    household = "household"
    #: 农民专业合作社: distributes to member households by shares
    cooperative = "cooperative"
    #: 带贫企业: linked to households by a benefit-linking contract
    enterprise = "enterprise"


class Producer(Base):
    """Who makes what a station sells. One table for the three kinds, because products,
    order lines and attribution all need "the producer" whatever its kind."""

    __tablename__ = "producers"

    id: Mapped[intpk]
    kind: Mapped[ProducerKind] = mapped_column(enum_type(ProducerKind), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    #: where it is: a village for households and co-operatives, any level for an enterprise
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: the station that manages this producer's listings
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    #: set for kind=household: the household that sells its own produce
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), unique=True)
    #: 统一社会信用代码 of a co-operative or enterprise
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    legal_representative: Mapped[str | None] = mapped_column(sa.String(50))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    region = relationship("Region", lazy="raise")
    station = relationship(Station, lazy="raise")
    household = relationship("Household", lazy="raise")
    memberships: Mapped[list["CooperativeMembership"]] = relationship(
        back_populates="cooperative", lazy="raise", order_by="CooperativeMembership.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'household') = (household_id IS NOT NULL)", name="household_seller"
        ),
    )


class CooperativeMembership(Base):
    """A household's shares in a co-operative over a period; dividends follow the shares of
    the members active on the day of the sale."""

    __tablename__ = "cooperative_memberships"

    id: Mapped[intpk]
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    shares: Mapped[int]
    joined_on: Mapped[date]
    #: the last day of membership; NULL while the household is a member
    left_on: Mapped[date | None]
    created_at: Mapped[created_at]

    cooperative: Mapped[Producer] = relationship(back_populates="memberships", lazy="raise")
    household = relationship("Household", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("shares > 0", name="shares_positive"),
        sa.CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="left_after_joined"),
    )


class UnitKind(enum.StrEnum):
    #: 机关事业单位
    government = "government"
    #: 国有企业 / 民营企业 buying to help
    enterprise = "enterprise"
    #: 社会组织 and others
    other = "other"


class BuyingUnit(Base):
    """An organisation that buys on purpose to help villages (消费帮扶 buyers)."""

    __tablename__ = "buying_units"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[UnitKind] = mapped_column(enum_type(UnitKind))
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(50))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    #: where the unit sits (for officials' reports); any level of the tree
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    version: Mapped[int] = mapped_column(default=1)

    pairings: Mapped[list["UnitVillagePairing"]] = relationship(
        back_populates="unit", lazy="raise", order_by="UnitVillagePairing.id"
    )
    quotas: Mapped[list["UnitPurchaseQuota"]] = relationship(
        back_populates="unit", lazy="raise", order_by="UnitPurchaseQuota.year"
    )

    __mapper_args__ = {"version_id_col": version}


class UnitVillagePairing(Base):
    """结对帮扶: the villages a unit is paired with."""

    __tablename__ = "unit_village_pairings"

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("buying_units.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    since: Mapped[date]

    unit: Mapped[BuyingUnit] = relationship(back_populates="pairings", lazy="raise")
    village = relationship("Region", lazy="raise")

    __table_args__ = (sa.UniqueConstraint("unit_id", "village_id"),)


class UnitPurchaseQuota(Base):
    """The unit's yearly consumption-assistance purchase target, in fen."""

    __tablename__ = "unit_purchase_quotas"

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("buying_units.id"), index=True)
    year: Mapped[int]
    quota_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")

    unit: Mapped[BuyingUnit] = relationship(back_populates="quotas", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "year"),
        sa.CheckConstraint("quota_fen >= 0", name="quota_not_negative"),
    )


class ProducerPayoutAccount(Base):
    """The bank account a co-operative or an enterprise is paid to (its retained earnings when
    the co-op draws them, what it is owed for its sales): the organisation's own account, in
    its registered name, matched in the bank's return by its credit code and number."""

    __tablename__ = "producer_payout_accounts"

    id: Mapped[intpk]
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), unique=True)
    bank_name: Mapped[str] = mapped_column(sa.String(100))
    #: 户名: the name on the account, as the bank holds it
    account_name: Mapped[str] = mapped_column(sa.String(100))
    account_encrypted: Mapped[str] = mapped_column(sa.String(255))
    account_lookup: Mapped[str] = mapped_column(sa.String(64), index=True)
    account_masked: Mapped[str] = mapped_column(sa.String(40))
    updated_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProducerPayoutAccountChange(Base):
    """Audit: every setting of a producer's payout account, who made it and when, with the
    account as it was and as it became (masked)."""

    __tablename__ = "producer_payout_account_changes"

    id: Mapped[intpk]
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    changed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    #: {"bank_name": .., "account_name": .., "account_masked": ..}; None when there was none
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict] = mapped_column(sa.JSON)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    changed_at: Mapped[created_at]
