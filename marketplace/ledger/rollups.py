"""Household income by month (``HouseholdIncomeMonth``): the postings to household income
accounts summed by household, month, entry kind, producer and fund, kept in the transaction that
writes the postings, so a report reads a row per household and month instead of every posting.

A co-op's sale writes a posting per member, so postings grow about a hundred times faster than
orders; a report summing them gets slower every month, and a province's would not answer. The
rollup holds what the income report tells apart and nothing it resolves when read: the producer,
whose kind (household, co-operative, enterprise) decides a sale's source, and the fund, whose
``bound`` decides a disbursement's. The village is the household's, joined when read. So a
producer changing kind or a household moving village gives the figures reading the postings
gave, and the rollup never needs rewriting.

``write_entries`` is the one writer of postings and calls ``add``; a bulk load that writes
postings itself (the generated county) calls ``rebuild`` after it. ``differences`` compares the
rollup with the postings (``flask ledger check``). The database sums this rollup again by
village as it is written (``village_rollups``), whichever of these writes it.
"""

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from marketplace.ledger.models import (
    AccountKind,
    EntryKind,
    FundDisbursement,
    HouseholdIncomeMonth,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from marketplace.ledger.rollup_tables import RollupTable
from marketplace.orders.models import OrderLine

_KEY = ("household_id", "month", "kind", "producer_id", "fund_id")


class month_of(FunctionElement):
    """The first day of a date's month, as a date, in either database."""

    type = sa.Date()
    inherit_cache = True


@compiles(month_of, "postgresql")
def _month_of_postgresql(element, compiler, **kw):
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(month_of, "sqlite")
def _month_of_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


def order_lines_named(session, entries) -> dict[int, sa.Row]:
    """The order lines the legs of ``entries`` name, with what the rollups key their postings
    by (``producer_id``, ``product_id``, ``order_id``): one statement, read once for both
    rollups of a batch (``journal.write_entries``), none when no leg names a line."""
    line_ids = sorted({leg.order_line_id for entry in entries for leg in entry.legs} - {None})
    if not line_ids:
        return {}
    rows = session.execute(
        sa.select(
            OrderLine.id, OrderLine.producer_id, OrderLine.product_id, OrderLine.order_id
        ).where(OrderLine.id.in_(line_ids))
    )
    return {row.id: row for row in rows}


def add(session, entries, lines: dict[int, sa.Row]) -> None:
    """Add the household income legs of ``entries`` (just written) to the rollup, their
    order ``lines`` read by ``order_lines_named``: at most two statements, whatever the number
    of entries."""
    legs = [
        (entry, leg)
        for entry in entries
        for leg in entry.legs
        if leg.household_id is not None
        and leg.account.partition(":")[0] == AccountKind.household_income
    ]
    if not legs:
        return
    funds = _lookup(
        session,
        FundDisbursement.id,
        FundDisbursement.fund_id,
        {entry.fund_disbursement_id for entry, _ in legs},
    )
    # A plain dict for the loop over legs (a co-op's sale has one a member).
    producers = {line_id: line.producer_id for line_id, line in lines.items()}
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for entry, leg in legs:
        key = (
            leg.household_id,
            entry.effective_on.replace(day=1),
            EntryKind(entry.kind),
            producers.get(leg.order_line_id, 0),
            funds.get(entry.fund_disbursement_id, 0),
        )
        sums[key][0] += leg.amount_fen
        sums[key][1] += 1
    HOUSEHOLD_INCOME.add(session, sums)


def _lookup(session, key_column, value_column, keys) -> dict[int, int]:
    keys = sorted(key for key in keys if key is not None)
    if not keys:
        return {}
    return dict(
        session.execute(sa.select(key_column, value_column).where(key_column.in_(keys))).all()
    )


def from_postings():
    """The rollup as the postings give it: what ``rebuild`` writes and ``differences`` checks."""
    # Written once and grouped by the same objects: PostgreSQL matches a grouped expression by
    # its text, and a literal 0 (not a parameter) keeps the two texts the same.
    none = sa.literal_column("0")
    key = (
        Posting.household_id,
        month_of(Posting.effective_on),
        JournalEntry.kind,
        sa.func.coalesce(OrderLine.producer_id, none),
        sa.func.coalesce(FundDisbursement.fund_id, none),
    )
    return (
        sa.select(
            *(column.label(name) for column, name in zip(key, _KEY, strict=True)),
            sa.func.sum(Posting.amount_fen).label("amount_fen"),
            sa.func.count().label("postings"),
        )
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(OrderLine, OrderLine.id == Posting.order_line_id)
        .outerjoin(FundDisbursement, FundDisbursement.id == JournalEntry.fund_disbursement_id)
        .where(
            LedgerAccount.kind == AccountKind.household_income,
            Posting.household_id.is_not(None),
        )
        .group_by(*key)
    )


HOUSEHOLD_INCOME = RollupTable(
    "household income rollup",
    HouseholdIncomeMonth.__table__,
    key=_KEY,
    types=(sa.Integer, sa.Date, sa.String, sa.Integer, sa.Integer, sa.BigInteger, sa.Integer),
    from_postings=from_postings,
)
#: The rollup written again from the postings (after a bulk load that wrote postings itself),
#: and compared with them row for row (``flask ledger check``).
rebuild = HOUSEHOLD_INCOME.rebuild
differences = HOUSEHOLD_INCOME.differences
