"""Sales by month (``SalesMonth``): the postings of order lines attributed and refunded, to the
gateways' clearing accounts and households' income accounts, summed by month, product, order,
entry kind and account kind, kept in the transaction that writes the postings, so the channel
report reads a few rows per order instead of every posting (a co-op's line posts to each
member).

The rollup holds nothing the report resolves when read: the product's village of origin, the
order's channel and its livestream session are joined then, so a product whose origin changes
gives the figures reading the postings gave, and the rollup never needs rewriting. It keeps
the two kinds of account the report sums and no other: a line attributed has a clearing
posting (its gross, of which every other leg is a share), so the orders the report counts are
found in it too. Keyed by order, two sales never add to the same row: a festival's best
seller is no row every checkout's payment waits on.

``write_entries`` is the one writer of postings and calls ``add``; a bulk load that writes
postings itself (the generated county) calls ``rebuild`` after it. ``differences`` compares the
rollup with the postings (``flask ledger check``).
"""

from collections import defaultdict

import sqlalchemy as sa

from marketplace.ledger.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
    SalesMonth,
)
from marketplace.ledger.rollup_tables import RollupTable
from marketplace.ledger.rollups import month_of
from marketplace.orders.models import OrderLine

#: The entries of a sale: its attribution, and its refunds' reversals.
SELLING = (EntryKind.attribution, EntryKind.refund_reversal)
#: The accounts a sale's money is read from: what was paid, and what households got of it.
MONEY_ACCOUNTS = (AccountKind.gateway_clearing, AccountKind.household_income)
_KEY = ("product_id", "month", "order_id", "kind", "account_kind")


def add(session, entries, lines: dict[int, sa.Row]) -> None:
    """Add the sales legs of ``entries`` (just written) to the rollup, their order ``lines``
    read by ``rollups.order_lines_named``: one statement, whatever the number of entries,
    and none for entries that are not sales."""
    legs = [
        (entry, leg, kind)
        for entry in entries
        if entry.kind in SELLING
        for leg in entry.legs
        if leg.order_line_id is not None
        and (kind := leg.account.partition(":")[0]) in MONEY_ACCOUNTS
    ]
    if not legs:
        return
    # Plain tuples for the loop over legs (a co-op's sale has one a member).
    products_and_orders = {
        line_id: (line.product_id, line.order_id) for line_id, line in lines.items()
    }
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for entry, leg, account_kind in legs:
        product_id, order_id = products_and_orders[leg.order_line_id]
        key = (
            product_id,
            entry.effective_on.replace(day=1),
            order_id,
            EntryKind(entry.kind),
            AccountKind(account_kind),
        )
        sums[key][0] += leg.amount_fen
        sums[key][1] += 1
    SALES.add(session, sums)


def from_postings():
    """The rollup as the postings give it: what ``rebuild`` writes and ``differences`` checks."""
    key = (
        OrderLine.product_id,
        month_of(Posting.effective_on),
        OrderLine.order_id,
        JournalEntry.kind,
        LedgerAccount.kind,
    )
    return (
        sa.select(
            *(column.label(name) for column, name in zip(key, _KEY, strict=True)),
            sa.func.sum(Posting.amount_fen).label("amount_fen"),
            sa.func.count().label("postings"),
        )
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(OrderLine, OrderLine.id == Posting.order_line_id)
        .where(JournalEntry.kind.in_(SELLING), LedgerAccount.kind.in_(MONEY_ACCOUNTS))
        .group_by(*key)
    )


SALES = RollupTable(
    "sales rollup",
    SalesMonth.__table__,
    key=_KEY,
    types=(sa.Integer, sa.Date, sa.Integer, sa.String, sa.String, sa.BigInteger, sa.Integer),
    from_postings=from_postings,
)
#: The rollup written again from the postings (after a bulk load that wrote postings itself),
#: and compared with them row for row (``flask ledger check``).
rebuild = SALES.rebuild
differences = SALES.differences
