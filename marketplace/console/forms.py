"""From an HTML form to the data a service takes, through the API's own schemas.

A form posts text: amounts in yuan ("39.80"), counts ("120"). They are turned into the API's
units (fen, integers) and then loaded by the very schema the API endpoint loads, so a form
accepts exactly what the API accepts and names the same fields when it refuses.
"""

from decimal import Decimal, InvalidOperation

from flask import render_template, request
from marshmallow import Schema, ValidationError

from marketplace.console import messages
from marketplace.errors import DomainError, NotFound, ValidationFailed, flatten_field_errors


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
            except ValueError as error:
                errors[field] = [str(error)]
    for name in whole:
        if name in data:
            try:
                data[name] = int(data[name])
            except ValueError:
                errors[name] = ["请输入整数"]
    if errors:
        raise ValidationFailed(errors)
    try:
        return schema.load(data)
    except ValidationError as error:
        raise ValidationFailed(flatten_field_errors(error.messages)) from None


def _fen(text: str) -> int:
    """Yuan with at most two decimals, as fen: "39.8" -> 3980."""
    try:
        amount = Decimal(text.strip().replace(",", "").removeprefix("¥"))
    except InvalidOperation:
        raise ValueError("请输入金额（元），如 39.80") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("金额最多两位小数")
    if abs(amount) > Decimal("100000000"):
        raise ValueError("金额过大")
    return int(amount * 100)


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
