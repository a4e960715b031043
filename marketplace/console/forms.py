"""From an HTML form to the data a service takes, through the API's own schemas.

A form posts text: amounts in yuan ("39.80"), counts ("120"). They are turned into the API's
units (fen, integers) and then loaded by the very schema the API endpoint loads, so a form
accepts exactly what the API accepts and names the same fields when it refuses.
"""

from decimal import Decimal, DecimalException

from flask import render_template, request
from marshmallow import Schema, ValidationError

from marketplace.console import messages
from marketplace.errors import DomainError, NotFound, ValidationFailed, flatten_field_errors
from marketplace.reasons import reason

NOT_YUAN = reason("yuan.not_an_amount", "not an amount in yuan, like 39.80")
FINER_THAN_FEN = reason("yuan.finer_than_fen", "at most two decimals")
TOO_MANY_YUAN = reason("yuan.too_large", "too large an amount")
#: marshmallow's own reason for a field that is not a whole number: a count typed on a form is
#: refused as the API refuses it in a body.
NOT_AN_INTEGER = reason("field.not_an_integer", "Not a valid integer.")


class NotAnAmount(ValueError):
    """Text that is no amount in yuan; ``reason`` says why."""

    def __init__(self, why):
        super().__init__(why)
        self.reason = why


def load(schema: Schema, form, *, yuan: dict[str, str] | None = None, whole: tuple = ()):
    """The form's fields loaded by ``schema``: ``yuan`` maps a form field in yuan to the
    schema's field in fen, ``whole`` fields become integers, empty fields are left out.
    Raises ValidationFailed naming each bad field by the schema's name."""
    data = {name: text for name in schema.fields if (text := (form.get(name) or "").strip())}
    errors = {}
    for form_name, field in (yuan or {}).items():
        text = (form.get(form_name) or "").strip()
        if text:
            try:
                data[field] = _fen(text)
            except NotAnAmount as error:
                errors[field] = [error.reason]
    for name in whole:
        if name in data:
            try:
                data[name] = int(data[name])
            except ValueError:
                errors[name] = [NOT_AN_INTEGER()]
    if errors:
        raise ValidationFailed(errors)
    try:
        return schema.load(data)
    except ValidationError as error:
        refused = flatten_field_errors(error.messages)
        raise ValidationFailed(refused) from None


def _fen(text: str) -> int:
    """Yuan with at most two decimals, as fen: "39.8" -> 3980."""
    try:
        amount = Decimal(text.strip().replace(",", "").removeprefix("¥"))
    except DecimalException:  # not a number, or one beyond what a decimal can hold
        raise NotAnAmount(TOO_MANY_YUAN() if _looks_numeric(text) else NOT_YUAN()) from None
    if not amount.is_finite():
        raise NotAnAmount(NOT_YUAN())
    # Before quantizing: a decimal too long for the context's precision cannot be quantized
    # (copy_abs, unlike abs(), applies no context, so a huge exponent cannot overflow it).
    if amount.copy_abs() > Decimal("100000000"):
        raise NotAnAmount(TOO_MANY_YUAN())
    if amount != amount.quantize(Decimal("0.01")):
        raise NotAnAmount(FINER_THAN_FEN())
    return int(amount * 100)


def _looks_numeric(text: str) -> bool:
    return any(ch.isdigit() for ch in text) and "e" in text.lower()


def refusal(error: DomainError) -> dict:
    """What a refused form's page shows: the service's reasons by field and its message (in
    Chinese where known), and what was typed. A NotFound is no refusal: it goes on to the 404
    page."""
    if isinstance(error, NotFound):
        raise error
    return {
        "errors": messages.chinese_errors(error.errors or {}),
        "message": messages.chinese(error.detail),
        "values": request.form,
    }


def render_form(template: str, **context) -> str:
    """A page with forms, first shown (nothing typed, no reasons) or shown again refused."""
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render_template(template, **context)
