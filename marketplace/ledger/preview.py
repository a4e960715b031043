"""A dry run of a rule version over a past period: who would have got what, beside what they
actually got. It runs the very code attribution runs (``attribution.line_legs``) with a rule
book that answers with the version under review, and writes nothing."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.households.models import Household
from marketplace.ledger import attribution
from marketplace.ledger.models import (
    AccountKind,
    BenefitRule,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from marketplace.ledger.rules import RuleBook
from marketplace.ledger.service import get_rule
from marketplace.orders.models import OrderLine
from marketplace.producers.models import Producer

_RETAINED = (AccountKind.coop_retained, AccountKind.producer_payable)
_FEES = (AccountKind.station_fee, AccountKind.platform_fee)


class _BookWithCandidate(RuleBook):
    """The real fees and memberships of each day, and the candidate rule on every day."""

    def __init__(self, session, candidate: BenefitRule, *, station_ids):
        super().__init__(session, producer_ids={candidate.producer_id}, station_ids=station_ids)
        self._candidate = candidate

    def rule(self, producer_id: int, on: date) -> BenefitRule | None:
        return self._candidate


def _kind_of(account_key: str) -> AccountKind:
    return AccountKind(account_key.partition(":")[0])


def _lines_paid_between(session, producer_id: int, start: date, end: date) -> list:
    """The producer's order lines attributed from ``start`` to ``end``, each with its payment
    day: the attribution entry's day, the day (Asia/Shanghai) the rules were read on."""
    return session.execute(
        sa.select(OrderLine, JournalEntry.effective_on)
        .join(
            JournalEntry,
            sa.and_(
                JournalEntry.order_id == OrderLine.order_id,
                JournalEntry.kind == EntryKind.attribution,
            ),
        )
        .where(
            OrderLine.producer_id == producer_id,
            JournalEntry.effective_on >= start,
            JournalEntry.effective_on <= end,
        )
        .order_by(OrderLine.id)
    ).all()


@dataclass
class _Would:
    """What the candidate rule would have done with the lines."""

    households: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    retained: int = 0
    fees: int = 0
    gross: int = 0


def _would(producer: Producer, book: RuleBook, lines) -> _Would:
    """Attribute each line again, as attribution does, with ``book``'s rule; write nothing."""
    would = _Would()
    for line, paid_on in lines:
        paid = attribution.PaidLine(
            id=line.id,
            order_id=line.order_id,
            producer_id=line.producer_id,
            station_id=line.station_id,
            quantity=line.quantity,
            line_total_fen=line.line_total_fen,
        )
        order = attribution.PaidOrder(
            order_id=line.order_id, gateway="preview", paid_on=paid_on, lines=(paid,)
        )
        would.gross += line.line_total_fen
        for leg in attribution.line_legs(paid, order, producer, book):
            kind = _kind_of(leg.account)
            if kind is AccountKind.household_income:
                would.households[leg.household_id] -= leg.amount_fen
            elif kind in _RETAINED:
                would.retained -= leg.amount_fen
            elif kind in _FEES:
                would.fees -= leg.amount_fen
    return would


def _actual(session, line_ids: list[int]) -> tuple[dict[int, int], int]:
    """What the lines' attribution actually gave each household, and what it retained."""
    actual: dict[int, int] = defaultdict(int)
    actual_retained = 0
    if line_ids:
        for kind, household_id, amount in session.execute(
            sa.select(LedgerAccount.kind, Posting.household_id, sa.func.sum(Posting.amount_fen))
            .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(
                Posting.order_line_id.in_(line_ids),
                JournalEntry.kind == EntryKind.attribution,
                LedgerAccount.kind.in_([AccountKind.household_income, *_RETAINED]),
            )
            .group_by(LedgerAccount.kind, Posting.household_id)
        ):
            if kind is AccountKind.household_income:
                actual[household_id] -= int(amount)
            else:
                actual_retained -= int(amount)
    return actual, actual_retained


def preview_rule(session, actor: Actor, rule_id: int, start: date, end: date) -> dict:
    rule = get_rule(session, actor, rule_id)
    producer = session.get(Producer, rule.producer_id)
    lines = _lines_paid_between(session, producer.id, start, end)
    book = _BookWithCandidate(session, rule, station_ids={line.station_id for line, _ in lines})
    would = _would(producer, book, lines)
    actual, actual_retained = _actual(session, [line.id for line, _ in lines])
    household_ids = sorted(set(would.households) | set(actual))
    names = dict(
        session.execute(
            sa.select(Household.id, Household.head_name).where(Household.id.in_(household_ids))
        ).all()
    )
    return {
        "rule_id": rule.id,
        "producer_id": producer.id,
        "from_": start,
        "to": end,
        "currency": "CNY",
        "households": [
            {
                "household_id": household_id,
                "head_name": names.get(household_id),
                "would_get_fen": would.households.get(household_id, 0),
                "actually_got_fen": actual.get(household_id, 0),
                "difference_fen": would.households.get(household_id, 0)
                - actual.get(household_id, 0),
            }
            for household_id in household_ids
        ],
        "totals": {
            "lines": len(lines),
            "gross_fen": would.gross,
            "fees_fen": would.fees,
            "would_attribute_fen": sum(would.households.values()),
            "would_retain_fen": would.retained,
            "actually_attributed_fen": sum(actual.values()),
            "actually_retained_fen": actual_retained,
        },
    }
