"""The attributed income report: for a region and a period, what the registered households got
from the marketplace, by source, one row per child region (per household at village level).

Everything is read from the ledger's postings to household income accounts, cut on their
business day (``effective_on``), so the figures are the ledger's to the fen. The postings are
read summed by household and month, from the rollup the ledger keeps with them
(``ledger/rollups.py``), so a report costs what the region's households hold, not what the
ledger has grown to:

- **gross**: income attributed (sales by rule, co-op dividends, benefit-linking, assistance
  funds, disbursed livestream pledges, guaranteed minimum dividends);
- **refunds**: the reversals of refunded sales' attribution;
- **net** = gross − refunds: what was accrued in the period;
- **paid out**: what payout runs moved to the bank, less what the bank returned.

By source: ``own_sales`` (a household selling its own produce), ``coop_dividends`` (a
co-operative's members by shares, and their guaranteed minimum), ``enterprise_linking`` (an
enterprise's benefit-linking contract), ``assistance_funds``, ``livestream_pledges`` (a fund
bound to a pledge). Coverage: the region's registered households by their status at the
period's end (in poverty, lifted, under monitoring), how many the marketplace reached (any
income in the period) and their members, for per-capita figures.

This module is the reference: a constant number of statements, whatever the region's size,
grouped by village in SQL and folded into child regions here. What the figures are read from
and how they add up is ``income_figures``; the households behind them, by name, are
``income_households``.
"""

import functools
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.households.models import Household
from marketplace.ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting
from marketplace.periods import Period, next_month
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import subtree_ids, villages_by_child
from marketplace.reports.figures import (
    add_money,
    count_households,
    empty_figures,
    finish,
)
from marketplace.reports.frozen import INCOME, frozen_net_by_month, frozen_report
from marketplace.reports.income_figures import (
    EARNING,
    BoundPeriod,
    StatusAtEnd,
    money_by,
    month_counts,
    period_income,
    reached_in,
    village_period_income,
)
from marketplace.reports.scoping import reported_region


def income_report(session, actor: Actor, region_id: int, period: Period) -> dict:
    """The report as the actor may read it: a closed month's from its snapshot, else live."""
    region = reported_region(session, actor, region_id)
    frozen = frozen_report(session, region.id, period, INCOME)
    if frozen is not None:
        return frozen
    return {**build_report(session, region, period), "close": None}


def build_report(session, region: Region, period: Period, *, village_sums: bool = True) -> dict:
    """The report computed from the ledger now (no scope check: the caller made it). Above a
    village, its money is read from the village rollup and a month's households counted from
    the village reach rollup (``village_sums``); without them, from every household's rows:
    the reference they are held equal to."""
    village_of = villages_by_child(session, region)
    by_household = region.level is RegionLevel.village
    by_village = village_sums and not by_household
    # Read from the village rollups, the region's villages are a subquery: a province's
    # thousands of village ids each a parameter cost more to send than the rows they select.
    village_ids = list(village_of)
    villages = subtree_ids(region.id) if by_village else village_ids
    totals = empty_figures()
    if by_household:
        result_rows = _rows_by_household(session, period, villages, totals)
    else:
        income = (village_period_income if by_village else period_income)(period, villages)
        money = _money(session, income, income.c.village_id)
        counted = (
            # The households counted by the villages' ids: named through a subquery, the
            # planner sometimes scanned the whole registry for them.
            _month_counted(session, period, village_ids)
            if by_village and len(period.months) == 1
            else _counted(
                session,
                _households(period, village_ids),
                period_income(period, village_ids),
            )
        )
        result_rows = _rows_by_child(session, region, village_of, counted, money, totals)
    if by_village:
        adjustments = session.execute(_adjustments(period, villages)).all()
    else:
        adjustments = session.execute(
            _listed_villages_adjustments(), {**BoundPeriod.parameters(period), "villages": villages}
        ).all()
    return {
        "region": {"id": region.id, "name": region.name, "level": region.level},
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "currency": "CNY",
        "totals": finish(totals),
        "rows": result_rows,
        # Entries of closed months dated into this period instead: part of its figures above,
        # and shown here against the month each adjusts.
        "adjustments": [
            {"month": month.strftime("%Y-%m"), "net_fen": -int(amount)}
            for month, amount in adjustments
        ],
    }


def _money(session, income, group) -> list:
    """The period's income summed by ``group`` (a household, or a village), entry kind and
    source."""
    return session.execute(money_by(income, group)).all()


def _households(period: Period | BoundPeriod, villages):
    """The households of ``villages`` with their status at the period's end."""
    status_at = StatusAtEnd(period)
    return status_at.joined(
        sa.select(
            Household.id,
            Household.village_id,
            Household.head_name,
            Household.members_count,
            # Its plain value, as ``money_by``'s kind: the figures and the body take it so.
            sa.type_coerce(status_at.column, sa.String).label("status"),
        )
    ).where(Household.village_id.in_(villages))


@functools.cache
def _village_statement(one_month: bool) -> sa.Select:
    """A village's households, each with its money summed by kind and source, in id order:
    built once for each shape of period, its period and villages named parameters
    (``BoundPeriod``, ``villages``)."""
    period = BoundPeriod(one_month)
    villages = sa.bindparam("villages", expanding=True)
    income = period_income(period, villages)
    listed = _households(period, villages).subquery("listed")
    summed = money_by(income, income.c.household_id).subquery("money")
    _, kind_of, source_of, amount_of = summed.c
    return (
        sa.select(listed, kind_of, source_of, amount_of)
        .outerjoin(summed, summed.c[0] == listed.c.id)
        .order_by(listed.c.id)
    )


def _rows_by_household(session, period: Period, villages: list[int], totals: list) -> list:
    """A village's report: a row per household, in id order, read with its money in one
    statement, each household's figures added into ``totals`` too."""
    statement = _village_statement(len(period.months) == 1)
    parameters = {**BoundPeriod.parameters(period), "villages": villages}
    households, reached = [], set()
    # On the connection and fetched at once: the session's handling of a result (for ORM
    # entities; these are plain values) and fetching row by row each cost a tenth of it.
    fetched = session.connection().execute(statement, parameters).all()
    for household_id, _, name, members, status, kind, source, amount in fetched:
        if not households or households[-1][0] != household_id:
            households.append((household_id, name, status, members, empty_figures()))
        if kind is not None:
            add_money(households[-1][4], kind, source, amount)
            add_money(totals, kind, source, amount)
            if kind in EARNING:  # the money says who was reached: no second read of it
                reached.add(household_id)
    rows = []
    for household_id, name, status, members, figures in households:
        was_reached = household_id in reached
        count_households(figures, status, was_reached, members, 1)
        count_households(totals, status, was_reached, members, 1)
        row = finish(figures)
        row.update(household_id=household_id, name=name, status=status, members=members)
        rows.append(row)
    return rows


def _rows_by_child(session, region: Region, village_of, counted, money, totals: list) -> list:
    """A report above a village: a row per child region, its villages' figures folded into
    it, and into ``totals``. ``counted``: the households by village, status at the end and
    reached, with their members."""
    rows: dict[int, list] = defaultdict(empty_figures)
    for village_id, status, was_reached, count, members in counted:
        count_households(rows[village_of[village_id]], status, was_reached, members, count)
        count_households(totals, status, was_reached, members, count)
    for village_id, kind, source, amount in money:
        add_money(rows[village_of[village_id]], kind, source, int(amount))
        add_money(totals, kind, source, int(amount))
    children = {
        row.id: row
        for row in session.execute(
            sa.select(Region.id, Region.name, Region.level).where(Region.parent_id == region.id)
        )
    }
    return [
        {
            "region_id": child_id,
            "name": child.name,
            "level": child.level,
            **finish(rows[child_id]),
        }
        for child_id, child in sorted(children.items())
    ]


def _adjustments(period: Period | BoundPeriod, villages):
    """The period's entries that closed months moved into it, by the month each adjusts.
    Few, so read from their entries first (``ix_journal_entries_adjusting``, a partial index)
    rather than from all of the period's postings."""
    income_accounts = sa.select(LedgerAccount.id).where(
        LedgerAccount.kind == AccountKind.household_income
    )
    return (
        sa.select(JournalEntry.adjusts_month, sa.func.sum(Posting.amount_fen))
        .select_from(JournalEntry)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Household, Household.id == Posting.household_id)
        .where(
            JournalEntry.adjusts_month.is_not(None),
            JournalEntry.effective_on.between(period.start, period.end),
            JournalEntry.kind.in_(EARNING),
            Posting.effective_on.between(period.start, period.end),
            Posting.account_id.in_(income_accounts),
            Household.village_id.in_(villages),
        )
        .group_by(JournalEntry.adjusts_month)
        .order_by(JournalEntry.adjusts_month)
    )


@functools.cache
def _listed_villages_adjustments() -> sa.Select:
    """``_adjustments`` of villages named in a list, built once, its period and villages named
    parameters (a village's report, whose statements are its time)."""
    return _adjustments(BoundPeriod(one_month=False), sa.bindparam("villages", expanding=True))


def _month_counted(session, period: Period, villages) -> list[tuple]:
    """``_counted`` of a one-month period, from the village reach rollup."""
    counted = []
    for village_id, status, registered, reached, members in session.execute(
        month_counts(period, villages)
    ):
        counted.append((village_id, status, False, int(registered) - int(reached), 0))
        counted.append((village_id, status, True, int(reached), int(members)))
    return counted


def _counted(session, households, income) -> list[tuple]:
    """The households by village, status at the period's end and whether ``income`` reached
    them, with their count and members: every household read."""
    reached = reached_in(income)
    listed = (
        households.add_columns(reached.c.household_id.is_not(None).label("reached"))
        .outerjoin(reached, reached.c.household_id == Household.id)
        .subquery("listed_households")
    )
    return session.execute(
        sa.select(
            listed.c.village_id,
            listed.c.status,
            listed.c.reached,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(listed.c.members_count), 0),
        ).group_by(listed.c.village_id, listed.c.status, listed.c.reached)
    ).all()


def monthly_net(
    session, actor: Actor, region_id: int, months: list[date]
) -> list[tuple[date, int]]:
    """Each month's net attributed income of the region (``months``: first days, in order):
    the trend beside a report. One statement over the rollup's months; a closed month's figure
    is the one its close froze, as its report is."""
    region = reported_region(session, actor, region_id)
    span = Period(
        label=f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}",
        kind="span",
        start=months[0],
        end=next_month(months[-1]) - timedelta(days=1),
    )
    income = village_period_income(span, list(villages_by_child(session, region)))
    by_month = dict.fromkeys(months, 0)
    for month, amount in session.execute(
        sa.select(income.c.month, sa.func.sum(income.c.amount_fen))
        .where(income.c.kind.in_(EARNING))
        .group_by(income.c.month)
    ):
        by_month[month] -= int(amount)  # income is a credit
    by_month.update(frozen_net_by_month(session, region.id, months))
    return list(by_month.items())
