"""The flask-smorest Blueprint every domain's API is declared with, and the HTTP glue views
share: one way to declare a write that is safe to retry.

webargs builds a new instance of an argument schema class on every request, and marshmallow
deep-copies all the schema's fields each time it builds one: on the storefront list that was a
tenth of a millisecond per request for nothing. Argument schemas hold no per-request state, so
one instance per class serves every request; the OpenAPI document is unchanged (it is built
from the classes given to the decorators).
"""

import functools

import flask_smorest
import marshmallow as ma
from flask import request
from webargs.flaskparser import FlaskParser

from marketplace.idempotency import HEADER as IDEMPOTENCY_HEADER
from marketplace.idempotency import MAX_KEY_LENGTH

#: Response header of an idempotent write: "true" when the response repeats an earlier one.
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADER_DOC = {
    REPLAYED_HEADER: {
        "description": "true when this response repeats the first one made for the same request",
        "schema": {"type": "string", "enum": ["true", "false"]},
    }
}


def replayed_header(replayed: bool) -> dict:
    return {REPLAYED_HEADER: "true" if replayed else "false"}


@functools.cache
def _shared_instance(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class _SchemaReusingParser(FlaskParser):
    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _shared_instance(argmap)
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _SchemaReusingParser()
    PAGINATION_ARGUMENTS_PARSER = _SchemaReusingParser()

    def idempotent_response(self, status_code, schema, *, key_required: bool, repeats: str):
        """``@blp.response`` for a write that is safe to retry under an ``Idempotency-Key``.

        The view receives the header's value as ``idempotency_key`` (None when absent) and
        returns ``(result, replayed)``; the response carries ``Idempotent-Replayed``. Both
        headers are documented. ``repeats`` says what a retry gets ("the same order").
        """
        key_doc = {
            "in": "header",
            "name": IDEMPOTENCY_HEADER,
            "required": key_required,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "description": f"Retrying with the same key and body returns {repeats}; "
            "the same key with another body is a 422.",
        }

        def decorate(view):
            @functools.wraps(view)
            def with_key(*args, **kwargs):
                result, replayed = view(
                    *args, idempotency_key=request.headers.get(IDEMPOTENCY_HEADER), **kwargs
                )
                return result, replayed_header(replayed)

            documented = self.doc(parameters=[key_doc])(with_key)
            return self.response(status_code, schema, headers=REPLAYED_HEADER_DOC)(documented)

        return decorate
