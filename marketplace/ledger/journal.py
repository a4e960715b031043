"""Writing to the ledger: accounts by key, and balanced entries in bulk.

Everything that moves money calls ``write_entries``; it refuses an entry whose legs do not sum
to zero before the database (which checks again, on PostgreSQL) ever sees it.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from marketplace.db import new_ids
from marketplace.ledger import closing, rollups, sales_rollups
from marketplace.ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting


class UnbalancedEntry(ValueError):
    """A bug, never user input: an entry whose postings do not sum to zero."""


# --- account keys ----------------------------------------------------------------------------
# One account per kind and owner; the key names both, so finding or creating one is one lookup.


def gateway_clearing(gateway: str) -> str:
    return f"gateway_clearing:{gateway}"


def household_income(household_id: int) -> str:
    return f"household_income:{household_id}"


def producer_payable(producer_id: int) -> str:
    return f"producer_payable:{producer_id}"


def coop_retained(producer_id: int) -> str:
    return f"coop_retained:{producer_id}"


def station_fee(station_id: int) -> str:
    return f"station_fee:{station_id}"


def assistance_fund(fund_id: int) -> str:
    return f"assistance_fund:{fund_id}"


def fund_source(fund_id: int) -> str:
    return f"fund_source:{fund_id}"


PLATFORM_FEE = "platform_fee"
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
DISBURSED = "disbursed"
SUSPENSE = "suspense"


def _account_row(key: str) -> dict:
    kind, _, owner = key.partition(":")
    row = {"key": key, "kind": AccountKind(kind), "currency": "CNY"}
    owner_column = {
        AccountKind.gateway_clearing: "gateway",
        AccountKind.household_income: "household_id",
        AccountKind.producer_payable: "producer_id",
        AccountKind.coop_retained: "producer_id",
        AccountKind.station_fee: "station_id",
        AccountKind.assistance_fund: "fund_id",
        AccountKind.fund_source: "fund_id",
    }.get(row["kind"])
    for column in ("gateway", "household_id", "producer_id", "station_id", "fund_id"):
        row[column] = None
    if owner_column == "gateway":
        row["gateway"] = owner
    elif owner_column:
        row[owner_column] = int(owner)
    return row


def account_ids(session, keys) -> dict[str, int]:
    """Ids of the accounts named by ``keys``, creating the missing ones (two statements at most
    when all exist, four when some must be made)."""
    keys = set(keys)
    found = dict(
        session.execute(
            sa.select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(keys))
        ).all()
    )
    missing = sorted(keys - found.keys())
    if missing:
        session.execute(sa.insert(LedgerAccount), [_account_row(key) for key in missing])
        found.update(
            session.execute(
                sa.select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(missing))
            ).all()
        )
    return found


def lock_accounts(session, condition) -> None:
    """Lock the accounts matching ``condition`` until the transaction ends, always in id order
    (so two writers can never deadlock). Whatever takes money out of an account another writer
    may also be taking from (a payout, a refund's reversal) locks it first, then reads it."""
    session.execute(
        sa.select(LedgerAccount.id).where(condition).order_by(LedgerAccount.id).with_for_update()
    ).all()


# --- entries ---------------------------------------------------------------------------------


@dataclass
class Leg:
    """One posting to be written: debit positive, credit negative."""

    account: str
    amount_fen: int
    order_line_id: int | None = None
    refund_line_id: int | None = None
    rule_version_id: int | None = None
    household_id: int | None = None


@dataclass
class Entry:
    kind: str
    effective_on: date
    legs: list[Leg] = field(default_factory=list)
    memo: str | None = None
    created_by_id: int | None = None
    order_id: int | None = None
    refund_id: int | None = None
    payout_line_id: int | None = None
    fund_disbursement_id: int | None = None
    fund_contribution_id: int | None = None
    #: set by ``closing.date_entries`` when a closed month moved the entry to an open one
    adjusts_month: date | None = None

    def check(self) -> None:
        total = sum(leg.amount_fen for leg in self.legs)
        if total != 0:
            raise UnbalancedEntry(f"{self.kind} entry is off by {total} fen: {self.legs}")
        if any(type(leg.amount_fen) is not int for leg in self.legs):
            raise UnbalancedEntry("ledger amounts are integers of fen")


_POSTING_COLUMNS = (
    "entry_id",
    "account_id",
    "amount_fen",
    "currency",
    "order_line_id",
    "refund_line_id",
    "rule_version_id",
    "household_id",
    "effective_on",
)
#: Below this many postings a plain INSERT is as quick and simpler to read in a statement log.
_COPY_THRESHOLD = 200
_ENTRIES = JournalEntry.__table__


def write_entries(session, entries: list[Entry]) -> list[int]:
    """Write balanced entries and their postings in a constant number of statements."""
    entries = [entry for entry in entries if any(leg.amount_fen for leg in entry.legs)]
    if not entries:
        return []
    for entry in entries:
        entry.legs = [leg for leg in entry.legs if leg.amount_fen]
        entry.check()
    # A closed month takes no more entries: those that would fall into one move to the first
    # open month (the closing module's docstring says how this stays exact under concurrency).
    closing.date_entries(session, entries)
    ids_by_key = account_ids(session, {leg.account for entry in entries for leg in entry.legs})
    entry_rows = [
        {
            "kind": entry.kind,
            "effective_on": entry.effective_on,
            "memo": entry.memo,
            "created_by_id": entry.created_by_id,
            "order_id": entry.order_id,
            "refund_id": entry.refund_id,
            "payout_line_id": entry.payout_line_id,
            "fund_disbursement_id": entry.fund_disbursement_id,
            "fund_contribution_id": entry.fund_contribution_id,
            "adjusts_month": entry.adjusts_month,
        }
        for entry in entries
    ]
    entry_ids = _insert_entries(session, entry_rows)
    rows = [
        (
            entry_id,
            ids_by_key[leg.account],
            leg.amount_fen,
            "CNY",
            leg.order_line_id,
            leg.refund_line_id,
            leg.rule_version_id,
            leg.household_id,
            entry.effective_on,
        )
        for entry_id, entry in zip(entry_ids, entries, strict=True)
        for leg in entry.legs
    ]
    _insert_postings(session, rows)
    lines = rollups.order_lines_named(session, entries)
    rollups.add(session, entries, lines)
    sales_rollups.add(session, entries, lines)
    return entry_ids


def _insert_entries(session, rows: list[dict]) -> list[int]:
    """Insert the entries' rows; their ids, in the rows' order."""
    if len(rows) > 1 and session.connection().dialect.name == "postgresql":
        # A batch (an import's thousand sales, a payout run): its ids drawn first and written
        # with the rows (``db.new_ids`` says why).
        ids = new_ids(session, _ENTRIES, len(rows))
        session.execute(
            sa.insert(_ENTRIES), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids
    return list(
        session.execute(
            sa.insert(JournalEntry).returning(JournalEntry.id, sort_by_parameter_order=True),
            rows,
        ).scalars()
    )


def _insert_postings(session, rows: list[tuple]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) > _COPY_THRESHOLD:
        # Attribution writes a hundred postings per co-op line: COPY is the bulk path.
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY postings ({', '.join(_POSTING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        session.execute(
            sa.insert(Posting), [dict(zip(_POSTING_COLUMNS, row, strict=True)) for row in rows]
        )


def balances(session, keys) -> dict[str, int]:
    """Signed balances (debit positive) of the named accounts; 0 for an account with none."""
    keys = list(keys)
    rows = session.execute(
        sa.select(LedgerAccount.key, sa.func.coalesce(sa.func.sum(Posting.amount_fen), 0))
        .outerjoin(Posting, Posting.account_id == LedgerAccount.id)
        .where(LedgerAccount.key.in_(keys))
        .group_by(LedgerAccount.key)
    ).all()
    found = dict(rows)
    return {key: int(found.get(key, 0)) for key in keys}
