"""The API document says what the service does: every error is documented as the
application/problem+json it is, for the statuses each operation can return, and the
X-Pagination header as the JSON text it holds. (`make fuzz` proves it against the served app;
this checks the document itself on every test run.)"""

import json

import pytest
from openapi_spec_validator import validate

from marketplace.errors import PROBLEM_MEDIA_TYPE
from marketplace.extensions import api
from marketplace.reasons import REASONS

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def document(app):
    with app.test_request_context():
        return json.loads(json.dumps(api.spec.to_dict()))


def _operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _response(document, response):
    if "$ref" in response:
        return document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def test_every_error_is_documented_as_problem_json(document):
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status != "default" and int(status) < 400:
                continue
            content = _response(document, response).get("content", {})
            assert list(content) == [PROBLEM_MEDIA_TYPE], (method, path, status)
            schema = content[PROBLEM_MEDIA_TYPE]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_each_operation_lists_the_statuses_it_can_return(document):
    for path, method, operation in _operations(document):
        statuses = set(operation["responses"])
        assert {"default", "503"} <= statuses, (method, path)
        if operation.get("security") and {} not in operation["security"]:
            assert {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method != "get":
            assert {"409", "422"} <= statuses, (method, path)
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert "400" in statuses, (method, path)


def test_the_problem_schema_allows_the_members_problems_carry(document):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert problem.get("additionalProperties") is not False


def test_x_pagination_is_documented_as_the_json_it_holds(document, client, make_user, auth):
    header = document["components"]["headers"]["PAGINATION"]
    schema = header["content"]["application/json"]["schema"]
    assert schema["type"] == "object"
    sent = client.get("/api/v1/regions?page_size=1").headers["X-Pagination"]
    value = json.loads(sent)
    assert set(value) <= set(schema["properties"])
    assert set(schema["required"]) <= set(value)
    lists = [
        (path, method)
        for path, method, operation in _operations(document)
        if "X-Pagination" in operation["responses"].get("200", {}).get("headers", {})
    ]
    assert len(lists) > 20


def test_every_integer_parameter_states_its_range(document):
    for path, method, operation in _operations(document):
        parameters = operation.get("parameters", []) + document["paths"][path].get("parameters", [])
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (method, path, parameter)


def test_every_reason_code_is_listed_for_problems_and_their_fields(document):
    schemas = document["components"]["schemas"]
    codes = sorted(REASONS)
    assert schemas["Problem"]["properties"]["code"]["enum"] == codes
    assert schemas["ReasonOut"]["properties"]["code"]["enum"] == codes
    assert (
        document["x-reason-codes"]["auth.login_required"] == REASONS["auth.login_required"].template
    )


def test_the_whole_document_is_valid_openapi_3(document):
    validate(document)


def test_uploads_are_multipart_request_bodies_a_generated_client_can_send(document):
    form_data = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(document)
        if any(p.get("in") == "formData" for p in operation.get("parameters", []))
    ]
    assert form_data == []
    upload = document["paths"]["/api/v1/stations/{station_id}/platform-imports"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"file", "items", "platform", "session_id", "dry_run"} <= set(schema["properties"])
    assert schema["properties"]["file"]["format"] == "binary"
