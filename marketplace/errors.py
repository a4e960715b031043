"""One error vocabulary for the whole service, rendered once as RFC 9457 problem+json.

Services raise ``DomainError`` subclasses; views never build error responses themselves.
"""

import logging
from http import HTTPStatus

import marshmallow as ma
from flask import Response, current_app, g, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://village-market.example/problems/"


class DomainError(Exception):
    """A rule of the domain refused the operation. ``code`` is stable for clients."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class ValidationFailed(DomainError):
    status, code, title = 422, "validation-failed", "The request has invalid fields"

    def __init__(self, errors: dict, detail: str | None = None):
        fields = ", ".join(sorted(errors))
        super().__init__(detail or f"Invalid fields: {fields}", errors=errors)


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
    code: str,
    title: str,
    detail: str | None = None,
    errors: dict | None = None,
    extra: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
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
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """``{"skus": {0: {"price_fen": ["..."]}}}`` -> ``{"skus.0.price_fen": ["..."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_field_errors(value, name))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
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
        if location in ("json", "form", "query", "files", "path"):
            flat.update(flatten_field_errors(fields))
        else:  # headers, cookies: keep the location so "Idempotency-Key" is unambiguous
            flat.update(flatten_field_errors(fields, location))
    return flat


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details: how every error of this API is sent. A problem may carry
    members of its own beside these (the shortages of an out-of-stock checkout, the balance
    and shortfall of a fund)."""

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    type = ma.fields.String(
        required=True, metadata={"description": "A URI naming the kind of problem."}
    )
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Each bad field (dotted path into the request) and why."},
    )
    request_id = ma.fields.String()


#: What the X-Pagination header holds: JSON text, as flask-smorest writes it.
PAGINATION_HEADER = {
    "description": "Pagination metadata, as a JSON object in the header's value.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    name: {"type": "integer", "minimum": 0}
                    for name in (
                        "total",
                        "total_pages",
                        "first_page",
                        "last_page",
                        "page",
                        "previous_page",
                        "next_page",
                    )
                },
                "required": ["total", "total_pages"],
            }
        }
    },
}


class ProblemApi(Api):
    """flask-smorest's Api with every HTTP error rendered, and documented, as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        """Every error response component, and the default one, is problem+json."""
        for status in HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def _register_pagination_header(self):
        self.spec.components.header("PAGINATION", PAGINATION_HEADER, lazy=True)

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            errors = webargs_errors(messages)
            if status == 400:  # a body that is not JSON at all
                return problem_response(
                    400,
                    code="bad-request",
                    title="Bad Request",
                    detail="The body is not valid JSON.",
                    errors=errors,
                )
            return problem_response(
                422,
                code="validation-failed",
                title="The request has invalid fields",
                detail="Invalid fields: " + ", ".join(sorted(errors)),
                errors=errors,
            )
        headers = {}
        if status == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        detail = data.get("message") or error.description
        if status == 404 and not data.get("message"):
            detail = "No such resource."
        return problem_response(
            status,
            code=phrase.lower().replace(" ", "-").replace("'", ""),
            title=phrase,
            detail=detail,
            headers=headers,
        )


def handle_domain_error(error: DomainError):
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return problem_response(
        error.status,
        code=error.code,
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
        code="stale-version",
        title="The object was changed by someone else",
        detail="It changed while you were saving; reload it and apply your change again.",
    )


def handle_integrity_error(error):
    """A uniqueness or reference check lost a race with a concurrent request: the database's
    constraint caught it at flush, so it is a conflict to retry, not a server error."""
    logger.warning("constraint refused a write: %s", error.orig)
    return problem_response(
        409,
        code="conflict",
        title="Conflict with the current state",
        detail="The change conflicts with existing data (a duplicate or a removed reference).",
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
    errors = {name: ["too large a number"] for name in names}
    return problem_response(
        422,
        code="validation-failed",
        title="The request has invalid fields",
        detail=(
            "Invalid fields: " + ", ".join(names)
            if names
            else "A value in the request is out of range."
        ),
        errors=errors or None,
    )


def handle_database_unavailable(error):
    """The database went away or is overloaded: tell the client to retry, log the cause."""
    logger.error("database unavailable: %s", error.orig)
    return problem_response(
        503,
        code="service-unavailable",
        title="Service Unavailable",
        detail="The database is unavailable or busy; retry shortly.",
        headers={"Retry-After": "1"},
    )


def handle_unexpected_error(error: Exception):
    logger.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return problem_response(
        500,
        code="internal-server-error",
        title="Internal Server Error",
        detail="An unexpected error occurred; it has been logged.",
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
