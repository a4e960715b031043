"""How the API document presents problems: every error response of every operation is an
RFC 9457 problem (``Problem``), with its reason's code among those declared, and HTTP errors
raised by the framework itself (a 404 route, a 405, an unparsable body) are sent as problems
too. The errors themselves, and how they are rendered, are ``errors.py``'s."""

from http import HTTPStatus

import marshmallow as ma
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from marketplace.errors import (
    HTTP_ERRORS,
    INVALID_FIELDS,
    NO_SUCH_RESOURCE,
    NOT_JSON,
    PROBLEM_MEDIA_TYPE,
    problem_response,
    webargs_errors,
)
from marketplace.reasons import REASONS, Message


class ReasonOut(ma.Schema):
    code = ma.fields.String(
        required=True,
        metadata={"description": "The reason, stable for programs (the enum: every code)."},
    )
    params = ma.fields.Dict(
        required=True,
        metadata={"description": "The values its message is made of (amounts in fen)."},
    )


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details: how every error of this API is sent. ``type`` names the kind
    of problem; ``code`` and ``params`` the reason (each field's under ``reasons``), for
    programs and for messages in the caller's language (``Accept-Language``; ``detail`` and
    ``errors`` are in it). A problem may carry members of its own beside these (the shortages
    of an out-of-stock checkout, the balance and shortfall of a fund)."""

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    type = ma.fields.String(
        required=True, metadata={"description": "A URI naming the kind of problem."}
    )
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    code = ma.fields.String(
        metadata={
            "description": "Why, for programs: one of the reason codes listed (their English "
            "templates: the document's x-reason-codes)."
        },
    )
    params = ma.fields.Dict(metadata={"description": "The values the reason's message needs."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Each bad field (dotted path into the request) and why."},
    )
    reasons = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.Nested(ReasonOut)),
        metadata={"description": "Each bad field's reasons, as codes with their parameters."},
    )
    request_id = ma.fields.String()


def document_reasons(spec) -> None:
    """List every reason code in the API document: the enum of ``Problem.code`` and of each
    field reason's, and each one's English template under ``x-reason-codes``. Called once
    every module has declared its reasons (the schemas were converted earlier, when the error
    responses were registered, before most modules were imported)."""
    codes = sorted(REASONS)
    for name in ("Problem", "ReasonOut"):
        spec.components.schemas[name]["properties"]["code"]["enum"] = codes
    spec.options["x-reason-codes"] = {code: REASONS[code].template for code in codes}


#: What the X-Pagination header holds: JSON text, as flask-smorest writes it.
PAGINATION_HEADER = {
    "description": "Pagination metadata, as a JSON object in the header's value.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    **{
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
                    # The storefront's list, whose count stops at a bound and which pages on
                    # by cursor past it (catalog/storefront/listing.py).
                    "total_is_lower_bound": {
                        "type": "boolean",
                        "description": "true: at least `total` match (the count stopped there)",
                    },
                    "next_cursor": {
                        "type": "string",
                        "nullable": True,
                        "description": "send as `cursor` for the next page; null after the last",
                    },
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
                    400, kind="bad-request", title="Bad Request", detail=NOT_JSON(), errors=errors
                )
            return problem_response(
                422,
                kind="validation-failed",
                title="The request has invalid fields",
                detail=INVALID_FIELDS(fields=", ".join(sorted(errors))),
                errors=errors,
            )
        headers = {}
        if status == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        known = HTTPStatus(status) if status in HTTPStatus._value2member_map_ else None
        phrase = known.phrase if known else "Error"
        because = HTTP_ERRORS.get(known, HTTP_ERRORS[HTTPStatus.BAD_REQUEST])
        detail = Message(data.get("message") or error.description or phrase, because.code)
        if status == 404 and not data.get("message"):
            detail = NO_SUCH_RESOURCE()
        return problem_response(
            status,
            kind=phrase.lower().replace(" ", "-").replace("'", ""),
            title=phrase,
            detail=detail,
            headers=headers,
        )
