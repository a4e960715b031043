import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Fen, UTCDateTime, created_at, enum_type, intpk


class RunStatus(enum.StrEnum):
    #: amounts proposed, waiting for an official's approval
    proposed = "proposed"
    #: approved: amounts moved to in transit, the batch file may be downloaded
    approved = "approved"
    #: every line is paid or failed (after the bank's return file)
    settled = "settled"
    cancelled = "cancelled"


class PayoutRun(Base):
    """One payout batch for a region and period (a 一卡通 disbursement file).

    Maker-checker: the user who proposed it cannot approve it.
    """

    __tablename__ = "payout_runs"

    id: Mapped[intpk]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: income accrued up to and including this day is proposed
    period_end: Mapped[date]
    #: 项目资金名称 printed on every line of the bank file
    project_name: Mapped[str] = mapped_column(sa.String(100))
    #: 流水号: one batch id per file, matched again in the bank's return
    batch_serial: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus))
    total_fen: Mapped[Fen]
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[created_at]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    lines: Mapped[list["PayoutLine"]] = relationship(
        back_populates="run", order_by="PayoutLine.id", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}


class PayeeKind(enum.StrEnum):
    household = "household"
    #: a co-operative's retained earnings or an enterprise's payable
    producer = "producer"


class LineStatus(enum.StrEnum):
    proposed = "proposed"
    in_transit = "in_transit"
    paid = "paid"
    #: the bank returned it; the amount is owed to the payee again
    failed = "failed"


class PayoutLine(Base):
    """One payee's amount in a run, with the card details as they were when it was approved
    (encrypted; the file shows them in full, responses masked)."""

    __tablename__ = "payout_lines"

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("payout_runs.id"), index=True)
    payee_kind: Mapped[PayeeKind] = mapped_column(enum_type(PayeeKind))
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producers.id"), index=True)
    #: the ledger account paid from (household income, co-op retained, producer payable)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[Fen]
    status: Mapped[LineStatus] = mapped_column(enum_type(LineStatus))
    payee_name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    bank_name: Mapped[str | None] = mapped_column(sa.String(100))
    card_encrypted: Mapped[str | None] = mapped_column(sa.String(255))
    card_masked: Mapped[str | None] = mapped_column(sa.String(19))
    holder_name: Mapped[str | None] = mapped_column(sa.String(50))
    holder_id_encrypted: Mapped[str | None] = mapped_column(sa.String(255))
    holder_id_masked: Mapped[str | None] = mapped_column(sa.String(18))
    #: a producer's 统一社会信用代码: with the account number and the batch serial, what the
    #: bank's return for organisations' accounts is matched on
    credit_code: Mapped[str | None] = mapped_column(sa.String(18))
    #: 失败原因 from the bank's return file
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    run: Mapped[PayoutRun] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("run_id", "account_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("(payee_kind = 'household') = (household_id IS NOT NULL)", name="payee"),
    )


class FileDownload(Base):
    """Audit: who downloaded which payout file (they hold full ID and card numbers), when."""

    __tablename__ = "payout_file_downloads"

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("payout_runs.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    file_format: Mapped[str] = mapped_column(sa.String(16))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    downloaded_at: Mapped[created_at]


class ReturnImport(Base):
    """A bank return file applied to a run; the same file (by hash) is applied once."""

    __tablename__ = "payout_return_imports"

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("payout_runs.id"), index=True)
    file_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    succeeded: Mapped[int]
    failed: Mapped[int]
    imported_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    imported_at: Mapped[created_at]
