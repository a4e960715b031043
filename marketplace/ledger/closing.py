"""Closed months: once a region's month is closed, no entry touching one of its households is
dated into it. An entry that would be (a late refund, a platform refund in an import, a
correction) is dated into the first open month instead, and remembers the month it adjusts.

``write_entries`` calls ``date_entries`` for every batch. Closing a month takes
``CLOSE_LOCK`` exclusively and writers take it shared before they read the closed months, so
an entry is either written before the close (and in its snapshot) or sees the close: never
written into the month after its report was frozen. Writers do not wait for one another.
SQLite serializes writers anyway.
"""

from datetime import date

import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.households.models import Household
from marketplace.ledger.models import MonthClose, MonthCloseEvent
from marketplace.regions.service import lineage_ids, lineages

#: The advisory lock key closing and ledger writers share (PostgreSQL).
CLOSE_LOCK = 7_301_001


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def lock_for_writing(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(CLOSE_LOCK)))


def lock_for_closing(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(CLOSE_LOCK)))


def date_entries(session, entries) -> None:
    """Move the entries that would fall into a closed month of a region holding one of their
    households to the first open month, setting ``adjusts_month``."""
    touched = [entry for entry in entries if any(leg.household_id for leg in entry.legs)]
    if not touched:
        return
    lock_for_writing(session)
    earliest = min(month_start(entry.effective_on) for entry in touched)
    closed: dict[int, set[date]] = {}
    for region_id, month in session.execute(
        sa.select(MonthClose.region_id, MonthClose.month).where(
            MonthClose.closed.is_(True), MonthClose.month >= earliest
        )
    ):
        closed.setdefault(region_id, set()).add(month)
    if not closed:
        return
    household_ids = {
        leg.household_id for entry in touched for leg in entry.legs if leg.household_id
    }
    # A household is in every region its village is in.
    village_of = dict(
        session.execute(
            sa.select(Household.id, Household.village_id).where(Household.id.in_(household_ids))
        ).all()
    )
    lineage = lineages(session, village_of.values())
    regions_of = {household: lineage[village] for household, village in village_of.items()}
    for entry in touched:
        regions = {
            region_id
            for leg in entry.legs
            if leg.household_id
            for region_id in regions_of.get(leg.household_id, ())
        }

        def is_closed(month: date, regions=regions) -> bool:
            return any(month in closed.get(region_id, ()) for region_id in regions)

        month = month_start(entry.effective_on)
        if not is_closed(month):
            continue
        original = month
        while is_closed(month):
            month = next_month(month)
        entry.adjusts_month = original
        entry.effective_on = month


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
