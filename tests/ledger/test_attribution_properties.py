"""Hypothesis properties of attribution and its reversal, on the pure functions:
every line's postings sum to zero; attributed + retained + fees = captured; refunds of any
sequence of parts reverse exactly, and a full refund leaves every account where it started."""

from collections import defaultdict
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from marketplace.ledger import journal
from marketplace.ledger.attribution import PaidLine, PaidOrder, line_legs, reversal_legs
from marketplace.ledger.models import (
    BenefitRule,
    EnterpriseBasis,
    RuleBeneficiary,
    RuleKind,
    Weighting,
)
from marketplace.producers.models import Producer, ProducerKind

PAID_ON = date(2026, 11, 10)
CLEARING = journal.gateway_clearing("stripe")


class StaticBook:
    """The RuleBook interface over plain data (what the database would have returned)."""

    def __init__(self, rule=None, fee_bp=0, members=()):
        self._rule, self._fee_bp, self._members = rule, fee_bp, sorted(members)

    def rule(self, producer_id, on):
        return self._rule

    def fee_bp(self, station_id, on):
        return self._fee_bp

    def members(self, cooperative_id, on):
        return self._members


def line(total, quantity=1):
    return PaidLine(
        id=1, order_id=1, producer_id=9, station_id=3, quantity=quantity, line_total_fen=total
    )


def order(paid_line):
    return PaidOrder(order_id=1, gateway="stripe", paid_on=PAID_ON, lines=(paid_line,))


def summarize(legs):
    by_kind = defaultdict(int)
    for leg in legs:
        by_kind[leg.account.partition(":")[0]] += leg.amount_fen
    return by_kind


amounts = st.integers(1, 50_000_000)
fee_bps = st.integers(0, 3_000)
members = st.dictionaries(st.integers(1, 5_000), st.integers(1, 500), max_size=30)


@given(total=amounts, fee_bp=fee_bps, retained_bp=st.integers(0, 10_000), shares=members)
def test_cooperative_lines_balance_and_add_up(total, fee_bp, retained_bp, shares):
    rule = BenefitRule(id=11, kind=RuleKind.cooperative, retained_bp=retained_bp)
    producer = Producer(id=9, kind=ProducerKind.cooperative)
    legs = line_legs(
        line(total), order(line(total)), producer, StaticBook(rule, fee_bp, shares.items())
    )
    assert sum(leg.amount_fen for leg in legs) == 0
    kinds = summarize(legs)
    attributed, retained, fees = (
        -kinds["household_income"],
        -kinds["coop_retained"],
        -kinds["station_fee"],
    )
    assert attributed + retained + fees == total
    assert min(attributed, retained, fees) >= 0
    household_legs = [leg for leg in legs if leg.household_id]
    assert {leg.household_id for leg in household_legs} <= set(shares)
    assert all(leg.rule_version_id == 11 for leg in household_legs)
    if shares and attributed:
        share_sum = sum(shares.values())
        for leg in household_legs:
            exact = attributed * shares[leg.household_id] / share_sum
            assert abs(-leg.amount_fen - exact) < 1


@given(
    total=amounts,
    fee_bp=fee_bps,
    basis=st.sampled_from(list(EnterpriseBasis)),
    bp=st.integers(0, 10_000),
    premium=st.integers(0, 100_000),
    quantity=st.integers(1, 50),
    weights=st.dictionaries(st.integers(1, 5_000), st.integers(1, 9), min_size=1, max_size=20),
    weighted=st.booleans(),
)
def test_enterprise_lines_balance_and_never_pass_on_more_than_net(
    total, fee_bp, basis, bp, premium, quantity, weights, weighted
):
    rule = BenefitRule(
        id=12,
        kind=RuleKind.enterprise,
        enterprise_basis=basis,
        enterprise_bp=bp,
        premium_per_unit_fen=premium,
        weighting=Weighting.weights if weighted else Weighting.equal,
        beneficiaries=[RuleBeneficiary(household_id=h, weight=w) for h, w in weights.items()],
    )
    producer = Producer(id=9, kind=ProducerKind.enterprise)
    paid = line(total, quantity)
    legs = line_legs(paid, order(paid), producer, StaticBook(rule, fee_bp))
    assert sum(leg.amount_fen for leg in legs) == 0
    kinds = summarize(legs)
    attributed, payable, fees = (
        -kinds["household_income"],
        -kinds["producer_payable"],
        -kinds["station_fee"],
    )
    assert attributed + payable + fees == total
    assert attributed >= 0 and payable >= 0
    if basis is EnterpriseBasis.per_unit:
        assert attributed == min(premium * quantity, total - fees)


@given(total=amounts, fee_bp=fee_bps)
def test_a_household_seller_gets_the_whole_net(total, fee_bp):
    producer = Producer(id=9, kind=ProducerKind.household, household_id=77)
    legs = line_legs(line(total), order(line(total)), producer, StaticBook(None, fee_bp))
    assert sum(leg.amount_fen for leg in legs) == 0
    kinds = summarize(legs)
    assert -kinds["household_income"] == total - (-kinds["station_fee"])


def _as_postings(legs, *, reversal=False):
    return [
        (leg.account, leg.amount_fen, leg.rule_version_id, leg.household_id, reversal)
        for leg in legs
    ]


@given(
    total=amounts,
    fee_bp=fee_bps,
    retained_bp=st.integers(0, 10_000),
    shares=members,
    cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
    finish=st.booleans(),
)
def test_refunds_of_any_parts_reverse_exactly(total, fee_bp, retained_bp, shares, cuts, finish):
    rule = BenefitRule(id=11, kind=RuleKind.cooperative, retained_bp=retained_bp)
    producer = Producer(id=9, kind=ProducerKind.cooperative)
    postings = _as_postings(
        line_legs(
            line(total), order(line(total)), producer, StaticBook(rule, fee_bp, shares.items())
        )
    )
    original = defaultdict(int)
    for account, amount, _, _, _ in postings:
        original[account] += amount
    # Refund parts until the line is used up; optionally refund the rest at the end.
    refunded = 0
    parts = []
    for cut in cuts:
        part = min(cut, total - refunded)
        if part <= 0:
            break
        parts.append(part)
        refunded += part
    if finish and refunded < total:
        parts.append(total - refunded)
    refunded = 0
    for number, part in enumerate(parts):
        legs = reversal_legs(
            postings,
            gross=total,
            refunded_before=refunded,
            refunded_now=part,
            clearing=CLEARING,
            order_line_id=1,
            refund_line_id=number + 1,
        )
        assert sum(leg.amount_fen for leg in legs) == 0
        assert next(leg for leg in legs if leg.account == CLEARING).amount_fen == -part
        assert all(leg.amount_fen >= 0 for leg in legs if leg.account != CLEARING)
        postings += _as_postings([leg for leg in legs if leg.amount_fen], reversal=True)
        refunded += part
    net = defaultdict(int)
    for account, amount, _, _, _ in postings:
        net[account] += amount
    # What is left on each account is its share of what was not refunded.
    assert net[CLEARING] == total - refunded
    assert sum(amount for account, amount in net.items() if account != CLEARING) == -(
        total - refunded
    )
    if refunded == total:
        assert all(amount == 0 for amount in net.values())
    for account, amount in net.items():
        if account != CLEARING:
            assert original[account] <= amount <= 0  # never reversed past what it got
