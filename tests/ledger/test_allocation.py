"""Largest remainder: the parts always make the whole, to the fen."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.ledger.allocation import basis_points, largest_remainder

weights = st.dictionaries(st.integers(1, 10_000), st.integers(1, 1_000), min_size=1, max_size=40)


@given(total=st.integers(-(10**12), 10**12), weights=weights)
def test_parts_sum_to_the_whole_and_stay_within_a_fen_of_the_exact_share(total, weights):
    parts = largest_remainder(total, weights.items())
    assert sum(parts.values()) == total
    assert set(parts) == set(weights)
    weight_sum = sum(weights.values())
    for key, part in parts.items():
        exact = Fraction(total * weights[key], weight_sum)
        assert abs(part - exact) < 1


@given(total=st.integers(0, 10**9), weights=weights, seed=st.randoms())
def test_the_order_of_the_inputs_changes_nothing(total, weights, seed):
    pairs = list(weights.items())
    shuffled = pairs[:]
    seed.shuffle(shuffled)
    assert largest_remainder(total, pairs) == largest_remainder(total, shuffled)


def test_ties_go_to_the_lowest_household_id():
    assert largest_remainder(1, [(7, 1), (3, 1), (5, 1)]) == {3: 1, 5: 0, 7: 0}
    assert largest_remainder(100, [(2, 1), (1, 1), (3, 1)]) == {1: 34, 2: 33, 3: 33}


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        largest_remainder(10, [])
    with pytest.raises(ValueError):
        largest_remainder(10, [(1, 0)])


@given(amount=st.integers(0, 10**12), bp=st.integers(0, 10_000))
def test_basis_points_round_half_up_in_integers(amount, bp):
    exact = Fraction(amount * bp, 10_000)
    result = basis_points(amount, bp)
    assert result - exact <= Fraction(1, 2) and exact - result < Fraction(1, 2)
