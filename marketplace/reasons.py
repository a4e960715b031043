"""Why a request was refused, for programs and for people.

Every reason the service gives has a stable ``code`` (``sku.price_above_catalog``), an English
template (what the API has always said: ``above the catalog price, {catalog_price_fen} fen``)
and the parameters its message needs. A domain declares its reasons beside the rules that give
them::

    PRICE_ABOVE_CATALOG = reason("sku.price_above_catalog", "above the catalog price, ...")
    errors["price_fen"] = [PRICE_ABOVE_CATALOG(catalog_price_fen=sku.price_fen)]

A reason given is a ``Message``: the English text, as a ``str`` (so everything that handled the
text still does), which also carries its code and parameters. Problem responses send both
(``errors`` as text, ``reasons`` as codes with parameters); the console and an API request
asking ``Accept-Language: zh-CN`` read the text in Chinese, from the Babel catalogs under
``marketplace/translations`` (each reason's English template is its message id, its code the
context).

marshmallow's own messages (a required field, a length, a range) get codes too: its fields'
and validators' default messages are replaced here, once, by coded templates with the same
text (``code_marshmallow_messages``, which the package's ``__init__`` runs before any schema
is defined).
"""

import datetime
import enum
import string
from dataclasses import dataclass

#: Every reason declared, by code: the API document lists them.
REASONS: dict[str, "Reason"] = {}

_FIELDS = string.Formatter()
#: Placeholders that are wording, not values: marketplace reads none of them (a range's bounds
#: are always inclusive here, so "greater than or equal to" says nothing a translation needs),
#: and the refused input itself is never echoed back.
_WORDING = frozenset({"input", "min_op", "max_op"})


class Message(str):
    """A reason given: its English text, its code and the parameters the text was made of."""

    code: str
    params: dict

    def __new__(cls, text: str, code: str, params: dict | None = None):
        message = super().__new__(cls, text)
        message.code = code
        message.params = params or {}
        return message

    def format(self, *args, **params) -> "Message":
        """Fill the text's placeholders and keep the values as parameters (marshmallow formats
        its messages this way, sometimes twice: a range's bounds after its wording)."""
        text = super().format(*args, **params)
        named = [name for _, name, _, _ in _FIELDS.parse(str(self)) if name]
        kept = {
            name: _plain(params[name]) for name in named if name in params and name not in _WORDING
        }
        return Message(text, self.code, {**self.params, **kept})

    def __reduce__(self):
        return (Message, (str(self), self.code, self.params))


def _plain(value):
    """A parameter as JSON carries it."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Reason:
    """A kind of refusal: its code and its English template (``str.format`` placeholders)."""

    code: str
    template: str

    def __call__(self, **params) -> Message:
        """A message of this reason. Every parameter given is kept, the template's and any
        other a translation may prefer (the fen behind a figure the English shows in yuan)."""
        text = str.format(self.template, **params)
        kept = {name: _plain(value) for name, value in params.items() if name not in _WORDING}
        return Message(text, self.code, kept)

    @property
    def parameters(self) -> list[str]:
        """The names a message of this reason is made of, each once, in order."""
        # marshmallow formats some templates twice: "Must be {min_op} {{min}}." names min too.
        unescaped = self.template.replace("{{", "{").replace("}}", "}")
        names = [name for _, name, _, _ in _FIELDS.parse(unescaped) if name]
        return [name for name in dict.fromkeys(names) if name not in _WORDING]


def reason(code: str, template: str) -> Reason:
    """Declare a reason. A code names one reason: declaring it again with another text is a
    mistake, caught here."""
    found = REASONS.get(code)
    if found is not None and found.template != template:
        raise ValueError(f"reason {code} declared twice, as {found.template!r} and {template!r}")
    REASONS[code] = Reason(code, template)
    return REASONS[code]


#: What a message carries when nothing declared its reason (only third-party text can).
UNCODED = "invalid"


def coded(message) -> dict:
    """``{"code": ..., "params": {...}}`` of a message (``UNCODED`` for plain text)."""
    if isinstance(message, Message):
        return {"code": message.code, "params": message.params}
    return {"code": UNCODED, "params": {}}


# --- marshmallow's own messages -------------------------------------------------------------

#: (class, message attribute or error key, code): marshmallow's messages as reasons. The text
#: is marshmallow's own, read from the class.
_MARSHMALLOW = (
    ("fields.Field", "required", "field.required"),
    ("fields.Field", "null", "field.null"),
    ("fields.Field", "validator_failed", "field.invalid"),
    ("fields.Nested", "type", "field.not_an_object"),
    ("fields.List", "invalid", "field.not_a_list"),
    ("fields.Tuple", "invalid", "field.not_a_tuple"),
    ("fields.String", "invalid", "field.not_a_string"),
    ("fields.String", "invalid_utf8", "field.not_utf8"),
    ("fields.UUID", "invalid_uuid", "field.not_a_uuid"),
    ("fields.Number", "invalid", "field.not_a_number"),
    ("fields.Number", "too_large", "field.number_too_large"),
    ("fields.Integer", "invalid", "field.not_an_integer"),
    ("fields.Float", "special", "field.not_a_finite_number"),
    ("fields.Decimal", "special", "field.not_a_finite_number"),
    ("fields.Boolean", "invalid", "field.not_a_boolean"),
    ("fields._TemporalField", "invalid", "field.not_a_time"),
    ("fields._TemporalField", "invalid_awareness", "field.time_zone"),
    ("fields.Date", "invalid", "field.not_a_date"),
    ("fields.TimeDelta", "invalid", "field.not_a_duration"),
    ("fields.Mapping", "invalid", "field.not_a_mapping"),
    ("fields.Url", "invalid", "field.not_a_url"),
    ("fields.Email", "invalid", "field.not_an_email"),
    ("fields.Enum", "unknown", "field.not_a_choice"),
    ("validate.Length", "message_min", "length.too_short"),
    ("validate.Length", "message_max", "length.too_long"),
    ("validate.Length", "message_all", "length.out_of_range"),
    ("validate.Length", "message_equal", "length.not_exact"),
    ("validate.Range", "message_min", "number.too_small"),
    ("validate.Range", "message_max", "number.too_large"),
    ("validate.Range", "message_all", "number.out_of_range"),
    ("validate.OneOf", "default_message", "field.not_a_choice"),
    ("validate.NoneOf", "default_message", "field.refused_value"),
    ("validate.Regexp", "default_message", "field.bad_pattern"),
    ("validate.Equal", "default_message", "field.not_equal"),
    ("validate.ContainsOnly", "default_message", "field.not_choices"),
    ("schema", "unknown", "field.unknown"),
    ("schema", "type", "body.not_an_object"),
)


def code_marshmallow_messages() -> None:
    """Replace marshmallow's default messages by coded ones with the same text (once)."""
    import marshmallow
    from marshmallow import fields, validate

    if getattr(marshmallow, "_reasons_coded", False):
        return
    modules = {"fields": fields, "validate": validate}
    for where, key, code in _MARSHMALLOW:
        if where == "schema":
            messages = dict(marshmallow.Schema._default_error_messages)
            messages[key] = Message(messages[key], code)
            marshmallow.Schema._default_error_messages = messages
            reason(code, str(messages[key]))
            continue
        module, name = where.split(".")
        cls = getattr(modules[module], name)
        if module == "fields":
            messages = dict(cls.__dict__["default_error_messages"])
            messages[key] = Message(messages[key], code)
            cls.default_error_messages = messages
            reason(code, str(messages[key]))
        else:
            text = getattr(cls, key)
            setattr(cls, key, Message(text, code))
            reason(code, text)
    marshmallow._reasons_coded = True
