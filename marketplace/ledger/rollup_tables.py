"""How a rollup table is kept: postings summed by a key, an amount and a count of postings per
row, added to in the transaction that writes the postings, written again from the postings
after a bulk load, and compared with them by ``flask ledger check``. The household income
rollup (``rollups``) and the sales rollup (``sales_rollups``) are two; each says what its key
is and how the postings give it, and this module writes and checks them alike."""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

#: Rows per upsert statement on SQLite: well inside its 32,766 parameters.
_CHUNK = 2_000
#: What ``mismatches`` lists at most of each side: a broken rollup is broken everywhere.
_SHOWN = 20


@dataclass(frozen=True)
class RollupTable:
    """A rollup: its ``table``, its ``key`` columns (the primary key) with their ``types``,
    ``from_postings``, the select that gives its rows (the key's columns, then ``amount_fen``
    and ``postings``), and the ``label`` its differences are said with."""

    label: str
    table: sa.Table
    key: tuple[str, ...]
    types: tuple
    from_postings: Callable[[], sa.Select]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key, "amount_fen", "postings")

    def add(self, session, sums: dict[tuple, list[int]]) -> None:
        """Add ``sums`` (a key -> ``[amount_fen, postings]``) to the rows of their keys: one
        statement on PostgreSQL, whatever their number."""
        # In key order: two transactions adding to the same rows lock them in the same order,
        # so neither can wait for the other while holding what it needs.
        rows = [(*key, amount, count) for key, (amount, count) in sorted(sums.items())]
        if not rows:
            return
        if session.connection().dialect.name == "postgresql":
            # One statement, each column an array: triggers on the table run once a
            # statement, and an executemany sends a statement a row.
            columns = [list(column) for column in zip(*rows, strict=True)]
            session.execute(_upsert_arrays(self), dict(zip(self.columns, columns, strict=True)))
            return
        named = [dict(zip(self.columns, row, strict=True)) for row in rows]
        for start in range(0, len(named), _CHUNK):
            session.execute(self._upsert(sqlite.insert(self.table)), named[start : start + _CHUNK])

    def rebuild(self, session) -> int:
        """Write the rollup again from the postings (after a bulk load that wrote postings
        itself): the number of rows it holds."""
        session.execute(sa.delete(self.table))
        session.execute(sa.insert(self.table).from_select(list(self.columns), self.from_postings()))
        return session.scalar(sa.select(sa.func.count()).select_from(self.table))

    def mismatches(self, session) -> list[tuple[str, tuple]]:
        """Every row the postings do not give (``"rollup holds"``) and every sum of postings
        the rollup lacks (``"postings give"``), the first few of each, as (side, row), its
        dates as dates (SQLite's ``EXCEPT`` gives them back as text)."""
        held = sa.select(*(self.table.c[name] for name in self.columns))
        expected = self.from_postings()
        dates = [kind is sa.Date for kind in self.types]
        found = []
        for side, statement in (
            ("rollup holds", sa.except_(held, expected)),
            ("postings give", sa.except_(expected, held)),
        ):
            for row in session.execute(statement.limit(_SHOWN)):
                found.append((side, tuple(map(_as_date, row, dates))))
        return found

    def differences(self, session) -> list[str]:
        """``mismatches`` said as ``flask ledger check`` says a difference."""
        found = []
        for side, row in self.mismatches(session):
            *key, amount, postings = row
            named = ", ".join(
                f"{name} {value:%Y-%m}" if isinstance(value, date) else f"{name} {value}"
                for name, value in zip(self.key, key, strict=True)
            )
            found.append(f"{self.label}: {side} {named}: {amount} fen in {postings} postings")
        return found

    def _upsert(self, statement):
        return statement.on_conflict_do_update(
            index_elements=list(self.key),
            set_={
                "amount_fen": self.table.c.amount_fen + statement.excluded.amount_fen,
                "postings": self.table.c.postings + statement.excluded.postings,
            },
        )


def _as_date(value, is_date: bool):
    return date.fromisoformat(value) if is_date and isinstance(value, str) else value


@functools.cache
def _upsert_arrays(rollup: RollupTable):
    """The upsert of rows given as one array a column (PostgreSQL), built once a rollup."""
    arrays = [
        sa.bindparam(name, type_=postgresql.ARRAY(kind))
        for name, kind in zip(rollup.columns, rollup.types, strict=True)
    ]
    rows = sa.func.unnest(*arrays).table_valued(*rollup.columns).render_derived()
    # On the table, not its mapped class: the ORM's insert takes no columns by name.
    insert = postgresql.insert(rollup.table).from_select(list(rollup.columns), sa.select(*rows.c))
    return rollup._upsert(insert)
