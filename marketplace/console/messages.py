"""The services' and schemas' reasons, in Chinese for the console's users.

The console reads a refusal's code, never its English text: each reason is rendered from its
code through the service's message catalogs (``marketplace/i18n.py``), with its parameters
(amounts shown in yuan). A text that is no declared reason is shown as it was written, and
under test (``REQUIRE_REASON_CODES``) fails the test that meets it, as the API's problems do:
only a code has a translation, so uncoded text would reach a person in English.
"""

from flask import current_app, has_app_context

from marketplace import i18n
from marketplace.reasons import REASONS, Message

LANGUAGE = "zh"


def chinese(reason) -> str:
    """The reason in Chinese."""
    if _codes_required() and not (isinstance(reason, Message) and reason.code in REASONS):
        raise AssertionError(f"the console was given a reason with no code: {reason!r}")
    return i18n.in_language(reason, LANGUAGE)


def chinese_errors(errors: dict) -> dict:
    return {field: [chinese(reason) for reason in reasons] for field, reasons in errors.items()}


def _codes_required() -> bool:
    return has_app_context() and bool(current_app.config.get("REQUIRE_REASON_CODES"))
