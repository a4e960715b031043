"""Household income summed by village (``VillageIncomeMonth``) and the households it reached
counted by village (``VillageReachMonth``), each by month: what a report above a village reads,
so that a county's month costs its villages (a few hundred rows), not its households (tens of
thousands, each with its rollup rows).

The database keeps both (migration 0026), in the transaction that writes what they sum:
triggers on ``household_income_months`` add each written row to its household's village, and
a trigger on ``households`` moves a household's sums when its village, latest status or members
count changes. So every writer keeps them: ``rollups.add`` and ``rollups.rebuild``, a registry
import or edit, the status history's own trigger, a bulk load. An income writer locks the
households it writes for before it reads their village (``FOR NO KEY UPDATE``): a household's
change and income written for it are then one after the other, and the first earning row of a
household's month is counted once, whoever writes at the same time.

Keys are the household rollup's, less the household: the producer's kind and the fund's binding
stay resolved when a report reads them. A household is reached in a month when it has an
earning row in it (whatever it sums to), counted under its latest status: the report corrects
the few households whose status at a period's end was another.

``from_household_rollup`` and ``reach_from_household_rollup`` are the same sums computed from
the household rollup, the reference ``differences`` compares with (``flask ledger check``).
"""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Fen, enum_type
from marketplace.households.models import Household
from marketplace.ledger.models import EntryKind, HouseholdIncomeMonth

#: Entries that make income: a household with one of these in a month was reached in it.
EARNING = (
    EntryKind.attribution,
    EntryKind.refund_reversal,
    EntryKind.fund_disbursement,
    EntryKind.minimum_dividend,
)
#: What ``differences`` lists at most of each table.
_SHOWN = 20


class VillageIncomeMonth(Base):
    """The household rollup's rows summed by the household's village (kept by the database)."""

    __tablename__ = "village_income_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind, 32), primary_key=True)
    producer_id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(primary_key=True)
    amount_fen: Mapped[Fen]


class VillageReachMonth(Base):
    """The households with an earning row in a month, by village and latest status (``""``
    for a household with no status yet), with their members (kept by the database)."""

    __tablename__ = "village_reach_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    households: Mapped[int]
    members: Mapped[int]


def from_household_rollup():
    """``village_income_months`` as the household rollup gives it (zero sums left out)."""
    key = (
        HouseholdIncomeMonth.month,
        Household.village_id,
        HouseholdIncomeMonth.kind,
        HouseholdIncomeMonth.producer_id,
        HouseholdIncomeMonth.fund_id,
    )
    return (
        sa.select(*key, sa.func.sum(HouseholdIncomeMonth.amount_fen))
        .join(Household, Household.id == HouseholdIncomeMonth.household_id)
        .group_by(*key)
        .having(sa.func.sum(HouseholdIncomeMonth.amount_fen) != 0)
    )


def reach_from_household_rollup():
    """``village_reach_months`` as the household rollup and the households give it."""
    reached = (
        sa.select(HouseholdIncomeMonth.household_id, HouseholdIncomeMonth.month)
        .where(HouseholdIncomeMonth.kind.in_(EARNING))
        .distinct()
        .subquery("reached")
    )
    status = sa.func.coalesce(Household.latest_status, "")
    return (
        sa.select(
            reached.c.month,
            Household.village_id,
            status,
            sa.func.count(),
            sa.func.sum(Household.members_count),
        )
        .join(Household, Household.id == reached.c.household_id)
        .group_by(reached.c.month, Household.village_id, status)
    )


def differences(session) -> list[str]:
    """Every village sum that the household rollup does not give, and every one it gives that
    is missing, said as ``flask ledger check`` says a difference (the first few of each)."""
    money = sa.select(
        VillageIncomeMonth.month,
        VillageIncomeMonth.village_id,
        VillageIncomeMonth.kind,
        VillageIncomeMonth.producer_id,
        VillageIncomeMonth.fund_id,
        VillageIncomeMonth.amount_fen,
    ).where(VillageIncomeMonth.amount_fen != 0)
    reach = sa.select(
        VillageReachMonth.month,
        VillageReachMonth.village_id,
        VillageReachMonth.status,
        VillageReachMonth.households,
        VillageReachMonth.members,
    ).where(sa.or_(VillageReachMonth.households != 0, VillageReachMonth.members != 0))
    found = []
    for table, held, expected in (
        ("village income rollup", money, from_household_rollup()),
        ("village reach rollup", reach, reach_from_household_rollup()),
    ):
        for label, statement in (
            ("holds", sa.except_(held, expected)),
            ("household rollup gives", sa.except_(expected, held)),
        ):
            for row in session.execute(statement.limit(_SHOWN)).all():
                month, village_id, *rest = row
                month = month if isinstance(month, date) else date.fromisoformat(month)
                found.append(
                    f"{table}: {label} village {village_id} {month:%Y-%m} "
                    + " ".join(str(value) for value in rest)
                )
    return found
