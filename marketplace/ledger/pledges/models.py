"""Pledges made on air, and the households each gives to."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, created_at, enum_type, intpk


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
            " AND approved_by_id IS NOT NULL AND approved_by_id <> proposed_by_id"
            " AND (created_by_id IS NULL OR approved_by_id <> created_by_id))",
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
