"""The console shows the reasons it knows in Chinese, and any other as it was written."""

import pytest

from marketplace.console.messages import chinese, chinese_errors


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("Missing data for required field.", "必填"),
        (
            "Must be greater than or equal to 0 and less than or equal to 10000000.",
            "须在 0 到 10000000 之间",
        ),
        ("Length must be between 1 and 100.", "长度须在 1 到 100 个字之间"),
        ("must equal the order total, 3980 fen", "须等于订单金额"),
        (
            "2026-11 is not over yet: a month is closed after its last day.",
            "这个月还没有结束，月末之后才能关账。",
        ),
        ("Order MK2026 is paid; only unpaid orders take a payment.", "订单已不是待付款状态。"),
        ("Something nobody translated.", "Something nobody translated."),
    ],
)
def test_reasons(reason, shown):
    assert chinese(reason) == shown


def test_errors_keep_their_fields():
    assert chinese_errors({"name": ["Missing data for required field."]}) == {"name": ["必填"]}
