"""Closed months in the ledger: once a region's month is closed, no entry touching one of its
households is dated into it. An entry that would be (a late refund, a platform refund in an
import, a correction) is dated into the first open month instead, and remembers the month it
adjusts. ``write_entries`` calls ``date_entries`` for every batch; the rule itself, and the lock
that keeps a close and a writer from crossing, are ``closes.months``.
"""

from datetime import date

import sqlalchemy as sa

from marketplace.closes.models import MonthClose
from marketplace.closes.months import lock_for_writing, month_start
from marketplace.households.models import Household
from marketplace.periods import next_month
from marketplace.regions.service import lineages


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
