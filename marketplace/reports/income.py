"""The attributed income report: for a region and a period, what the registered households got
from the marketplace, by source, one row per child region (per household at village level).

Everything is read from the ledger's postings to household income accounts, cut on their
business day (``effective_on``), so the figures are the ledger's to the fen:

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
grouped by village in SQL and folded into child regions here.
"""

import enum
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.households.models import Household, HouseholdStatus, HouseholdStatusChange
from marketplace.ledger.models import (
    AccountKind,
    AssistanceFund,
    EntryKind,
    FundDisbursement,
    JournalEntry,
    LedgerAccount,
    MonthClose,
    Posting,
)
from marketplace.orders.models import OrderLine
from marketplace.periods import Period, next_month
from marketplace.producers.models import Producer, ProducerKind
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import villages_by_child
from marketplace.reports.models import ReportSnapshot
from marketplace.reports.scoping import reported_region


class Source(enum.StrEnum):
    own_sales = "own_sales"
    coop_dividends = "coop_dividends"
    enterprise_linking = "enterprise_linking"
    assistance_funds = "assistance_funds"
    livestream_pledges = "livestream_pledges"


#: Entries that make income; payouts move it towards the bank (or back, when returned).
EARNING = (
    EntryKind.attribution,
    EntryKind.refund_reversal,
    EntryKind.fund_disbursement,
    EntryKind.minimum_dividend,
)
PAYOUT = (EntryKind.payout_approved, EntryKind.payout_returned)
STATUSES = tuple(HouseholdStatus)


def _source():
    bound = sa.func.coalesce(AssistanceFund.bound, sa.false())
    return sa.case(
        (
            JournalEntry.kind == EntryKind.fund_disbursement,
            sa.case(
                (bound, sa.literal(Source.livestream_pledges.value)),
                else_=sa.literal(Source.assistance_funds.value),
            ),
        ),
        (JournalEntry.kind == EntryKind.minimum_dividend, Source.coop_dividends.value),
        (Producer.kind == ProducerKind.household, Source.own_sales.value),
        (Producer.kind == ProducerKind.cooperative, Source.coop_dividends.value),
        else_=sa.literal(Source.enterprise_linking.value),
    )


def _household_postings(period: Period, villages):
    """Postings to household income accounts in the period, of households of ``villages``."""
    income_accounts = sa.select(LedgerAccount.id).where(
        LedgerAccount.kind == AccountKind.household_income
    )
    return (
        sa.select(Posting)
        .join(Household, Household.id == Posting.household_id)
        .where(
            Posting.effective_on.between(period.start, period.end),
            Posting.account_id.in_(income_accounts),
            Household.village_id.in_(villages),
        )
        .subquery("period_postings")
    )


def _empty() -> dict:
    return {
        "by_source": {
            source.value: {"gross_fen": 0, "refunds_fen": 0, "net_fen": 0} for source in Source
        },
        "gross_fen": 0,
        "refunds_fen": 0,
        "net_fen": 0,
        "paid_out_fen": 0,
        "households_registered": 0,
        "households_reached": 0,
        "members_reached": 0,
        "per_capita_fen": 0,
        "coverage": {status.value: {"registered": 0, "reached": 0} for status in STATUSES},
    }


def _add_money(figures: dict, kind: EntryKind, source: str, amount: int) -> None:
    if kind in PAYOUT:
        figures["paid_out_fen"] += amount  # a debit of the income account: it left it
        return
    part = figures["by_source"][source]
    if kind is EntryKind.refund_reversal:
        part["refunds_fen"] += amount
        figures["refunds_fen"] += amount
    else:
        part["gross_fen"] -= amount
        figures["gross_fen"] -= amount


def _finish(figures: dict) -> dict:
    for part in figures["by_source"].values():
        part["net_fen"] = part["gross_fen"] - part["refunds_fen"]
    figures["net_fen"] = figures["gross_fen"] - figures["refunds_fen"]
    members = figures["members_reached"]
    figures["per_capita_fen"] = figures["net_fen"] // members if members else 0
    return figures


def _merge(into: dict, other: dict) -> None:
    for source, part in other["by_source"].items():
        for name in ("gross_fen", "refunds_fen"):
            into["by_source"][source][name] += part[name]
    for name in (
        "gross_fen",
        "refunds_fen",
        "paid_out_fen",
        "households_registered",
        "households_reached",
        "members_reached",
    ):
        into[name] += other[name]
    for status, counts in other["coverage"].items():
        for name in ("registered", "reached"):
            into["coverage"][status][name] += counts[name]


def _status_at(period: Period, villages):
    """Each household's status on the period's last day (its latest change by then), for the
    households of ``villages`` only (ranking the whole registry's history cost a village's
    report most of its time)."""
    ranked = sa.select(
        HouseholdStatusChange.household_id,
        HouseholdStatusChange.status,
        sa.func.row_number()
        .over(
            partition_by=HouseholdStatusChange.household_id,
            order_by=(HouseholdStatusChange.effective_from.desc(), HouseholdStatusChange.id.desc()),
        )
        .label("rank"),
    ).where(
        HouseholdStatusChange.effective_from <= period.end,
        HouseholdStatusChange.household_id.in_(
            sa.select(Household.id).where(Household.village_id.in_(villages))
        ),
    )
    ranked = ranked.subquery("ranked_status")
    return (
        sa.select(ranked.c.household_id, ranked.c.status)
        .where(ranked.c.rank == 1)
        .subquery("status_at")
    )


def income_report(session, actor: Actor, region_id: int, period: Period) -> dict:
    """The report as the actor may read it: a closed month's from its snapshot, else live."""
    region = reported_region(session, actor, region_id)
    if period.kind == "month":
        frozen = frozen_report(session, region.id, period)
        if frozen is not None:
            return frozen
    return {**build_report(session, region, period), "closed": None}


def frozen_report(session, region_id: int, period: Period) -> dict | None:
    """The snapshot a close of the month (of the region or one above it) took, if any."""
    found = session.execute(
        sa.select(
            ReportSnapshot.report,
            MonthClose.closed_at,
            MonthClose.closed_by_id,
            MonthClose.region_id,
        )
        .join(MonthClose, MonthClose.id == ReportSnapshot.close_id)
        .where(
            ReportSnapshot.region_id == region_id,
            ReportSnapshot.month == period.start,
            MonthClose.closed.is_(True),
        )
        .order_by(MonthClose.closed_at)
        .limit(1)
    ).one_or_none()
    if found is None:
        return None
    report, closed_at, closed_by_id, closed_region_id = found
    # Stored as the API gave it: its days are text again.
    period_out = {
        **report["period"],
        "start": date.fromisoformat(report["period"]["start"]),
        "end": date.fromisoformat(report["period"]["end"]),
    }
    return {
        **report,
        "period": period_out,
        "closed": {
            "closed_at": closed_at,
            "closed_by_id": closed_by_id,
            "region_id": closed_region_id,
        },
    }


def build_report(session, region: Region, period: Period) -> dict:
    """The report computed from the ledger now (no scope check: the caller made it)."""
    village_of = villages_by_child(session, region)
    by_household = region.level is RegionLevel.village
    postings = _household_postings(period, list(village_of))
    group = postings.c.household_id if by_household else Household.village_id
    # Grouped by the expression itself: a label "source" would name assistance_funds.source.
    source = _source()
    money = session.execute(
        sa.select(group, JournalEntry.kind, source, sa.func.sum(postings.c.amount_fen))
        .select_from(postings)
        .join(JournalEntry, JournalEntry.id == postings.c.entry_id)
        .join(Household, Household.id == postings.c.household_id)
        .outerjoin(OrderLine, OrderLine.id == postings.c.order_line_id)
        .outerjoin(Producer, Producer.id == OrderLine.producer_id)
        .outerjoin(FundDisbursement, FundDisbursement.id == JournalEntry.fund_disbursement_id)
        .outerjoin(AssistanceFund, AssistanceFund.id == FundDisbursement.fund_id)
        .where(JournalEntry.kind.in_(EARNING + PAYOUT))
        .group_by(group, JournalEntry.kind, source)
    ).all()
    status_at = _status_at(period, list(village_of))
    households = sa.select(
        Household.id,
        Household.village_id,
        Household.head_name,
        Household.members_count,
        status_at.c.status,
    ).outerjoin(status_at, status_at.c.household_id == Household.id)
    households = households.where(Household.village_id.in_(list(village_of)))

    rows: dict[int, dict] = defaultdict(_empty)
    if by_household:
        # Grouped by household, the money says who was reached: no second pass over postings.
        reached = {household_id for household_id, kind, _, _ in money if kind in EARNING}
        listed = session.execute(households.order_by(Household.id)).all()
        for row in listed:
            figures = rows[row.id]
            _count(figures, row.status, row.id in reached, row.members_count, 1)
        for household_id, kind, source, amount in money:
            _add_money(rows[household_id], kind, source, int(amount))
        names = {row.id: (row.head_name, row.status, row.members_count) for row in listed}
        result_rows = [
            {
                "household_id": household_id,
                "name": names[household_id][0],
                "status": names[household_id][1],
                "members": names[household_id][2],
                **_finish(figures),
            }
            for household_id, figures in sorted(rows.items())
        ]
    else:
        reached = (
            sa.select(postings.c.household_id)
            .join(JournalEntry, JournalEntry.id == postings.c.entry_id)
            .where(JournalEntry.kind.in_(EARNING))
            .distinct()
            .subquery("reached")
        )
        is_reached = Household.id.in_(sa.select(reached.c.household_id))
        counted = _counted(session, households.add_columns(is_reached.label("reached")))
        for village_id, status, was_reached, count, members in counted:
            _count(rows[village_of[village_id]], status, was_reached, members, count)
        for village_id, kind, source, amount in money:
            _add_money(rows[village_of[village_id]], kind, source, int(amount))
        children = {
            row.id: row
            for row in session.execute(
                sa.select(Region.id, Region.name, Region.level).where(Region.parent_id == region.id)
            )
        }
        result_rows = [
            {
                "region_id": child_id,
                "name": child.name,
                "level": child.level,
                **_finish(rows[child_id]),
            }
            for child_id, child in sorted(children.items())
        ]
    totals = _empty()
    for figures in rows.values():
        _merge(totals, figures)
    adjustments = session.execute(_adjustments(period, list(village_of))).all()
    return {
        "region": {"id": region.id, "name": region.name, "level": region.level},
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "currency": "CNY",
        "totals": _finish(totals),
        "rows": result_rows,
        # Entries of closed months dated into this period instead: part of its figures above,
        # and shown here against the month each adjusts.
        "adjustments": [
            {"month": month.strftime("%Y-%m"), "net_fen": -int(amount)}
            for month, amount in adjustments
        ],
    }


def _adjustments(period: Period, villages):
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


def _counted(session, households):
    listed = households.subquery("listed_households")
    return session.execute(
        sa.select(
            listed.c.village_id,
            listed.c.status,
            listed.c.reached,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(listed.c.members_count), 0),
        ).group_by(listed.c.village_id, listed.c.status, listed.c.reached)
    ).all()


def _count(figures: dict, status, reached: bool, members: int, count: int) -> None:
    figures["households_registered"] += count
    if status is not None:
        figures["coverage"][HouseholdStatus(status).value]["registered"] += count
    if reached:
        figures["households_reached"] += count
        figures["members_reached"] += int(members)
        if status is not None:
            figures["coverage"][HouseholdStatus(status).value]["reached"] += count


def household_rows(session, region: Region, period: Period):
    """Every household of the region with its figures for the period, in household id order,
    streamed: the households and their income are read by two cursors advancing together, so
    a county's hundred thousand households take flat memory (an export's drill-down)."""
    village_of = villages_by_child(session, region)
    villages = list(village_of)
    village_names = dict(
        session.execute(sa.select(Region.id, Region.name).where(Region.id.in_(villages))).all()
    )
    postings = _household_postings(period, villages)
    source = _source()
    money = (
        sa.select(
            postings.c.household_id, JournalEntry.kind, source, sa.func.sum(postings.c.amount_fen)
        )
        .select_from(postings)
        .join(JournalEntry, JournalEntry.id == postings.c.entry_id)
        .outerjoin(OrderLine, OrderLine.id == postings.c.order_line_id)
        .outerjoin(Producer, Producer.id == OrderLine.producer_id)
        .outerjoin(FundDisbursement, FundDisbursement.id == JournalEntry.fund_disbursement_id)
        .outerjoin(AssistanceFund, AssistanceFund.id == FundDisbursement.fund_id)
        .where(JournalEntry.kind.in_(EARNING + PAYOUT))
        .group_by(postings.c.household_id, JournalEntry.kind, source)
        .order_by(postings.c.household_id)
    )
    status_at = _status_at(period, villages)
    households = (
        sa.select(
            Household.id,
            Household.registry_number,
            Household.head_name,
            Household.village_id,
            Household.members_count,
            status_at.c.status,
        )
        .outerjoin(status_at, status_at.c.household_id == Household.id)
        .where(Household.village_id.in_(villages))
        .order_by(Household.id)
    )
    incomes = iter(session.execute(money.execution_options(yield_per=2000)))
    pending = next(incomes, None)
    for household in session.execute(households.execution_options(yield_per=2000)):
        figures, earned = _empty(), False
        while pending is not None and pending[0] == household.id:
            _, kind, source_name, amount = pending
            _add_money(figures, kind, source_name, int(amount))
            earned = earned or kind in EARNING
            pending = next(incomes, None)
        _count(figures, household.status, earned, household.members_count, 1)
        _finish(figures)
        yield {
            "household_id": household.id,
            "registry_number": household.registry_number,
            "name": household.head_name,
            "village": village_names[household.village_id],
            "status": household.status,
            "members": household.members_count,
            "reached": earned,
            **flat(figures),
        }


def flat(figures: dict) -> dict:
    """A row's figures in one level, for files: the sources' net as columns of their own."""
    return {
        **{k: v for k, v in figures.items() if k not in ("by_source", "coverage")},
        **{f"{source}_fen": part["net_fen"] for source, part in figures["by_source"].items()},
    }


def monthly_net(
    session, actor: Actor, region_id: int, months: list[date]
) -> list[tuple[date, int]]:
    """Each month's net attributed income of the region (``months``: first days, in order):
    the trend beside a report. One statement, grouped by business day and folded into months
    here (portable, and at most a few hundred days). Nothing is ever written into a closed
    month, so a closed month's figure is the one its report froze."""
    region = reported_region(session, actor, region_id)
    span = Period(
        label=f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}",
        kind="span",
        start=months[0],
        end=next_month(months[-1]) - timedelta(days=1),
    )
    postings = _household_postings(span, list(villages_by_child(session, region)))
    by_month = dict.fromkeys(months, 0)
    for day, amount in session.execute(
        sa.select(postings.c.effective_on, sa.func.sum(postings.c.amount_fen))
        .join(JournalEntry, JournalEntry.id == postings.c.entry_id)
        .where(JournalEntry.kind.in_(EARNING))
        .group_by(postings.c.effective_on)
    ):
        by_month[day.replace(day=1)] -= int(amount)  # income is a credit
    return list(by_month.items())


def coverage(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    """The region's registered households the marketplace reached in the period, or (``reached``
    false) those it did not, with their status at the period's end: the coverage drill-down."""
    region = reported_region(session, actor, filters["region_id"])
    period = filters["period"]
    villages = list(villages_by_child(session, region))
    postings = _household_postings(period, villages)
    reached = (
        sa.select(postings.c.household_id)
        .join(JournalEntry, JournalEntry.id == postings.c.entry_id)
        .where(JournalEntry.kind.in_(EARNING))
    )
    status_at = _status_at(period, villages)
    is_reached = Household.id.in_(reached)
    stmt = (
        sa.select(
            Household.id.label("household_id"),
            Household.head_name.label("name"),
            Household.village_id,
            Region.name.label("village"),
            Household.members_count.label("members"),
            status_at.c.status,
            is_reached.label("reached"),
        )
        .join(Region, Region.id == Household.village_id)
        .outerjoin(status_at, status_at.c.household_id == Household.id)
        .where(Household.village_id.in_(villages))
    )
    if filters.get("reached") is not None:
        stmt = stmt.where(is_reached if filters["reached"] else sa.not_(is_reached))
    if filters.get("status") is not None:
        stmt = stmt.where(status_at.c.status == filters["status"])
    listed = stmt.subquery("coverage")
    total = session.execute(sa.select(sa.func.count()).select_from(listed)).scalar_one()
    rows = session.execute(
        sa.select(listed)
        .order_by(listed.c.household_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return [dict(row._mapping) for row in rows], total
