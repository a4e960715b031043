"""The guaranteed minimum dividend (保底分红): at year end, a co-op member whose dividends from
the co-op that year fell short of the rule's guarantee is topped up from the co-op's retained
earnings. Run once per year (`flask ledger minimum-dividends --year 2026`); running it again
changes nothing.

The guarantee in force on the year's last day applies, for the members active on that day.
What each member received is what the ledger says: attributed from the co-op's order lines
that year, net of refund reversals. If the co-op's retained earnings cannot cover every
shortfall, what there is is shared in proportion to the shortfalls (largest remainder).

The co-ops' retained accounts are locked before anything is read (``journal.lock_accounts``,
as payouts lock what they draw): two runs at once, or a run beside a payout run drawing the
same retained earnings, take turns, and the second sees what the first wrote, so no retained
fen is paid out twice.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from marketplace.ledger import journal
from marketplace.ledger.allocation import largest_remainder
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import (
    BenefitRule,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from marketplace.ledger.rules import RuleBook
from marketplace.orders.models import OrderLine
from marketplace.producers.models import Producer, ProducerKind


@dataclass
class TopUp:
    cooperative_id: int
    guaranteed_fen: int
    shortfalls: dict[int, int]
    paid: dict[int, int]
    already_done: bool = False


def _memo(cooperative_id: int, year: int) -> str:
    return f"minimum dividend {year} cooperative {cooperative_id}"


def _received(session, cooperative_id: int, year: int) -> dict[int, int]:
    """Each household's dividends from the co-op's sales in ``year`` (refunds deducted)."""
    rows = session.execute(
        sa.select(Posting.household_id, sa.func.sum(Posting.amount_fen))
        .join(OrderLine, OrderLine.id == Posting.order_line_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(
            OrderLine.producer_id == cooperative_id,
            Posting.household_id.is_not(None),
            LedgerAccount.key.startswith("household_income:"),
            Posting.effective_on >= date(year, 1, 1),
            Posting.effective_on <= date(year, 12, 31),
        )
        .group_by(Posting.household_id)
    ).all()
    return {household_id: -int(total) for household_id, total in rows}


def _shortfalls(received: dict[int, int], members: list[int], guaranteed: int) -> dict[int, int]:
    """What each member was paid less than the guarantee (members paid enough are left out)."""
    return {
        household: guaranteed - received.get(household, 0)
        for household in members
        if received.get(household, 0) < guaranteed
    }


def _pay_shortfalls(
    session, result: TopUp, rule: BenefitRule, *, year: int, created_by_id: int | None
) -> Entry | None:
    """Set what the co-op's retained earnings pay of ``result``'s shortfalls (all of them, or
    what there is shared in proportion), and return the entry paying it (None when nothing)."""
    retained_key = journal.coop_retained(result.cooperative_id)
    available = -journal.balances(session, [retained_key])[retained_key]
    needed = sum(result.shortfalls.values())
    if available >= needed:
        paid = result.shortfalls
    elif available > 0:
        paid = largest_remainder(available, result.shortfalls.items())
    else:
        paid = {}
    result.paid = {household: amount for household, amount in paid.items() if amount}
    if not result.paid:
        return None
    return Entry(
        kind=EntryKind.minimum_dividend,
        effective_on=date(year, 12, 31),
        memo=_memo(result.cooperative_id, year),
        created_by_id=created_by_id,
        legs=[
            Leg(retained_key, sum(result.paid.values()), rule_version_id=rule.id),
            *[
                Leg(
                    journal.household_income(household),
                    -amount,
                    rule_version_id=rule.id,
                    household_id=household,
                )
                for household, amount in sorted(result.paid.items())
            ],
        ],
    )


def top_up(session, *, year: int, created_by_id: int | None = None) -> list[TopUp]:
    year_end = date(year, 12, 31)
    cooperatives = (
        session.execute(sa.select(Producer.id).where(Producer.kind == ProducerKind.cooperative))
        .scalars()
        .all()
    )
    # Before the year's entries and balances are read: a run that got here first has
    # committed what it paid by the time the lock is ours.
    journal.lock_accounts(
        session, LedgerAccount.key.in_([journal.coop_retained(c) for c in cooperatives])
    )
    book = RuleBook(session, producer_ids=cooperatives, station_ids=())
    done = set(
        session.execute(
            sa.select(JournalEntry.memo).where(
                JournalEntry.kind == EntryKind.minimum_dividend,
                JournalEntry.effective_on == year_end,
            )
        ).scalars()
    )
    results, entries = [], []
    for cooperative_id in cooperatives:
        rule = book.rule(cooperative_id, year_end)
        if rule is None or not rule.minimum_dividend_fen:
            continue
        members = [household for household, _ in book.members(cooperative_id, year_end)]
        if not members:
            continue
        received = _received(session, cooperative_id, year)
        shortfalls = _shortfalls(received, members, rule.minimum_dividend_fen)
        result = TopUp(cooperative_id, rule.minimum_dividend_fen, shortfalls, {})
        results.append(result)
        if _memo(cooperative_id, year) in done:
            result.already_done = True
            continue
        if not shortfalls:
            continue
        entry = _pay_shortfalls(session, result, rule, year=year, created_by_id=created_by_id)
        if entry is not None:
            entries.append(entry)
    journal.write_entries(session, entries)
    return results
