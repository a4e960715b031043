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


class Unreadable(ValueError):
    """Text that is no amount in yuan, or no whole number; ``reason`` says why."""

    def __init__(self, why):
        super().__init__(why)
        self.reason = why


def load(schema: Schema, form, *, yuan: dict[str, str] | None = None, whole: tuple = ()):
    """The form's fields loaded by ``schema``: ``yuan`` maps a form field in yuan to the
    schema's field in fen, ``whole`` fields become integers, empty fields are left out.

    A field of a nested schema is named by its path, as the API names it when it refuses one:
    ``skus.0.code``, ``certificate.number``; ``yuan`` and ``whole`` name the last part
    (``price`` turns ``skus.0.price`` into ``skus.0.price_fen``). Raises ValidationFailed
    naming each bad field by the schema's path, its range spoken of in yuan where the form
    spoke yuan."""
    yuan = yuan or {}
    flat, errors, in_yuan = {}, {}, {}
    for name in form:
        text = (form.get(name) or "").strip()
        *path, last = name.split(".")
        key = ".".join([*path, yuan.get(last, last)])
        if not text or key.split(".")[0] not in schema.fields:
            continue
        try:
            if last in yuan:
                flat[key] = in_yuan[key] = _fen(text)
            elif last in whole:
                flat[key] = _whole(text)
            else:
                flat[key] = text
        except Unreadable as error:
            errors[key] = [error.reason]
    if errors:
        raise ValidationFailed(errors)
    try:
        return schema.load(_nested(flat))
    except ValidationError as error:
        refused = flatten_field_errors(error.messages)
        for key, amount in in_yuan.items():
            if key in refused:
                refused[key] = [_in_yuan(reason, amount) for reason in refused[key]]
        raise ValidationFailed(refused) from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # not a whole number, or too many digits to read as one
        raise Unreadable(NOT_AN_INTEGER()) from None


def _nested(flat: dict) -> dict:
    """``{"skus.0.code": "A"}`` -> ``{"skus": [{"code": "A"}]}``: numbered parts are a list's
    items, in their order."""
    tree: dict = {}
    for key, value in flat.items():
        *path, last = key.split(".")
        branch = tree
        for part in path:
            branch = branch.setdefault(part, {})
        branch[last] = value
    return _lists(tree)


def _lists(branch):
    if not isinstance(branch, dict):
        return branch
    items = {key: _lists(value) for key, value in branch.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


#: A range refused on an amount the form took in yuan, said in yuan: the schema's bounds are
#: fen, which nobody at the counter typed.
YUAN_AT_LEAST = reason("yuan.at_least", "at least {min} yuan")
YUAN_AT_MOST = reason("yuan.at_most", "at most {max} yuan")
_RANGES = ("number.too_small", "number.too_large", "number.out_of_range")


def _in_yuan(refusal, amount_fen: int):
    code = getattr(refusal, "code", None)
    if code not in _RANGES:
        return refusal
    low, high = refusal.params.get("min"), refusal.params.get("max")
    if low is not None and amount_fen < low:
        return YUAN_AT_LEAST(min=_yuan_text(low), min_fen=low)
    if high is not None:
        return YUAN_AT_MOST(max=_yuan_text(high), max_fen=high)
    return refusal


def _yuan_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(text: str) -> int:
    """Yuan with at most two decimals, as fen: "39.8" -> 3980."""
    try:
        amount = Decimal(text.strip().replace(",", "").removeprefix("¥"))
    except DecimalException:  # not a number, or one beyond what a decimal can hold
        raise Unreadable(TOO_MANY_YUAN() if _looks_numeric(text) else NOT_YUAN()) from None
    if not amount.is_finite():
        raise Unreadable(NOT_YUAN())
    # Before quantizing: a decimal too long for the context's precision cannot be quantized
    # (copy_abs, unlike abs(), applies no context, so a huge exponent cannot overflow it).
    if amount.copy_abs() > Decimal("100000000"):
        raise Unreadable(TOO_MANY_YUAN())
    if amount != amount.quantize(Decimal("0.01")):
        raise Unreadable(FINER_THAN_FEN())
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
