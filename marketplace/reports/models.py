"""What reports keep: the frozen report of each closed month."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, created_at, intpk


class ReportSnapshot(Base):
    """The income report of one region for a month, as it stood when the month was closed
    (for the closed region and every region below it). A closed month's report is served
    from here and never changes; reopening the month drops the snapshots its close took."""

    __tablename__ = "report_snapshots"

    id: Mapped[intpk]
    close_id: Mapped[int] = mapped_column(sa.ForeignKey("month_closes.id"), index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    month: Mapped[date]
    report: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("close_id", "region_id"),
        sa.Index("ix_report_snapshots_region_month", "region_id", "month"),
    )


class ExportDownload(Base):
    """Audit: who downloaded a report file that names households, what, when, from where."""

    __tablename__ = "report_downloads"

    id: Mapped[intpk]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    report: Mapped[str] = mapped_column(sa.String(40))
    parameters: Mapped[dict] = mapped_column(sa.JSON)
    file_format: Mapped[str] = mapped_column(sa.String(8))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    downloaded_at: Mapped[created_at]
