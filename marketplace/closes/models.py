"""What a close is: a region's month signed off, and every close and reopening as an event."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, UTCDateTime, created_at, intpk


class MonthClose(Base):
    """A month an official (or an admin) closed for a region: the region's households' income
    in it can no longer change, and its reports and files are the ones frozen at the close.
    An entry that would fall into it is dated into the first open month (ledger/closing.py).
    Reopening takes an admin and a reason; both are events."""

    __tablename__ = "month_closes"

    id: Mapped[intpk]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: the month's first day
    month: Mapped[date]
    closed: Mapped[bool]
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reopened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopen_reason: Mapped[str | None] = mapped_column(sa.String(300))

    __table_args__ = (sa.UniqueConstraint("region_id", "month"),)


class MonthCloseEvent(Base):
    """Append-only: every close and reopening, who, when, why."""

    __tablename__ = "month_close_events"

    id: Mapped[intpk]
    close_id: Mapped[int] = mapped_column(sa.ForeignKey("month_closes.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[created_at]
