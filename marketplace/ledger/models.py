"""The money ledger: double-entry, append-only, integer fen.

Amounts are signed: a debit is positive, a credit negative, and every journal entry's postings
sum to zero. Liabilities (what households, producers and co-operatives are owed) therefore carry
negative balances; the API shows them as positive amounts owed. Nothing here is ever updated or
deleted: a correction is a new entry that reverses an old one.
"""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk


class AccountKind(enum.StrEnum):
    #: money captured through a gateway and held by the platform (one per gateway)
    gateway_clearing = "gateway_clearing"
    #: income accrued to a registered household and not yet paid to it
    household_income = "household_income"
    #: what an enterprise (or another producer) is owed for its sales
    producer_payable = "producer_payable"
    #: the retained earnings of a co-operative
    coop_retained = "coop_retained"
    #: service fees kept by the platform, and by each station
    platform_fee = "platform_fee"
    station_fee = "station_fee"
    #: an assistance fund's balance, and where its money came from
    assistance_fund = "assistance_fund"
    fund_source = "fund_source"
    #: approved payouts sent to the bank and not yet confirmed
    payouts_in_transit = "payouts_in_transit"
    #: money the bank confirmed paid out
    disbursed = "disbursed"
    #: money captured for an order that could not take it (paid after cancellation)
    suspense = "suspense"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[intpk]
    #: "household_income:42", "gateway_clearing:stripe": one account per kind and owner
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[AccountKind] = mapped_column(enum_type(AccountKind, 32))
    gateway: Mapped[str | None] = mapped_column(sa.String(16))
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assistance_funds.id"), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    created_at: Mapped[created_at]


class EntryKind(enum.StrEnum):
    #: a paid order line's money attributed to households, co-ops, producers and fees
    attribution = "attribution"
    #: the refunded share of a line's attribution, reversed
    refund_reversal = "refund_reversal"
    #: money paid for an order that had already been cancelled, held until refunded
    late_capture = "late_capture"
    late_capture_refund = "late_capture_refund"
    fund_contribution = "fund_contribution"
    fund_disbursement = "fund_disbursement"
    #: a co-op member's guaranteed minimum dividend topped up at year end (保底分红)
    minimum_dividend = "minimum_dividend"
    payout_approved = "payout_approved"
    payout_paid = "payout_paid"
    payout_returned = "payout_returned"


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    id: Mapped[intpk]
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind, 32))
    #: the business day the money moved (Asia/Shanghai); reports and period close cut on it
    effective_on: Mapped[date] = mapped_column(index=True)
    memo: Mapped[str | None] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]
    # What caused it: exactly what applies is set.
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refunds.id"), index=True)
    payout_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payout_lines.id"), index=True)
    fund_disbursement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("fund_disbursements.id"), index=True
    )
    fund_contribution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("fund_contributions.id"), index=True
    )
    #: the closed month this entry belonged to, when it was dated into the first open month
    #: instead (ledger/closing.py): reports show it there as an adjustment to that month
    adjusts_month: Mapped[date | None]

    postings: Mapped[list["Posting"]] = relationship(
        back_populates="entry", order_by="Posting.id", lazy="raise"
    )

    __table_args__ = (
        # Reports look up the few adjusting entries of a period: a partial index holds only them.
        sa.Index(
            "ix_journal_entries_adjusting",
            "adjusts_month",
            "effective_on",
            postgresql_where=sa.text("adjusts_month IS NOT NULL"),
            sqlite_where=sa.text("adjusts_month IS NOT NULL"),
        ),
    )


class Posting(Base):
    __tablename__ = "postings"

    id: Mapped[intpk]
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entries.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), index=True)
    #: signed: debit positive, credit negative
    amount_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    #: the order line this money came from (attribution and its reversals)
    order_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("order_lines.id"), index=True)
    refund_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund_lines.id"))
    #: the benefit-linking rule version that computed this share
    rule_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("benefit_rules.id"))
    #: the household whose income this is, for reports without a join through accounts
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    effective_on: Mapped[date]

    entry: Mapped[JournalEntry] = relationship(back_populates="postings", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        sa.Index("ix_postings_account_effective", "account_id", "effective_on"),
        # Reports cut the ledger by business day. Postings arrive in roughly that order, so a
        # BRIN index (a few pages, next to nothing to maintain) finds a month's block ranges.
        sa.Index("ix_postings_effective_on", "effective_on", postgresql_using="brin"),
        #: an entry's postings, and its newest posting for the database's balance check
        sa.Index("ix_postings_entry_id_id", "entry_id", "id"),
    )


class RuleKind(enum.StrEnum):
    #: a registered household selling its own produce: the line's net revenue is its income
    household_seller = "household_seller"
    #: a co-op keeps ``retained_bp`` and shares the rest among members by shares
    cooperative = "cooperative"
    #: an enterprise passes a percentage of net revenue, or a premium per unit, to listed
    #: households, equally or by weights
    enterprise = "enterprise"


class EnterpriseBasis(enum.StrEnum):
    percentage = "percentage"
    per_unit = "per_unit"


class Weighting(enum.StrEnum):
    equal = "equal"
    weights = "weights"


class RuleStatus(enum.StrEnum):
    draft = "draft"
    approved = "approved"


class BenefitRule(Base):
    """One version of a producer's benefit-linking mechanism (带贫益贫机制). The approved
    version whose dates contain the order's payment day is the one applied."""

    __tablename__ = "benefit_rules"

    id: Mapped[intpk]
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    version: Mapped[int]
    kind: Mapped[RuleKind] = mapped_column(enum_type(RuleKind, 32))
    status: Mapped[RuleStatus] = mapped_column(enum_type(RuleStatus, 32), default=RuleStatus.draft)
    effective_from: Mapped[date]
    #: the last day it applies; NULL while it is the latest
    effective_to: Mapped[date | None]
    #: co-operative: the share kept by the co-op, in basis points of net revenue
    retained_bp: Mapped[int | None]
    #: co-operative: the guaranteed yearly dividend per member (保底分红), topped up at year end
    minimum_dividend_fen: Mapped[Fen | None]
    enterprise_basis: Mapped[EnterpriseBasis | None] = mapped_column(enum_type(EnterpriseBasis, 32))
    #: enterprise, percentage basis: the share of net revenue passed to households
    enterprise_bp: Mapped[int | None]
    #: enterprise, per-unit basis: the premium per unit sold (e.g. 40 yuan a jin)
    premium_per_unit_fen: Mapped[Fen | None]
    weighting: Mapped[Weighting | None] = mapped_column(enum_type(Weighting, 32))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    #: the draft's edits so far (0 as created): what an edit must name. Not ``version``, which is
    #: the rule's version number and stays what it is through its draft's edits.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    #: the users who edited the draft after its author: none of them may approve it
    edited_by_ids: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]")
    created_at: Mapped[created_at]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    beneficiaries: Mapped[list["RuleBeneficiary"]] = relationship(
        back_populates="rule", order_by="RuleBeneficiary.household_id", lazy="raise"
    )

    __table_args__ = (
        sa.UniqueConstraint("producer_id", "version"),
        sa.CheckConstraint(
            "retained_bp IS NULL OR (retained_bp >= 0 AND retained_bp <= 10000)", name="retained_bp"
        ),
        sa.CheckConstraint(
            "enterprise_bp IS NULL OR (enterprise_bp >= 0 AND enterprise_bp <= 10000)",
            name="enterprise_bp",
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="effective_dates"
        ),
    )


class RuleBeneficiary(Base):
    """A household an enterprise rule passes money to, with its weight."""

    __tablename__ = "rule_beneficiaries"

    id: Mapped[intpk]
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("benefit_rules.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"))
    weight: Mapped[int] = mapped_column(default=1)

    rule: Mapped[BenefitRule] = relationship(back_populates="beneficiaries", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("rule_id", "household_id"),
        sa.CheckConstraint("weight > 0", name="weight_positive"),
    )


class StationFee(Base):
    """The service fee a station keeps from its lines' revenue, from a date on (default 0)."""

    __tablename__ = "station_fees"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    fee_bp: Mapped[int]
    effective_from: Mapped[date]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("station_id", "effective_from"),
        sa.CheckConstraint("fee_bp >= 0 AND fee_bp <= 10000", name="fee_bp"),
    )


class FundSource(enum.StrEnum):
    #: proceeds a campaign set aside (a livestream festival's takings)
    campaign = "campaign"
    #: an enterprise's pledge
    enterprise_pledge = "enterprise_pledge"
    other = "other"


class AssistanceFund(Base):
    """Money raised to be handed to households ("500 yuan each to 20 households")."""

    __tablename__ = "assistance_funds"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    source: Mapped[FundSource] = mapped_column(enum_type(FundSource, 32))
    #: the region whose officials oversee it, and whose households it may reach
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    #: its money is promised to named households (a livestream pledge): it takes no other
    #: contribution and gives only through the pledge's approved disbursement
    bound: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]


class FundContribution(Base):
    __tablename__ = "fund_contributions"

    id: Mapped[intpk]
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("assistance_funds.id"), index=True)
    amount_fen: Mapped[Fen]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    #: who gave it, and the receipt or transfer reference
    contributor: Mapped[str] = mapped_column(sa.String(100))
    reference: Mapped[str] = mapped_column(sa.String(100))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("fund_id", "reference"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class DisbursementMode(enum.StrEnum):
    #: the same amount to each household
    fixed = "fixed"
    #: a total split by weights (largest remainder, ties to the lower household id)
    weights = "weights"


class FundDisbursement(Base):
    __tablename__ = "fund_disbursements"

    id: Mapped[intpk]
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("assistance_funds.id"), index=True)
    mode: Mapped[DisbursementMode] = mapped_column(enum_type(DisbursementMode, 32))
    total_fen: Mapped[Fen]
    memo: Mapped[str] = mapped_column(sa.String(300))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at]

    lines: Mapped[list["FundDisbursementLine"]] = relationship(
        back_populates="disbursement", order_by="FundDisbursementLine.household_id", lazy="raise"
    )

    __table_args__ = (sa.CheckConstraint("total_fen > 0", name="total_positive"),)


class FundDisbursementLine(Base):
    __tablename__ = "fund_disbursement_lines"

    id: Mapped[intpk]
    disbursement_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_disbursements.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    weight: Mapped[int | None]
    amount_fen: Mapped[Fen]

    disbursement: Mapped[FundDisbursement] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("disbursement_id", "household_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class HouseholdIncomeMonth(Base):
    """A household's postings to its income account in a month, summed by what the reports
    tell apart: the entry's kind, the order line's producer (a sale's source is the producer's
    kind, read when the report is) and the disbursing fund (bound to a pledge or not). Written
    with the postings (``ledger/rollups.py``); reports read it instead of the postings, which
    grow a hundred times faster. The village is the household's, joined when read, so a
    household that moves takes its figures with it, as it did when reports read postings."""

    __tablename__ = "household_income_months"

    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), primary_key=True)
    #: the first day of the month of the postings' business day
    month: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind, 32), primary_key=True)
    #: 0 when no order line (not NULL: a key column, and NULLs never conflict)
    producer_id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(primary_key=True)
    amount_fen: Mapped[Fen]
    #: how many postings: a household was reached in a month it has any, whatever they sum to
    postings: Mapped[int]

    __table_args__ = (
        # A county's month reads every household's rows of that month: a range on the month.
        sa.Index(
            "ix_household_income_months_month",
            "month",
            "household_id",
            postgresql_include=["kind", "producer_id", "fund_id", "amount_fen", "postings"],
        ),
    )


class SalesMonth(Base):
    """A month's postings of the order lines attributed or refunded in it, to the accounts
    the channel report reads (what the buyer paid, through the gateway's clearing account, and
    what households got of it), summed by product, order, entry kind and account kind. Written
    with the postings (``ledger/sales_rollups.py``); the channel report reads it instead of the
    postings, which a co-op's sale writes a hundred of. The village (the product's origin), the
    channel and the livestream session (the order's) are joined when read, so a product whose
    origin changes takes its sales with it, as it did when the report read postings."""

    __tablename__ = "sales_months"

    # The product first: a region's report reads its products' months, each a range of the
    # key, where a month first would read the province's month to keep its region's rows.
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), primary_key=True)
    #: the first day of the month of the postings' business day
    month: Mapped[date] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind, 32), primary_key=True)
    account_kind: Mapped[AccountKind] = mapped_column(enum_type(AccountKind, 32), primary_key=True)
    amount_fen: Mapped[Fen]
    postings: Mapped[int]
