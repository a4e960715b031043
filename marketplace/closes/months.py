"""The rule of a closed month: once a region's month is closed, nothing dated in it changes for
the region or any region below it.

- The ledger dates an entry that would fall into a closed month into the first open month
  instead (``ledger.closing.date_entries``), remembering the month it adjusts.
- A registry write dated in a closed month is refused with a 409 naming the close
  (``refuse_if_closed``): a household's status change.
- A registry write whose date only says since when a fact held (a registration's initial
  status) is accepted; the closed months keep the reports frozen at their close, and the
  answer says from which month the write is reported (``first_open_month``).

Closing takes ``CLOSE_LOCK`` exclusively and writers take it shared before they read the
closed months, so a write is either made before the close (and in what it froze) or sees the
close. Writers do not wait for one another. SQLite serializes writers anyway.
"""

from datetime import date

import sqlalchemy as sa

from marketplace.closes.models import MonthClose, MonthCloseEvent
from marketplace.db import utcnow
from marketplace.errors import Conflict
from marketplace.periods import next_month
from marketplace.reasons import reason
from marketplace.regions.models import Region
from marketplace.regions.service import lineage_ids

#: The advisory lock key closing and dated writers share (PostgreSQL).
CLOSE_LOCK = 7_301_001

WRITE_IN_CLOSED_MONTH = reason(
    "month_close.write_refused",
    "{month} was closed for {region_name} on {closed_at}: a change dated in it would alter what "
    "was signed off. Date it in {first_open} or later, or ask an admin to reopen the month.",
)
IN_CLOSED_MONTH = reason("month_close.in_closed_month", "in {month}, which is closed")


def month_start(day: date) -> date:
    return day.replace(day=1)


def lock_for_writing(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(CLOSE_LOCK)))


def lock_for_closing(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(CLOSE_LOCK)))


def closed_months(session, region_id: int) -> set[date]:
    """The months closed for the region or any region above it."""
    ancestors = lineage_ids(session, region_id)
    return set(
        session.execute(
            sa.select(MonthClose.month).where(
                MonthClose.closed.is_(True), MonthClose.region_id.in_(ancestors)
            )
        ).scalars()
    )


def standing_close(session, region_id: int, month: date) -> MonthClose | None:
    """The close that covers the region's month (of the region or one above it), the earliest
    if several do: what its reports and files were frozen by."""
    return session.execute(
        sa.select(MonthClose)
        .where(
            MonthClose.closed.is_(True),
            MonthClose.month == month_start(month),
            MonthClose.region_id.in_(lineage_ids(session, region_id)),
        )
        .order_by(MonthClose.closed_at, MonthClose.id)
        .limit(1)
    ).scalar_one_or_none()


def first_open_month(session, region_id: int, day: date) -> date:
    """The month of ``day`` if it is open for the region, else the first open one after it
    (read under the writers' lock: a close made meanwhile has frozen this write or is seen)."""
    lock_for_writing(session)
    closed = closed_months(session, region_id)
    month = month_start(day)
    while month in closed:
        month = next_month(month)
    return month


def refuse_if_closed(session, region_id: int, day: date, *, field: str) -> None:
    """Refuse (409, naming the close) a write dated ``day`` in a month closed for the region;
    ``field`` is the request field that carries the date."""
    lock_for_writing(session)
    close = standing_close(session, region_id, day)
    if close is None:
        return
    closed_region = session.get(Region, close.region_id)
    month = f"{close.month:%Y-%m}"
    first_open = f"{first_open_month(session, region_id, day):%Y-%m}"
    raise Conflict(
        WRITE_IN_CLOSED_MONTH(
            month=month,
            region_name=closed_region.name,
            closed_at=close.closed_at.isoformat(timespec="seconds"),
            first_open=first_open,
        ),
        errors={field: [IN_CLOSED_MONTH(month=month)]},
        close={
            "id": close.id,
            "region_id": close.region_id,
            "month": month,
            "closed_at": close.closed_at.isoformat(),
            "first_open_month": first_open,
        },
    )


def record_close(session, region_id: int, month: date, *, actor_id) -> MonthClose:
    """Mark the region's month closed (again, if it was reopened), as an event. The caller
    holds ``lock_for_closing`` and has checked that it was open."""
    close = session.execute(
        sa.select(MonthClose).where(MonthClose.region_id == region_id, MonthClose.month == month)
    ).scalar_one_or_none()
    if close is None:
        close = MonthClose(region_id=region_id, month=month)
        session.add(close)
    close.closed, close.closed_by_id, close.closed_at = True, actor_id, utcnow()
    session.flush()
    session.add(MonthCloseEvent(close_id=close.id, action="closed", actor_id=actor_id))
    return close


def record_reopening(session, close: MonthClose, *, actor_id, reason: str) -> None:
    """Mark a closed month open again, as an event. The caller holds ``lock_for_closing``."""
    close.closed = False
    close.reopened_by_id, close.reopened_at, close.reopen_reason = actor_id, utcnow(), reason
    session.add(
        MonthCloseEvent(close_id=close.id, action="reopened", actor_id=actor_id, reason=reason)
    )
