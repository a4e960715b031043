"""The console shows every reason in Chinese, from its code: never by matching English text."""

import pytest

from marketplace.console.messages import chinese, chinese_errors
from marketplace.payments.service import AMOUNT_NOT_ORDER_TOTAL
from marketplace.reasons import Message

MISSING = Message("Missing data for required field.", "field.required")


def test_a_reason_is_shown_from_its_code(app):
    with app.app_context():
        assert chinese(MISSING) == "必填"


def test_a_text_that_is_no_reason_is_shown_as_written(app, monkeypatch):
    plain = "Missing data for required field."
    monkeypatch.setitem(app.config, "REQUIRE_REASON_CODES", False)
    with app.app_context():
        assert chinese(plain) == plain


def test_under_test_a_text_that_is_no_reason_fails(app):
    """English that no code names has no translation: the test that meets it fails, as the
    API's problem documents do (``REQUIRE_REASON_CODES``)."""
    with app.app_context(), pytest.raises(AssertionError, match="no code"):
        chinese("Missing data for required field.")


def test_amounts_are_shown_in_yuan(app):
    with app.app_context():
        shown = chinese(AMOUNT_NOT_ORDER_TOTAL(total_fen=398012))
    assert "3980.12" in shown and "398012" not in shown


def test_errors_keep_their_fields(app):
    with app.app_context():
        assert chinese_errors({"name": [MISSING]}) == {"name": ["必填"]}


def test_a_translation_missing_a_value_falls_back_to_the_english(app):
    from marketplace.console.forms import YUAN_AT_LEAST

    given_only_the_text = YUAN_AT_LEAST(min="0.01")  # its translation reads {min_fen:yuan}
    with app.app_context():
        assert chinese(given_only_the_text) == "at least 0.01 yuan"
        assert "0.01" in chinese(YUAN_AT_LEAST(min="0.01", min_fen=1))
