"""The households behind an income report, by name: every household of a region with its
figures for a period (the file of a county's hundred thousand, streamed), and the coverage
list of those the marketplace reached in it, or did not."""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.households.models import Household
from marketplace.periods import Period
from marketplace.regions.models import Region
from marketplace.regions.service import villages_by_child
from marketplace.reports.figures import add_money, count_households, empty_figures, finish, flat
from marketplace.reports.frozen import frozen_households, registry_freezing
from marketplace.reports.income_figures import (
    EARNING,
    StatusAtEnd,
    money_by,
    period_income,
    reached_in,
)
from marketplace.reports.models import FrozenHousehold
from marketplace.reports.scoping import reported_region


def household_rows(session, region: Region, period: Period):
    """Every household of the region with its figures for the period, in household id order,
    streamed (an export's drill-down): a closed month's as its close froze them."""
    frozen = registry_freezing(session, region.id, period)
    if frozen is None:
        return live_household_rows(session, region, period)
    villages = list(villages_by_child(session, region))
    stmt = frozen_households(frozen, villages).execution_options(yield_per=2000)
    return (found.row for found in session.execute(stmt))


def live_household_rows(session, region: Region, period: Period):
    """``household_rows`` computed now: the households and their income are read by two
    cursors advancing together, so a county's hundred thousand take flat memory."""
    village_of = villages_by_child(session, region)
    villages = list(village_of)
    village_names = dict(
        session.execute(sa.select(Region.id, Region.name).where(Region.id.in_(villages))).all()
    )
    income = period_income(period, villages)
    money = money_by(income, income.c.household_id).order_by(income.c.household_id)
    status_at = StatusAtEnd(period)
    households = (
        status_at.joined(
            sa.select(
                Household.id,
                Household.registry_number,
                Household.head_name,
                Household.village_id,
                Household.members_count,
                status_at.column.label("status"),
            )
        )
        .where(Household.village_id.in_(villages))
        .order_by(Household.id)
    )
    incomes = iter(session.execute(money.execution_options(yield_per=2000)))
    pending = next(incomes, None)
    for household in session.execute(households.execution_options(yield_per=2000)):
        figures, earned = empty_figures(), False
        while pending is not None and pending[0] == household.id:
            _, kind, source_name, amount = pending
            add_money(figures, kind, source_name, int(amount))
            earned = earned or kind in EARNING
            pending = next(incomes, None)
        count_households(figures, household.status, earned, household.members_count, 1)
        yield {
            "household_id": household.id,
            "registry_number": household.registry_number,
            "name": household.head_name,
            "village_id": household.village_id,
            "village": village_names[household.village_id],
            "status": household.status,
            "members": household.members_count,
            "reached": earned,
            **flat(finish(figures)),
        }


def coverage(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    """The region's registered households the marketplace reached in the period, or (``reached``
    false) those it did not, with their status at the period's end: the coverage drill-down."""
    region = reported_region(session, actor, filters["region_id"])
    period = filters["period"]
    villages = list(villages_by_child(session, region))
    frozen = registry_freezing(session, region.id, period)
    if frozen is not None:
        return _frozen_coverage(session, frozen, villages, filters, page, page_size)
    reached = reached_in(period_income(period, villages))
    status_at = StatusAtEnd(period)
    is_reached = reached.c.household_id.is_not(None)
    stmt = status_at.joined(
        sa.select(
            Household.id.label("household_id"),
            Household.head_name.label("name"),
            Household.village_id,
            Region.name.label("village"),
            Household.members_count.label("members"),
            status_at.column.label("status"),
            is_reached.label("reached"),
        )
        .join(Region, Region.id == Household.village_id)
        .outerjoin(reached, reached.c.household_id == Household.id)
    ).where(Household.village_id.in_(villages))
    if filters.get("reached") is not None:
        stmt = stmt.where(is_reached if filters["reached"] else sa.not_(is_reached))
    if filters.get("status") is not None:
        stmt = stmt.where(status_at.column == filters["status"])
    listed = stmt.subquery("coverage")
    total = session.execute(sa.select(sa.func.count()).select_from(listed)).scalar_one()
    rows = session.execute(
        sa.select(listed)
        .order_by(listed.c.household_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return [dict(row._mapping) for row in rows], total


def _frozen_coverage(session, frozen, villages, filters: dict, page: int, page_size: int):
    """The coverage list of a closed month, from the households its close froze."""
    listed = frozen_households(frozen, villages)
    if filters.get("reached") is not None:
        listed = listed.where(FrozenHousehold.reached.is_(filters["reached"]))
    if filters.get("status") is not None:
        listed = listed.where(FrozenHousehold.status == filters["status"])
    total = session.execute(
        sa.select(sa.func.count()).select_from(listed.order_by(None).subquery())
    ).scalar_one()
    found = session.execute(listed.limit(page_size).offset((page - 1) * page_size)).all()
    return [
        {
            "household_id": each.household_id,
            "name": each.row["name"],
            "village_id": each.village_id,
            "village": each.row["village"],
            "members": each.row["members"],
            "status": each.status,
            "reached": each.reached,
        }
        for each in found
    ], total
