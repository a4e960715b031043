"""One error vocabulary for the whole service, rendered once as RFC 9457 problem+json.

Services raise ``DomainError`` subclasses; views never build error responses themselves. A
problem's ``type`` names its kind (``validation-failed``, ``stale-version``); its ``code`` and
``params`` name the reason (``marketplace/reasons.py``), and a validation problem carries each
field's reasons beside its messages (``errors`` as text, ``reasons`` as codes).
"""

import logging
from http import HTTPStatus

from flask import Response, current_app, g, json, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from marketplace import i18n
from marketplace.reasons import REASONS, Message, coded, reason

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://village-market.example/problems/"

INVALID_FIELDS = reason("request.invalid_fields", "Invalid fields: {fields}")
NOT_JSON = reason("request.not_json", "The body is not valid JSON.")
QUERY_NOT_UTF8 = reason("request.query_not_utf8", "The query string is not UTF-8.")
NOT_UTF8 = reason("text.not_utf8", "is not UTF-8: percent-encode its text as UTF-8")
NO_SUCH_RESOURCE = reason("http.no_such_resource", "No such resource.")
STALE_WRITE = reason(
    "version.changed_meanwhile",
    "It changed while you were saving; reload it and apply your change again.",
)
CONSTRAINT_REFUSED = reason(
    "conflict.existing_data",
    "The change conflicts with existing data (a duplicate or a removed reference).",
)
TOO_LARGE_A_NUMBER = reason("number.beyond_storage", "too large a number")
VALUE_OUT_OF_RANGE = reason("request.value_out_of_range", "A value in the request is out of range.")
DATABASE_BUSY = reason(
    "service.database_busy", "The database is unavailable or busy; retry shortly."
)
UNEXPECTED = reason("service.unexpected", "An unexpected error occurred; it has been logged.")
#: Each HTTP error werkzeug may raise (405, 413, ...), as a reason named by its phrase.
HTTP_ERRORS = {
    status: reason(
        "http." + status.phrase.lower().replace(" ", "_").replace("'", ""), status.phrase
    )
    for status in HTTPStatus
    if status >= 400
}


#: Each problem's title as a reason too, so that a request in Chinese reads its title in Chinese
#: (a status phrase's is its ``HTTP_ERRORS`` reason).
PROBLEM_TITLES = {
    text: reason("problem." + slug, text)
    for slug, text in (
        ("bad_request", "Bad request"),
        ("invalid_fields", "The request has invalid fields"),
        ("authentication_required", "Authentication required"),
        ("not_allowed", "Not allowed"),
        ("not_found", "Not found"),
        ("upload_too_large", "The upload is too large"),
        ("conflict", "Conflict with the current state"),
        ("changed_by_someone_else", "The object was changed by someone else"),
        ("too_many_requests", "Too many requests"),
    )
}
_PHRASES = {status.phrase: message for status, message in HTTP_ERRORS.items()}


def _title_in(title: str, language: str) -> str:
    known = PROBLEM_TITLES.get(title) or _PHRASES.get(title)
    return i18n.in_language(known(), language) if known is not None else title


class DomainError(Exception):
    """A rule of the domain refused the operation. ``code`` is stable for clients."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict | None = None, **extra):
        super().__init__(detail)
        #: a ``reasons.Message``: the text, its code and parameters
        self.detail = detail
        self.errors = errors
        self.extra = extra


class ValidationFailed(DomainError):
    status, code, title = 422, "validation-failed", "The request has invalid fields"

    def __init__(self, errors: dict, detail: str | None = None):
        fields = ", ".join(sorted(errors))
        super().__init__(detail or INVALID_FIELDS(fields=fields), errors=errors)


class NotAuthenticated(DomainError):
    status, code, title = 401, "not-authenticated", "Authentication required"


class PermissionDenied(DomainError):
    status, code, title = 403, "permission-denied", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "The upload is too large"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class StaleVersion(Conflict):
    code, title = "stale-version", "The object was changed by someone else"


class TooManyRequests(DomainError):
    status, code, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


def problem_response(
    status: int,
    *,
    kind: str,
    title: str,
    detail: str | None = None,
    errors: dict | None = None,
    extra: dict | None = None,
    headers: dict | None = None,
) -> Response:
    """The problem document: ``kind`` for its type, ``detail`` (a reason's ``Message``) for its
    code, parameters and text, in the request's language."""
    language = i18n.response_language()
    body = {"type": PROBLEM_BASE + kind, "title": _title_in(title, language), "status": status}
    reason_of = _require_coded if current_app.config.get("REQUIRE_REASON_CODES") else coded
    if detail:
        body["detail"] = i18n.in_language(detail, language)
        body.update(reason_of(detail))
    if errors:
        body["errors"] = {
            field: [i18n.in_language(message, language) for message in messages]
            for field, messages in errors.items()
        }
        body["reasons"] = {
            field: [reason_of(message) for message in messages]
            for field, messages in errors.items()
        }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    if status == 401:
        # RFC 9110: a 401 says how to authenticate (RFC 6750: with a bearer token).
        response.headers["WWW-Authenticate"] = 'Bearer realm="marketplace"'
    if language != i18n.DEFAULT:
        response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _require_coded(message) -> dict:
    """Under test: a refusal without a declared reason fails the test that meets it."""
    if not isinstance(message, Message) or message.code not in REASONS:
        raise AssertionError(f"a problem sent a reason with no code: {message!r}")
    return coded(message)


def flatten_field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """``{"skus": {0: {"price_fen": ["..."]}}}`` -> ``{"skus.0.price_fen": ["..."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_field_errors(value, name))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, str):
        flat[prefix or "_schema"] = [messages]
    elif isinstance(messages, list | tuple):
        for index, value in enumerate(messages):
            flat.update(flatten_field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def webargs_errors(messages: dict) -> dict[str, list[str]]:
    """webargs nests errors by location (json, query, files...); clients want field names."""
    flat: dict[str, list[str]] = {}
    for location, fields in messages.items():
        if location in ("json", "form", "query", "files", "multipart", "path"):
            flat.update(flatten_field_errors(fields))
        else:  # headers, cookies: keep the location so "Idempotency-Key" is unambiguous
            flat.update(flatten_field_errors(fields, location))
    return flat


def handle_domain_error(error: DomainError):
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return problem_response(
        error.status,
        kind=error.code,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        extra=error.extra,
        headers=headers,
    )


def handle_stale_data(error):
    """Two writers raced on a versioned row: the second one loses with a 409, never a 500."""
    return problem_response(
        409,
        kind="stale-version",
        title="The object was changed by someone else",
        detail=STALE_WRITE(),
    )


def handle_integrity_error(error):
    """A uniqueness or reference check lost a race with a concurrent request: the database's
    constraint caught it at flush, so it is a conflict to retry, not a server error."""
    logger.warning("constraint refused a write: %s", error.orig)
    return problem_response(
        409,
        kind="conflict",
        title="Conflict with the current state",
        detail=CONSTRAINT_REFUSED(),
    )


#: What an INTEGER column holds; ids and counts are INTEGER columns.
_INTEGER_RANGE = range(-(2**31), 2**31)


def _out_of_range_fields(value, path: str = "") -> list[str]:
    """The fields of a request holding whole numbers an INTEGER column cannot take."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [] if value in _INTEGER_RANGE else [path or "body"]
    if isinstance(value, str):
        try:
            return _out_of_range_fields(int(value), path) if value.strip().isdigit() else []
        except ValueError:
            return []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        found += _out_of_range_fields(item, f"{path}.{key}" if path else str(key))
    return found


def handle_data_error(error):
    """A value the database cannot store (a number beyond its column's range; on SQLite an
    OverflowError): the client's input, so a 422 naming the fields that hold such numbers,
    never a 500. Every schema bounds its numbers (marketplace/numbers.py); this is the net for
    anything that would still slip past them."""
    logger.warning("database refused a value: %s", getattr(error, "orig", error))
    names = {
        name
        for name, values in request.args.lists()
        if any(_out_of_range_fields(value) for value in values)
    }
    names.update(_out_of_range_fields(request.get_json(silent=True) or {}))
    names = sorted(names)
    errors = {name: [TOO_LARGE_A_NUMBER()] for name in names}
    return problem_response(
        422,
        kind="validation-failed",
        title="The request has invalid fields",
        detail=INVALID_FIELDS(fields=", ".join(names)) if names else VALUE_OUT_OF_RANGE(),
        errors=errors or None,
    )


def handle_database_unavailable(error):
    """The database went away or is overloaded: tell the client to retry, log the cause."""
    logger.error("database unavailable: %s", error.orig)
    return problem_response(
        503,
        kind="service-unavailable",
        title="Service Unavailable",
        detail=DATABASE_BUSY(),
        headers={"Retry-After": "1"},
    )


def handle_unexpected_error(error: Exception):
    logger.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return problem_response(
        500,
        kind="internal-server-error",
        title="Internal Server Error",
        detail=UNEXPECTED(),
    )


def register_error_handlers(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(OverflowError, handle_data_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    # Under test an unexpected exception propagates, so the failing test shows its traceback.
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected_error)
