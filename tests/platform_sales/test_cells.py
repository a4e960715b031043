"""A cell that cannot be read says why with a declared reason: the English text the import has
always given, and the code and values a client renders it from in its own language."""

import pytest

from marketplace.platform_sales.cells import BadCell, fen, local_time, whole_number
from marketplace.platform_sales.rows import Problem
from marketplace.reasons import REASONS


@pytest.mark.parametrize(
    ("parse", "cell", "text", "code"),
    [
        (fen, None, "missing", "platform_cell.missing"),
        (fen, "12.345", "more than two decimals: '12.345'", "platform_cell.more_than_two_decimals"),
        (fen, "-3", "negative: '-3'", "platform_cell.negative_amount"),
        (fen, "1" * 13, f"beyond any order: '{'1' * 13}'", "platform_cell.beyond_any_order"),
        (local_time, "0001-01-01 00:00:00", "not a year of sales: '0001-01-01 00:00:00'",
         "platform_cell.not_a_sales_year"),
        (local_time, "昨天", "not a date and time: '昨天'", "platform_cell.not_a_time"),
        (whole_number, "2.5", "not a whole number: '2.5'", "platform_cell.not_a_whole_number"),
        (whole_number, "0", "out of range: 0", "platform_cell.quantity_out_of_range"),
    ],
)  # fmt: skip
def test_a_bad_cell_carries_its_reason(parse, cell, text, code):
    with pytest.raises(BadCell) as refused:
        parse(cell)
    assert refused.value.reason == str(refused.value) == text
    assert refused.value.reason.code == code
    assert code in REASONS


def test_a_long_cell_is_quoted_cut_short_in_the_text_and_in_the_parameters():
    cell = "元" * 50
    with pytest.raises(BadCell) as refused:
        fen(cell)
    assert refused.value.reason == "not an amount of yuan: " + repr("元" * 40 + "…")
    assert refused.value.reason.params == {"cell": "元" * 40 + "…"}


def test_digits_int_cannot_read_are_not_a_whole_number():
    with pytest.raises(BadCell) as refused:
        whole_number("²")
    assert refused.value.reason.code == "platform_cell.not_a_whole_number"


def test_a_problem_as_kept_names_its_reason_by_code():
    with pytest.raises(BadCell) as refused:
        fen("12.345")
    problem = Problem(7, "商品单价", refused.value.reason)
    assert problem.as_dict() == {
        "line": 7,
        "column": "商品单价",
        "reason": "more than two decimals: '12.345'",
        "code": "platform_cell.more_than_two_decimals",
        "params": {"cell": "12.345"},
    }
