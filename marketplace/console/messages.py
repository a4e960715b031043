"""The services' and schemas' reasons, in Chinese for the console's users.

The console reads a refusal's code, never its English text: each reason is rendered from its
code through the service's message catalogs (``marketplace/i18n.py``), with its parameters
(amounts shown in yuan). A text that is no declared reason is shown as it was written.
"""

from marketplace import i18n

LANGUAGE = "zh"


def chinese(reason) -> str:
    """The reason in Chinese."""
    return i18n.in_language(reason, LANGUAGE)


def chinese_errors(errors: dict) -> dict:
    return {field: [chinese(reason) for reason in reasons] for field, reasons in errors.items()}
