"""What reports keep: what each closed month froze, and who downloaded what."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, created_at, intpk


class ReportSnapshot(Base):
    """A monthly report of one region (``kind``: the income report, or the channels report)
    as it stood when the month was closed, for the closed region and every region below it. A
    closed month's report is served from here and never changes; reopening the month drops
    the snapshots its close took."""

    __tablename__ = "report_snapshots"

    id: Mapped[intpk]
    close_id: Mapped[int] = mapped_column(sa.ForeignKey("month_closes.id"), index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    month: Mapped[date]
    kind: Mapped[str] = mapped_column(sa.String(16), server_default="income")
    report: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("close_id", "region_id", "kind"),
        sa.Index("ix_report_snapshots_region_month", "region_id", "month"),
    )


class FrozenHousehold(Base):
    """A household of the closed region as the close found it, with its figures for the
    month: the households file and the coverage list of a closed month are read from here,
    so a later registration, status change or move to another village leaves them as they
    were signed off. Deliberately no foreign key to the household: this is a record of what
    was."""

    __tablename__ = "frozen_households"

    id: Mapped[intpk]
    close_id: Mapped[int] = mapped_column(sa.ForeignKey("month_closes.id"))
    household_id: Mapped[int]
    #: where the household was at the close (the region a later file is cut by)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    status: Mapped[str | None] = mapped_column(sa.String(24))
    reached: Mapped[bool]
    #: the households file's row: names, status, members, figures
    row: Mapped[dict] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.UniqueConstraint("close_id", "household_id"),
        sa.Index("ix_frozen_households_close_village", "close_id", "village_id", "household_id"),
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
