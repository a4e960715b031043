"""What an income report's figures are read from: the household income rollup (the ledger's
postings to household income accounts, summed by month), each row's source, and the
households' status at a period's end. How they add up is ``figures``. The income report, its
per-household file and its coverage list all read the same way, from here."""

import sqlalchemy as sa

from marketplace.households.models import Household, HouseholdStatusChange
from marketplace.ledger.models import AssistanceFund, EntryKind, HouseholdIncomeMonth
from marketplace.ledger.village_rollups import EARNING, VillageIncomeMonth, VillageReachMonth
from marketplace.periods import Period
from marketplace.producers.models import Producer, ProducerKind
from marketplace.reports.figures import PAYOUT, Source


def money_by(income, group):
    """The period's income (``period_income``) summed by ``group`` (a household or a village),
    entry kind and source: the money of a report, its households' file and nothing else."""
    # Grouped by the expression itself: a label "source" would name assistance_funds.source.
    source = _income_source(income.c.kind)
    # The kind as its plain value and the sum as an integer: a village's report reads a few
    # hundred rows, and making each kind an enum member and each sum a Decimal took more
    # than reading them (the figures compare kinds by value).
    return (
        sa.select(
            group,
            sa.type_coerce(income.c.kind, sa.String),
            source,
            sa.cast(sa.func.sum(income.c.amount_fen), sa.BigInteger),
        )
        .select_from(income)
        .outerjoin(Producer, Producer.id == income.c.producer_id)
        .outerjoin(AssistanceFund, AssistanceFund.id == income.c.fund_id)
        .where(income.c.kind.in_(EARNING + PAYOUT))
        .group_by(group, income.c.kind, source)
    )


def _income_source(kind):
    """Where income came from (a ``Source``), from its entry ``kind``, its producer (joined as
    ``Producer``) and its fund (joined as ``AssistanceFund``; a fund bound to a pledge is a
    livestream pledge)."""
    bound = sa.func.coalesce(AssistanceFund.bound, sa.false())
    return sa.case(
        (
            kind == EntryKind.fund_disbursement,
            sa.case(
                (bound, sa.literal(Source.livestream_pledges.value)),
                else_=sa.literal(Source.assistance_funds.value),
            ),
        ),
        (kind == EntryKind.minimum_dividend, Source.coop_dividends.value),
        (Producer.kind == ProducerKind.household, Source.own_sales.value),
        (Producer.kind == ProducerKind.cooperative, Source.coop_dividends.value),
        else_=sa.literal(Source.enterprise_linking.value),
    )


class BoundPeriod:
    """A period's first and last day as a statement's named parameters, in place of a
    ``Period``: a statement built from it once runs for every period of its shape (one month,
    or several), given ``parameters(period)``. Built anew for each request, a village's
    statement cost more than running it. A parameter left out is an error, not a default."""

    start = sa.bindparam("period_start", type_=sa.Date)
    end = sa.bindparam("period_end", type_=sa.Date)

    def __init__(self, one_month: bool):
        self.one_month = one_month

    @staticmethod
    def parameters(period: Period) -> dict:
        return {"period_start": period.start, "period_end": period.end}


def period_income(period: Period | BoundPeriod, villages):
    """The household income rollup's rows of the period (``ledger/rollups.py``: the postings to
    household income accounts summed by household, month, kind, producer and fund), of the
    households of ``villages``, with the household's village. Periods are whole months, so the
    months in it are exactly its postings. A month is named as one (an equality, not a range):
    a village's households are then each one probe of ``(month, household)`` in the month
    index, their rows read from the index alone, where a range read the table's rows through
    the primary key. Longer periods stay a range: a year's twelve months named made the planner
    read the whole rollup."""
    return (
        sa.select(HouseholdIncomeMonth, Household.village_id)
        .join(Household, Household.id == HouseholdIncomeMonth.household_id)
        .where(
            _in_period(HouseholdIncomeMonth.month, period),
            Household.village_id.in_(villages),
        )
        .subquery("period_income")
    )


def _in_period(month_column, period: Period | BoundPeriod):
    """A rollup's month column within a period of whole months: one month named as an
    equality, a longer period as a range (see ``period_income``)."""
    if isinstance(period, BoundPeriod):
        one_month = period.one_month
    else:
        assert period.start.day == 1, "reports cut whole months"
        one_month = len(period.months) == 1
    if one_month:
        return month_column == period.start
    return month_column.between(period.start, period.end)


def village_period_income(period: Period, villages):
    """The village rollup's rows of the period (``ledger/village_rollups.py``: the household
    rollup summed by village), of ``villages``: the columns of ``period_income`` that
    ``money_by`` reads, a row per village where that has a row per household."""
    return (
        sa.select(VillageIncomeMonth)
        .where(
            _in_period(VillageIncomeMonth.month, period),
            VillageIncomeMonth.village_id.in_(villages),
        )
        .subquery("period_income")
    )


#: A constant zero written into the statement (not a parameter: a union's columns take the
#: type of their first branch's, and a parameter's has none).
_NONE = sa.literal_column("0")


def month_counts(period: Period, villages):
    """A one-month period's households of ``villages`` by village and status at the month's
    end: registered, reached, and the reached ones' members, as rows of (village_id, status,
    registered, reached, members). Counted from the households' index by latest status and the
    village reach rollup, both by latest status; then the few households whose status at the
    end was another (a change after it) are taken from the one and counted under the other.
    ``reached_in`` over every household is the reference (a test holds them equal)."""
    month = period.months[0]
    assert len(period.months) == 1, "reach adds up by month only"
    changed = StatusAtEnd(period).changed_after
    earned = _earned_in(month)
    in_villages = Household.village_id.in_(villages)
    parts = sa.union_all(
        sa.select(
            Household.village_id,
            Household.latest_status.label("status"),
            sa.func.count().label("registered"),
            _NONE.label("reached"),
            _NONE.label("members"),
        )
        .where(in_villages)
        .group_by(Household.village_id, Household.latest_status),
        sa.select(
            VillageReachMonth.village_id,
            sa.func.nullif(VillageReachMonth.status, ""),
            _NONE,
            VillageReachMonth.households,
            VillageReachMonth.members,
        ).where(VillageReachMonth.month == month, VillageReachMonth.village_id.in_(villages)),
        sa.select(
            Household.village_id,
            Household.latest_status,
            sa.literal_column("-1"),
            -earned,
            -earned * Household.members_count,
        )
        .join(changed, changed.c.household_id == Household.id)
        .where(in_villages),
        sa.select(
            Household.village_id,
            status_at_end_reference(period),
            sa.literal_column("1"),
            earned,
            earned * Household.members_count,
        )
        .join(changed, changed.c.household_id == Household.id)
        .where(in_villages),
    ).subquery("counted")
    village_id, status, registered, reached, members = parts.c
    return sa.select(
        village_id, status, sa.func.sum(registered), sa.func.sum(reached), sa.func.sum(members)
    ).group_by(village_id, status)


def _earned_in(month):
    """1 for a household (a select from ``Household``) with an earning row in ``month``, else
    0: one probe of its rollup rows."""
    earning = sa.exists().where(
        HouseholdIncomeMonth.household_id == Household.id,
        HouseholdIncomeMonth.month == month,
        HouseholdIncomeMonth.kind.in_(EARNING),
    )
    return sa.case((earning, 1), else_=0)


def reached_in(income):
    """The households of ``income`` (``period_income``) with any earning entry, one row each,
    to be joined: as a join the planner can hash it or probe it, where an ``IN`` over a year's
    rows in a select list was scanned again for every household (minutes for a county)."""
    return (
        sa.select(income.c.household_id)
        .where(income.c.kind.in_(EARNING))
        .distinct()
        .subquery("reached")
    )


class StatusAtEnd:
    """A household's status on a period's last day (its latest change by then), as a column of
    a select from ``Household``: the household's ``latest_status`` unless it has a change after
    the period's end, and only for those (few, for a recent period; found through the index on
    the change's day) a probe of its history. ``joined`` adds the join that tells them apart.
    A county's month then costs no lookup per household; ``status_at_end_reference`` is the
    plain lookup it must equal."""

    def __init__(self, period: Period | BoundPeriod):
        self.changed_after = (
            sa.select(HouseholdStatusChange.household_id)
            .where(HouseholdStatusChange.effective_from > period.end)
            .distinct()
            .subquery("changed_after")
        )
        self.column = sa.case(
            (self.changed_after.c.household_id.is_(None), Household.latest_status),
            else_=status_at_end_reference(period),
        )

    def joined(self, stmt):
        return stmt.outerjoin(self.changed_after, self.changed_after.c.household_id == Household.id)


def status_at_end_reference(period: Period | BoundPeriod):
    """A household's status on the period's last day (its latest change by then), as a
    correlated subquery of ``Household``: one probe of the household's own history through its
    index, so a report costs its region's households, not the registry's history (ranking every
    change of the province's households would)."""
    return (
        sa.select(HouseholdStatusChange.status)
        .where(
            HouseholdStatusChange.household_id == Household.id,
            HouseholdStatusChange.effective_from <= period.end,
        )
        .order_by(HouseholdStatusChange.effective_from.desc(), HouseholdStatusChange.id.desc())
        .limit(1)
        .correlate(Household)
        .scalar_subquery()
    )
