"""Checkout's request and response bodies, read and written by their schemas' own fields
without marshmallow's per-field machinery.

Checkout is the hottest write there is, and under load marshmallow cost a checkout more than
its statement: every field of a dump walks five calls deep to read one attribute, every field
of a load as many to take one value. Both here are plans made once per schema from its fields:

* ``dump_plan``: for each field, the attribute read with ``getattr`` and the value turned by
  the field's own ``_serialize``; a nested schema, or a list of one, gets a plan of its own.
  What marshmallow's ``dump`` writes, key for key.
* ``read_plan``: a body whose every value already has its field's type (a ``str`` for a
  string, an ``int`` for a strict integer, a ``bool`` for a boolean, a dict for a nested
  schema, a list of dicts for a list of them) is checked by the fields' own validators and
  handed back as it is, with the fields' defaults. Anything else (a value of another type, an
  unknown key, a missing field, a value a validator refuses) is not read here: the schema's
  ``load`` reads it, and says what is wrong. So a refusal is always marshmallow's, word for word.

Neither runs schema-level hooks: a schema using them says so itself (``CheckoutIn`` checks its
one rule across lines before taking what ``read_plain`` read). ``tests/orders/test_fast_bodies.py``
holds both to marshmallow's ``dump`` and ``load`` (hypothesis: any body, any order).
"""

import datetime as dt
from collections.abc import Callable

import marshmallow as ma
from marshmallow import fields
from marshmallow.utils import missing

from marketplace.numbers import BoundedInteger

# --- dumping ----------------------------------------------------------------------------------


def dump_plan(schema: ma.Schema) -> Callable[[object], dict]:
    """A function writing what ``schema.dump(obj)`` writes, for one object (not a mapping:
    attributes are read with ``getattr``, as marshmallow reads an object's)."""
    steps = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        steps.append((key, attribute, _value_writer(field)))

    def dump(obj) -> dict:
        written = {}
        for key, attribute, write in steps:
            value = write(obj, attribute)
            if value is not missing:
                written[key] = value
        return written

    return dump


def _value_writer(field: fields.Field) -> Callable[[object, str], object]:
    if isinstance(field, fields.Method):
        method = field._serialize_method
        return (lambda obj, attribute: method(obj)) if method else (lambda obj, a: missing)
    nested = _nested_plan(field)
    serialize = _plain_serializer(field) or field._serialize
    default = field.dump_default

    def write(obj, attribute):
        value = getattr(obj, attribute, missing)
        if value is missing:
            value = default() if callable(default) else default
            if value is missing:
                return missing
        if nested is not None:
            return nested(value)
        return serialize(value, attribute, obj)

    return write


def _plain_serializer(field: fields.Field):
    """For the commonest fields, their ``_serialize`` without its calls: an int as an int, a
    str as a str, an enum by name, a datetime in ISO 8601; other values go to the field's."""
    own = field._serialize
    if type(field) is fields.Integer or isinstance(field, BoundedInteger):
        if field.as_string:
            return None
        return lambda value, attribute, obj: (
            value if type(value) is int else own(value, attribute, obj)
        )
    if type(field) is fields.String:
        return lambda value, attribute, obj: (
            value if type(value) is str else own(value, attribute, obj)
        )
    if type(field) is fields.Enum and field.by_value is False:
        return lambda value, attribute, obj: (
            value.name if isinstance(value, field.enum) else own(value, attribute, obj)
        )
    if type(field) is fields.DateTime and field.format in (None, "iso", "iso8601"):
        return lambda value, attribute, obj: (
            value.isoformat() if type(value) is dt.datetime else own(value, attribute, obj)
        )
    return None


def _nested_plan(field: fields.Field) -> Callable[[object], object] | None:
    """For a nested schema (or a list of one) without hooks, what writes its value."""
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        one = _nested_plan(field.inner)
        if one is None:
            return None
        return lambda items: None if items is None else [one(item) for item in items]
    if not isinstance(field, fields.Nested):
        return None
    schema = field.schema
    if schema.many or field.many or _has_hooks(schema, "pre_dump", "post_dump"):
        return None
    dump = dump_plan(schema)
    return lambda value: None if value is None else dump(value)


def _has_hooks(schema: ma.Schema, *kinds: str) -> bool:
    return any(schema._hooks.get(kind) for kind in kinds)


# --- reading ----------------------------------------------------------------------------------

#: Hooks that change what a load reads or refuses, which a read plan does not run.
_READ_HOOKS = ("pre_load", "post_load", "validates")


class NotPlain(Exception):
    """The body is not read here; the schema's ``load`` reads it."""


def read_plan(schema: ma.Schema) -> Callable[[object], dict | None] | None:
    """A function returning what ``schema.load(data)`` returns when every value of ``data``
    has its field's type and passes its validators, and None when ``schema.load`` must read
    it instead. None when the schema is one a plan cannot read at all. The schema's own
    ``validates_schema`` rules are the caller's to check."""
    if schema.many or schema.unknown != ma.RAISE or _has_hooks(schema, *_READ_HOOKS):
        return None
    try:
        read = _schema_reader(schema)
    except NotPlain:
        return None

    def read_plain(data) -> dict | None:
        try:
            return read(data)
        except (NotPlain, ma.ValidationError):
            return None

    return read_plain


def _schema_reader(schema: ma.Schema) -> Callable[[object], dict]:
    fields_ = schema.load_fields
    names = fields_.keys()
    steps = []
    for name, field in fields_.items():
        if field.data_key is not None or field.attribute is not None:
            raise NotPlain
        steps.append((name, field, _value_reader(field)))

    def read(data) -> dict:
        if type(data) is not dict or not data.keys() <= names:
            raise NotPlain
        read = {}
        for name, field, read_value in steps:
            value = data.get(name, missing)
            if value is missing:
                if field.required:
                    raise NotPlain
                default = field.load_default
                value = default() if callable(default) else default
                if value is not missing:
                    read[name] = value
            elif value is None:
                if not field.allow_none:
                    raise NotPlain
                read[name] = None
            else:
                value = read_value(value)
                field._validate(value)
                read[name] = value
        return read

    return read


#: The field types whose value is taken as it is when it already has this Python type (bool is
#: no integer here: marshmallow refuses True for an integer).
_PLAIN_TYPES = ((fields.Boolean, bool), (fields.String, str), (fields.Integer, int))


def _value_reader(field: fields.Field) -> Callable[[object], object]:
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        one = _nested_reader(field.inner)

        def read_list(value):
            if type(value) is not list:
                raise NotPlain
            return [one(item) for item in value]

        return read_list
    if isinstance(field, fields.Nested):
        return _nested_reader(field)
    if isinstance(field, fields.Integer) and not field.strict:
        # A loose integer turns 1.0 or "1" into 1: marshmallow reads those.
        raise NotPlain
    for field_type, python_type in _PLAIN_TYPES:
        if isinstance(field, field_type):

            def read_value(value, python_type=python_type):
                if type(value) is not python_type:
                    raise NotPlain
                return value

            return read_value
    raise NotPlain


def _nested_reader(field: fields.Nested) -> Callable[[object], dict]:
    schema = field.schema
    if schema.many or field.many or field.unknown not in (None, ma.RAISE):
        raise NotPlain
    if schema.unknown != ma.RAISE or _has_hooks(schema, *_READ_HOOKS, "validates_schema"):
        raise NotPlain
    return _schema_reader(schema)
