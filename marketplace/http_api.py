"""The flask-smorest Blueprint every domain's API is declared with, and the HTTP glue views
share: one way to declare a write that is safe to retry.

webargs builds a new instance of an argument schema class on every request, and marshmallow
deep-copies all the schema's fields each time it builds one: on the storefront list that was a
tenth of a millisecond per request for nothing. Argument schemas hold no per-request state, so
one instance per class serves every request; the OpenAPI document is unchanged (it is built
from the classes given to the decorators).
"""

import functools
import json
import re
import unicodedata
from http import HTTPStatus

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from webargs.core import parse_json
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from marketplace.errors import (
    PayloadTooLarge,
    ValidationFailed,
    flatten_field_errors,
    handle_domain_error,
)
from marketplace.idempotency import HEADER as IDEMPOTENCY_HEADER
from marketplace.idempotency import MAX_KEY_LENGTH
from marketplace.numbers import MAX_ID, MAX_PAGE, BoundedInteger
from marketplace.reasons import reason

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


class IdConverter(IntegerConverter):
    """``<id:order_id>``: a row id in a path, 1 to 2^31 − 1 (the document says so). Any other
    number matches no route, so it is a 404 like any id that names nothing."""

    def __init__(self, map, min=1, max=MAX_ID):
        super().__init__(map, min=min, max=max)


@functools.cache
def _shared_instance(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


#: Control characters a text may carry: tab and line breaks. NUL and the others are refused.
_ALLOWED_CONTROLS = frozenset("\t\n\r")

LONE_SURROGATE = reason(
    "text.lone_surrogate", "contains a lone surrogate (\\ud800-\\udfff), which is not text"
)
CONTROL_CHARACTER = reason(
    "text.control_character", "contains the control character U+{code_point}"
)
#: ``error``: what the JSON decoder says (Python's own words)
NOT_VALID_JSON = reason("body.invalid_json", "not valid JSON: {error}")


#: Every character ``_text_problem`` may refuse: the control characters (category Cc, U+0000 to
#: U+001F and U+007F to U+009F) and the surrogates (Cs). Text without any, nearly all text,
#: is passed in one search instead of a category lookup per character.
_MAYBE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if _MAYBE_REFUSED.search(text) is None:
        return None
    for character in text:
        category = unicodedata.category(character)
        if category == "Cs":
            return LONE_SURROGATE()
        if category == "Cc" and character not in _ALLOWED_CONTROLS:
            return CONTROL_CHARACTER(code_point=f"{ord(character):04X}")
    return None


def text_problems(value):
    """Field errors, shaped like the value, for every string in it (keys included) that no
    database column should hold: lone surrogates, NUL and other control characters."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return [problem] if problem else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    found = {}
    for key, item in items:
        problem = _text_problem(key) if isinstance(key, str) else None
        nested = [problem] if problem else text_problems(item)
        if nested:
            found[key] = nested
    return found or None


def json_arguments(schema_class: type[ma.Schema], body: bytes) -> dict | None:
    """A JSON body read as ``@blp.arguments(schema_class)`` reads it (webargs' JSON parsing,
    the text check, the one schema instance), or None where that would refuse it: for a
    caller outside Flask that leaves every refusal to the app (the checkout's front)."""
    try:
        data = parse_json(body)
        if text_problems(data):
            return None
        return _shared_instance(schema_class).load(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ma.ValidationError):
        return None  # RecursionError: nested deeper than Python's stack reads


class _SchemaReusingParser(FlaskParser):
    """webargs' Flask parser, with one instance per argument schema (see the module's
    docstring), and every request's text checked before any schema or database sees it.

    It also reads a ``multipart`` location: a multipart/form-data body's files and fields in
    one schema, documented as the one request body they are (webargs' ``files`` and ``form``
    are two, and OpenAPI 3 has one body, so the files ended up as OpenAPI 2 ``formData``
    parameters a generated client cannot send)."""

    __location_map__ = dict(FlaskParser.__location_map__, multipart="load_multipart")

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _shared_instance(argmap)
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # Python's decoder recurses once per level: [[[[... a thousand deep exhausts it.
            raise json.JSONDecodeError("nested too deeply", "(the body)", 0) from None

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"body": [NOT_VALID_JSON(error=error.msg)]})

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        problems = text_problems(data)
        _refuse_text({"body": problems} if isinstance(problems, list) else problems)
        return data

    def load_querystring(self, req, schema):
        _check_fields(req.args)
        return super().load_querystring(req, schema)

    def load_form(self, req, schema):
        _check_fields(req.form)
        return super().load_form(req, schema)

    def load_multipart(self, req, schema):
        _check_fields(req.form)
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


def _check_fields(multidict) -> None:
    problems = {}
    for name, values in multidict.lists():
        found = text_problems(name) or next(filter(None, map(text_problems, values)), None)
        if found:
            problems[name] = found
    _refuse_text(problems)


def _refuse_text(problems: dict | None) -> None:
    """A 422 naming each field (a dotted path) whose text ``text_problems`` refused."""
    if problems:
        errors = flatten_field_errors(problems)
        raise ValidationFailed(errors)


_WRITES = frozenset({"post", "put", "patch", "delete"})


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, whose document lists every problem an operation may answer
    (each one application/problem+json, see api_document.ProblemApi): what its authentication, its
    path, its arguments and its method make possible, and a 503 for a database gone away."""

    ARGUMENTS_PARSER = _SchemaReusingParser()
    PAGINATION_ARGUMENTS_PARSER = _SchemaReusingParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._document_problems)

    def route(self, rule, *, parameters=None, tags=None, **options):
        register = super().route(rule, parameters=parameters, tags=tags, **options)

        def decorate(view):
            registered = register(view)
            endpoint = options.get("endpoint", view.__name__)
            for method_doc in self._docs[endpoint].values():
                if isinstance(method_doc, dict):
                    # A path naming a row may name one that does not exist (or is not yours).
                    method_doc["names_a_row"] = "<" in rule
            return registered

        return decorate

    @staticmethod
    def _document_problems(doc, doc_info, *, method, **kwargs):
        statuses = {503}
        auth = doc_info.get("auth")
        if auth is not None:
            statuses.add(401)
            if auth["required"]:
                statuses.add(403)
        if doc_info.get("names_a_row"):
            statuses.add(404)
        # By now flask-smorest has turned a body argument into the operation's requestBody.
        body = doc.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            statuses.add(400)  # not JSON at all, or nested too deeply
        if "multipart/form-data" in body:
            statuses.add(413)  # an upload beyond its limit
        if body or doc.get("parameters") or doc_info.get("pagination") or method in _WRITES:
            statuses.add(422)
        if method in _WRITES:
            statuses.add(409)
        responses = doc.setdefault("responses", {})
        for status in sorted(statuses):
            responses.setdefault(status, HTTPStatus(status).name)
        return doc

    def paginate(self, pager=None, *, page=None, page_size=None, max_page_size=None):
        """flask-smorest's pagination, with the page number bounded as every integer is
        (``?page=9223372036854775808`` is a 422 naming ``page``, and the document says so)."""
        paginate = super().paginate(
            pager, page=page, page_size=page_size, max_page_size=max_page_size
        )

        def decorate(view):
            paginated = paginate(view)
            # The parameters' schema class flask-smorest made for this view: its instances,
            # built on the first request, copy the field declared here.
            schema = paginated._apidoc["pagination"]["parameters"]["schema"]
            schema._declared_fields["page"] = BoundedInteger(
                1, MAX_PAGE, strict=False, load_default=page or 1
            )
            return paginated

        return decorate

    def _set_pagination_metadata(self, page_params, result, headers):
        """A list that wrote its own X-Pagination (the storefront's, whose total is bounded
        and which hands out a cursor) keeps it; the others get flask-smorest's."""
        if getattr(result, "headers", None) and self.PAGINATION_HEADER_NAME in result.headers:
            return result, headers
        return super()._set_pagination_metadata(page_params, result, headers)

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


def large_uploads(blueprint, endpoint: str, limit_key: str, too_large, file_too_large) -> None:
    """Let one endpoint of ``blueprint`` take a ``file`` of up to ``config[limit_key]`` bytes
    (every other request keeps the app's MAX_CONTENT_LENGTH); a larger body is a 413 with
    the reason ``too_large`` and ``file_too_large`` on ``file``, both given ``max_bytes``."""

    @blueprint.before_request
    def _allow_large_body():
        if request.endpoint == endpoint and request.method == "POST":
            # Room for the multipart envelope and the form's other fields.
            request.max_content_length = current_app.config[limit_key] + 64 * 1024

    @blueprint.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        limit = current_app.config[limit_key]
        return handle_domain_error(
            PayloadTooLarge(
                too_large(max_bytes=limit), errors={"file": [file_too_large(max_bytes=limit)]}
            )
        )
