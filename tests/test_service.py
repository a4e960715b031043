"""The service skeleton: health, the API document, error format, request ids, logging."""

import logging

import pytest

from marketplace.accounts.models import Role

PROBLEM = "application/problem+json"


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_openapi_document_and_docs_need_no_login(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json["openapi"].startswith("3.")
    assert "/api/v1/auth/tokens" in spec.json["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.data.lower()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/no/such/thing", 404),
        ("get", "/api/v1/regions/999999", 404),
        ("put", "/api/v1/regions", 405),
        ("delete", "/healthz", 405),
    ],
)
def test_unknown_routes_and_methods_are_problem_json(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]


def test_malformed_json_is_a_problem_not_a_500(client):
    response = client.post(
        "/api/v1/auth/tokens", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.mimetype == PROBLEM


def test_a_number_beyond_what_the_database_holds_is_a_422_naming_it(client, auth, make_user):
    """The schema bounds every id, so neither database sees 2**31 (tests/test_bad_input.py
    has the whole class)."""
    headers = auth(make_user(Role.buyer))
    response = client.get("/api/v1/products?village_id=99999999999&page=1", headers=headers)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"village_id"}


def test_validation_errors_name_each_field(client):
    response = client.post("/api/v1/auth/tokens", json={"username": ""})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"username", "password"}


def test_request_id_is_echoed_or_generated(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc12345-req"}).headers["X-Request-ID"]
        == "abc12345-req"
    )
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32


def test_access_log_is_structured_with_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="marketplace.access"):
        client.get("/healthz", headers={"X-Request-ID": "trace-0001"})
    records = [r for r in caplog.records if r.name == "marketplace.access"]
    assert records and records[-1].request_id == "trace-0001"
    assert records[-1].status == 200


def test_any_logger_masks_id_numbers_at_the_source(app, caplog, id_number):
    number = id_number()
    with caplog.at_level(logging.INFO):
        logging.getLogger("marketplace.access").info("lookup %s", number)
        logging.getLogger("werkzeug").info("GET /api/v1/households?id_number=%s", number)
        logging.getLogger("some.library").warning(f"raw {number}")
        logging.getLogger("marketplace").info("card 9999123412341234 paid")
    assert "9999123412341234" not in caplog.text
    assert "999*********1234" in caplog.text
    caplog.records.pop()
    for record in caplog.records:
        assert number not in record.getMessage()
        assert number[:3] + "*" in record.getMessage()


def test_chinese_text_is_sent_as_utf8_not_escapes(client):
    response = client.get("/api/v1/categories")
    assert "水果".encode() in response.data
    assert b"\\u" not in response.data
