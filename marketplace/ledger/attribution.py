"""Attributing paid order lines to households, and reversing exactly the refunded share.

For each line: the gateway's clearing account is debited with what was captured; the station's
fee is taken; the rest (the net revenue) goes where the producer's benefit-linking rule in force
on the payment day sends it:

- a household seller: all of it is that household's income;
- a co-operative: ``retained_bp`` stays with the co-op, the rest is shared among the members
  active that day in proportion to their shares;
- an enterprise: a percentage of it, or a premium per unit, goes to the rule's households
  (equally or by weights); the rest is the enterprise's payable.

Every split is largest-remainder to the fen, so each line's postings sum to zero and
attributed + retained + fees = captured − refunded for every order.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from marketplace.ledger import journal
from marketplace.ledger.allocation import basis_points, largest_remainder
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import (
    EnterpriseBasis,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
    RuleKind,
    Weighting,
)
from marketplace.ledger.rules import RuleBook
from marketplace.producers.models import Producer, ProducerKind


@dataclass(frozen=True)
class PaidLine:
    id: int
    order_id: int
    producer_id: int
    station_id: int
    quantity: int
    line_total_fen: int


@dataclass(frozen=True)
class PaidOrder:
    order_id: int
    gateway: str
    paid_on: date
    lines: tuple[PaidLine, ...]


def line_legs(line: PaidLine, order: PaidOrder, producer: Producer, book: RuleBook) -> list[Leg]:
    """The postings of one paid line (they sum to zero)."""
    on = order.paid_on
    gross = line.line_total_fen
    fee = basis_points(gross, book.fee_bp(line.station_id, on))
    net = gross - fee
    rule = book.rule(producer.id, on)
    rule_id = rule.id if rule else None
    legs = [
        Leg(journal.gateway_clearing(order.gateway), gross, order_line_id=line.id),
        Leg(journal.station_fee(line.station_id), -fee, order_line_id=line.id),
    ]

    def to_household(household_id: int, amount: int) -> Leg:
        return Leg(
            journal.household_income(household_id),
            -amount,
            order_line_id=line.id,
            rule_version_id=rule_id,
            household_id=household_id,
        )

    def kept(account: str, amount: int) -> Leg:
        return Leg(account, -amount, order_line_id=line.id, rule_version_id=rule_id)

    if producer.kind == ProducerKind.household:
        legs.append(to_household(producer.household_id, net))
    elif producer.kind == ProducerKind.cooperative:
        retained = basis_points(net, rule.retained_bp or 0) if rule else net
        members = book.members(producer.id, on)
        if not members:
            retained = net  # nobody to share with that day: the co-op keeps it all
        legs.append(kept(journal.coop_retained(producer.id), retained))
        if net - retained:
            for household_id, part in largest_remainder(net - retained, members).items():
                legs.append(to_household(household_id, part))
    else:  # enterprise
        linked = 0
        if rule and rule.kind == RuleKind.enterprise and rule.beneficiaries:
            if rule.enterprise_basis == EnterpriseBasis.per_unit:
                linked = min((rule.premium_per_unit_fen or 0) * line.quantity, net)
            else:
                linked = basis_points(net, rule.enterprise_bp or 0)
            weights = [
                (b.household_id, b.weight if rule.weighting == Weighting.weights else 1)
                for b in rule.beneficiaries
            ]
            if linked:
                for household_id, part in largest_remainder(linked, weights).items():
                    legs.append(to_household(household_id, part))
        legs.append(kept(journal.producer_payable(producer.id), net - linked))
    return legs


def attribute(session, orders: list[PaidOrder], *, created_by_id=None) -> list[int]:
    """Attribute paid orders, one entry each, in a constant number of statements."""
    if not orders:
        return []
    lines = [line for order in orders for line in order.lines]
    producers = {
        producer.id: producer
        for producer in session.execute(
            sa.select(Producer).where(Producer.id.in_({line.producer_id for line in lines}))
        ).scalars()
    }
    book = RuleBook(
        session,
        producer_ids=producers.keys(),
        station_ids={line.station_id for line in lines},
    )
    entries = [
        Entry(
            kind=EntryKind.attribution,
            effective_on=order.paid_on,
            order_id=order.order_id,
            created_by_id=created_by_id,
            legs=[
                leg
                for line in order.lines
                for leg in line_legs(line, order, producers[line.producer_id], book)
            ],
        )
        for order in orders
    ]
    return journal.write_entries(session, entries)


def reversal_legs(
    line_postings: list[tuple[str, int, int | None, int | None, bool]],
    *,
    gross: int,
    refunded_before: int,
    refunded_now: int,
    clearing: str,
    order_line_id: int,
    refund_line_id: int,
) -> list[Leg]:
    """Legs that give back ``refunded_now`` of a line whose ``gross`` was attributed by
    ``line_postings``: ``(account, amount, rule_version_id, household_id, is_reversal)``.

    The refund is split by largest remainder over what each account still holds of the line
    (attributed minus already reversed). So no account is ever reversed past what it got, none
    is credited again by a refund, and the refund that empties the line reverses exactly what
    is left: after a full refund every account is back where it was.
    """
    attributed: dict[str, int] = {}
    reversed_: dict[str, int] = {}
    meta: dict[str, tuple[int | None, int | None]] = {}
    for account, amount, rule_id, household_id, is_reversal in line_postings:
        if account == clearing:
            continue
        if is_reversal:
            reversed_[account] = reversed_.get(account, 0) + amount
        else:
            attributed[account] = attributed.get(account, 0) - amount
            meta.setdefault(account, (rule_id, household_id))
    if refunded_before + refunded_now > gross:
        raise ValueError(f"refunding {refunded_before + refunded_now} of a {gross} fen line")
    remaining = [
        (account, attributed[account] - reversed_.get(account, 0))
        for account in attributed
        if attributed[account] - reversed_.get(account, 0) > 0
    ]
    parts = largest_remainder(refunded_now, remaining) if remaining else {}
    legs = [
        Leg(clearing, -refunded_now, order_line_id=order_line_id, refund_line_id=refund_line_id)
    ]
    for account, part in parts.items():
        rule_id, household_id = meta[account]
        legs.append(
            Leg(
                account,
                part,
                order_line_id=order_line_id,
                refund_line_id=refund_line_id,
                rule_version_id=rule_id,
                household_id=household_id,
            )
        )
    return legs


def _postings_by_line(session, order_line_ids: list[int]) -> dict[int, list]:
    """What the lines were attributed and reversed so far, per line and in posting order:
    ``(account, amount, rule_version_id, household_id, is_reversal)``."""
    rows = session.execute(
        sa.select(
            Posting.order_line_id,
            LedgerAccount.key,
            Posting.amount_fen,
            Posting.rule_version_id,
            Posting.household_id,
            JournalEntry.kind,
        )
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.order_line_id.in_(order_line_ids),
            JournalEntry.kind.in_([EntryKind.attribution, EntryKind.refund_reversal]),
        )
        .order_by(Posting.id)
    ).all()
    by_line: dict[int, list] = {}
    for order_line_id, key, amount, rule_id, household_id, kind in rows:
        by_line.setdefault(order_line_id, []).append(
            (key, amount, rule_id, household_id, kind is EntryKind.refund_reversal)
        )
    return by_line


def _refund_legs(refund_lines, by_line: dict[int, list], clearing: str) -> list[Leg]:
    """The reversal legs of every refunded line, each given back from what its own postings
    still hold."""
    legs = []
    for refund_line_id, order_line_id, amount, line_total in refund_lines:
        postings = by_line.get(order_line_id, [])
        refunded_before = -sum(
            amount_
            for key, amount_, _, _, is_reversal in postings
            if key == clearing and is_reversal
        )
        legs.extend(
            reversal_legs(
                postings,
                gross=line_total,
                refunded_before=refunded_before,
                refunded_now=amount,
                clearing=clearing,
                order_line_id=order_line_id,
                refund_line_id=refund_line_id,
            )
        )
    return legs


def reverse_refund(
    session, *, refund_id: int, order_id: int, gateway: str, on: date, refund_lines
) -> int | None:
    """Post the reversal of a confirmed refund. ``refund_lines`` are ``(refund_line_id,
    order_line_id, amount_fen, line_total_fen)``."""
    line_ids = [order_line_id for _, order_line_id, _, _ in refund_lines]
    by_line = _postings_by_line(session, line_ids)
    clearing = journal.gateway_clearing(gateway)
    touched = {key for postings in by_line.values() for key, *_ in postings}
    # Serialised with payout approvals that read these balances (see payouts.approve_run).
    journal.lock_accounts(session, LedgerAccount.key.in_(touched - {clearing}))
    legs = _refund_legs(refund_lines, by_line, clearing)
    ids = journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.refund_reversal,
                effective_on=on,
                order_id=order_id,
                refund_id=refund_id,
                legs=legs,
            )
        ],
    )
    return ids[0] if ids else None
