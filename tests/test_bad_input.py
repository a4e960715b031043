"""Bad input is a clear 4xx problem naming the field, never a 500 and never a half-written row:
the classes found by testing the service from outside, each closed where it arises.

Runs on both databases (SQLite answered some of these with a 500 where PostgreSQL did not).
"""

import json

import pytest
import sqlalchemy as sa
from marshmallow import fields

from marketplace.accounts.models import Role
from marketplace.extensions import api
from marketplace.numbers import is_bounded
from marketplace.orders.models import Order
from tests.orders.conftest import ADDRESS, basket, place, shop  # noqa: F401

PROBLEM = "application/problem+json"
HUGE = 2**63
HUGER = -357562448411732781282617196544


def problem(response, status: int, *fields_named: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    for name in fields_named:
        assert name in body.get("errors", {}), body
    return body


@pytest.fixture
def admin(make_user, auth):
    return auth(make_user(Role.admin))


# --- integers: every one has a range, in every schema and every path --------------------------


def _argument_schemas(app):
    """(endpoint, method, location, schema instance) of every argument schema the API reads."""
    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        for method in ("get", "post", "put", "patch", "delete"):
            function = getattr(view_class, method, None)
            for parameter in (
                getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", [])
            ):
                schema = parameter["schema"]
                yield (
                    endpoint,
                    method,
                    parameter["in"],
                    (schema() if isinstance(schema, type) else schema),
                )


def _integer_fields(schema, prefix=""):
    for name, field in schema.fields.items():
        if isinstance(field, fields.Nested):
            yield from _integer_fields(field.schema, f"{prefix}{name}.")
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            yield from _integer_fields(field.inner.schema, f"{prefix}{name}.")
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Integer):
            yield f"{prefix}{name}[]", field.inner
        elif isinstance(field, fields.Integer):
            yield f"{prefix}{name}", field


def test_every_integer_the_api_reads_is_bounded_and_strict_in_bodies(app):
    unbounded, lenient, seen = [], [], set()
    for endpoint, method, location, schema in _argument_schemas(app):
        for name, field in _integer_fields(schema):
            seen.add((location, endpoint, name))
            if not is_bounded(field):
                unbounded.append(f"{method} {endpoint} {location}: {name}")
            # A form's values are always text, so only JSON can send 1.5 or "1" for an integer
            # (and a lenient Integer refuses the text "1.5" anyway).
            if location == "json" and not field.strict:
                lenient.append(f"{method} {endpoint} {location}: {name}")
    assert len({key for key in seen if key[0] == "json"}) > 40
    assert len({key for key in seen if key[0] == "query"}) > 15
    assert not unbounded, "integers without both bounds (use marketplace.numbers)"
    assert not lenient, "body integers that would coerce 1.5 or '1'"


@pytest.fixture
def get_operations(app):
    with app.test_request_context():
        paths = api.spec.to_dict()["paths"]
    return {path: operations["get"] for path, operations in paths.items() if "get" in operations}


def test_a_huge_id_in_any_path_is_a_404(client, admin, get_operations):
    checked = 0
    for path in get_operations:
        if "_id}" not in path:
            continue
        url = path
        for part in path.split("/"):
            if part.startswith("{"):
                url = url.replace(part, str(HUGE) if part.endswith("_id}") else "yikatong.xlsx")
        problem(client.get(url, headers=admin), 404)
        checked += 1
    assert checked > 20


# Valid values for the filters a report requires, so that the one huge number is the only fault
# (a required filter left out fails first and would hide whether the huge one is checked at all).
REQUIRED_FILTERS = {"region_id": 1, "period": "2026-01", "year": 2026}


def test_a_huge_number_in_any_integer_filter_is_a_422_naming_it(client, admin, get_operations):
    checked = 0
    for path, operation in get_operations.items():
        if "{" in path:
            continue
        parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        required = {p["name"]: REQUIRED_FILTERS[p["name"]] for p in parameters if p.get("required")}
        for parameter in parameters:
            if parameter["schema"].get("type") != "integer":
                continue
            for value in (HUGE, HUGER):
                query = {**required, parameter["name"]: value}
                response = client.get(path, query_string=query, headers=admin)
                problem(response, 422, parameter["name"])
            checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/products/{HUGE}",
        f"/api/v1/products?min_price_fen={HUGE}",
        f"/api/v1/products?page={HUGE}",
        f"/api/v1/regions?within={HUGER}",
    ],
)
def test_the_reported_numbers(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422)
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": 1.999}, "quantity"),
        ({"quantity": "1"}, "quantity"),
        ({"quantity": HUGE}, "quantity"),
        ({"sku_id": "1"}, "sku_id"),
        ({"sku_id": HUGE}, "sku_id"),
        ({"sku_id": 1.0}, "sku_id"),
    ],
)
def test_order_lines_take_whole_numbers_only(client, session, shop, place, line, field):
    body = basket((shop.sku_500g, 1))
    body["lines"][0].update(line)
    before = session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one()
    problem(place(shop.buyer_headers, body), 422, f"lines.0.{field}")
    assert session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one() == before


@pytest.mark.parametrize(
    ("sku", "field"),
    [
        ({"price_fen": 2**63 - 1}, "price_fen"),
        ({"price_fen": 10**8 + 1}, "price_fen"),
        ({"stock": 2**63 - 1}, "stock"),
        ({"stock": 10**6 + 1}, "stock"),
        ({"price_fen": 12.5}, "price_fen"),
        ({"weight_grams": 2**40}, "weight_grams"),
    ],
)
def test_prices_and_stock_have_maxima(client, shop, sku, field):
    body = {"code": "BIG-1", "spec": "1 支", "price_fen": 100, "stock": 1, **sku}
    response = client.post(
        f"/api/v1/products/{shop.blueberries.id}/skus", json=body, headers=shop.station_headers
    )
    problem(response, 422, field)


def test_the_largest_order_still_fits_every_total(client, session, shop, place):
    """The maxima are chosen so that every total derived from them fits its column: a line of
    200 units at the highest price is an ordinary 201."""
    grown = client.patch(
        f"/api/v1/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}",
        json={"price_fen": 10**8, "stock": 10**6, "version": 1},
        headers=shop.station_headers,
    )
    assert grown.status_code == 200, grown.json
    placed = place(shop.buyer_headers, basket((shop.sku_500g, 200)))
    assert placed.status_code == 201, placed.json
    assert placed.json["total_fen"] == 200 * 10**8
    listed = client.get("/api/v1/products", query_string={"station_id": shop.station.id})
    stocks = [sku["stock"] for card in listed.json for sku in card["skus"]]
    assert all(isinstance(stock, int) for stock in stocks)


# --- bodies that are not JSON, or whose text is not text -------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/auth/tokens", "/api/v1/orders"])
def test_deeply_nested_json_is_a_400(client, shop, url):
    headers = {
        **shop.buyer_headers,
        "Idempotency-Key": "deep-1",
        "Content-Type": "application/json",
    }
    for body in ("[" * 1000, "[" * 100_000, '{"a":' * 5000):
        problem(client.post(url, data=body, headers=headers), 400, "body")


def test_a_body_that_is_not_json_is_a_400_naming_the_body(client):
    response = client.post(
        "/api/v1/auth/tokens", data="{username: x", headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "body")


def _raw(client, method, url, body: str, headers):
    """Send ``body`` as written. (The test client's own JSON encoding cannot carry a lone
    surrogate: it writes UTF-8. ``json.dumps`` escapes it as ``\\ud800``, as clients do.)"""
    return client.open(
        url,
        method=method,
        data=body.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )


def test_a_lone_surrogate_in_a_username_is_a_422_naming_it(client):
    response = _raw(
        client, "POST", "/api/v1/auth/tokens", '{"username": "\\ud800", "password": "x"}', {}
    )
    problem(response, 422, "username")


def test_a_lone_surrogate_in_a_product_name_is_a_422_and_writes_nothing(
    client, session, shop, make_product
):
    body = {
        "producer_id": shop.producer.id,
        "category": "fruit",
        "name": "蓝莓\ud83d",
        "unit": "盒",
    }
    response = client.post(
        "/api/v1/products",
        data=json.dumps(body),
        headers={**shop.station_headers, "Content-Type": "application/json"},
    )
    problem(response, 422, "name")


def test_a_lone_surrogate_in_an_address_is_a_422_naming_it(client, shop):
    body = basket((shop.sku_500g, 1))
    body["shipping_address"]["address_line"] = "人民大街\udc00 1000 号"
    headers = {**shop.buyer_headers, "Idempotency-Key": "surrogate-1"}
    response = _raw(client, "POST", "/api/v1/orders", json.dumps(body), headers)
    problem(response, 422, "shipping_address.address_line")


@pytest.mark.parametrize("name", ["蓝莓\x00礼盒", "蓝莓\x07礼盒", "\x1b[31m蓝莓", "蓝莓\x7f"])
def test_control_characters_in_names_are_refused(client, shop, name):
    response = client.patch(
        f"/api/v1/products/{shop.blueberries.id}",
        json={"version": shop.blueberries.version, "name": name},
        headers=shop.station_headers,
    )
    problem(response, 422, "name")


def test_line_breaks_and_tabs_in_free_text_are_kept(client, shop):
    response = client.patch(
        f"/api/v1/products/{shop.blueberries.id}",
        json={"version": shop.blueberries.version, "description": "长白山野生蓝莓\n\t冷链发货\r\n"},
        headers=shop.station_headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["description"] == "长白山野生蓝莓\n\t冷链发货\r\n"


def test_a_control_character_in_a_query_is_a_422_naming_it(client):
    body = problem(client.get("/api/v1/products", query_string={"q": "蓝\x00莓"}), 422, "q")
    assert body["errors"]["q"] == ["contains the control character U+0000"]
    assert body["reasons"]["q"] == [
        {"code": "text.control_character", "params": {"code_point": "0000"}}
    ]


def _raw_query(client, path: str, raw: bytes, headers=None):
    """A GET whose query string is ``raw`` as a server passes it on (werkzeug's environ holds
    it decoded as Latin-1): raw bytes, not percent-encoded."""
    return client.get(
        path, headers=headers or {}, environ_overrides={"QUERY_STRING": raw.decode("latin-1")}
    )


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"q=\xff\xfe", "q"),
        (b"sort=name&page=\xe8\x93", "page"),
        (b"\xff=1", "query"),
        (b"q=%E8%93%9D&region=\xc3", "region"),
    ],
)
def test_raw_query_bytes_that_are_not_utf8_are_a_400_naming_the_parameter(client, raw, named):
    body = problem(_raw_query(client, "/api/v1/products", raw), 400, named)
    assert body["code"] == "request.query_not_utf8"
    assert body["reasons"] == {named: [{"code": "text.not_utf8", "params": {}}]}


def test_raw_query_bytes_that_are_not_utf8_are_refused_before_anything_else(client):
    # Before the token is looked at and the arguments are parsed: no endpoint reads them.
    for path in ("/api/v1/reports/income", "/api/v1/ping", "/api/v1/orders"):
        body = problem(_raw_query(client, path, b"region_id=\xff"), 400, "region_id")
        assert body["code"] == "request.query_not_utf8"


def test_raw_query_bytes_read_in_chinese_when_asked(client):
    body = problem(
        _raw_query(client, "/api/v1/products", b"q=\xff", {"Accept-Language": "zh-CN"}), 400, "q"
    )
    assert body["detail"] == "网址中的查询参数不是 UTF-8 编码。"
    assert body["errors"]["q"] == ["不是 UTF-8 编码：请把文字按 UTF-8 进行百分号编码"]


def test_raw_utf8_in_a_query_is_read_as_werkzeug_reads_it(client, shop):
    # Not what gunicorn lets through, but valid UTF-8: what a server passes on is read.
    response = _raw_query(client, "/api/v1/products", "q=蓝莓".encode())
    assert response.status_code == 200, response.json
    percent_encoded = client.get("/api/v1/products", query_string={"q": "蓝莓"})
    assert response.json == percent_encoded.json and response.json


def test_the_quick_search_for_refused_characters_misses_none():
    """Text is passed in one search before any per-character look-up (http_api.py): every
    character that look-up refuses, and no other, is one the search finds."""
    import sys
    import unicodedata

    from marketplace.http_api import _MAYBE_REFUSED

    missed = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if (unicodedata.category(chr(code)) in ("Cc", "Cs"))
        != bool(_MAYBE_REFUSED.search(chr(code)))
    ]
    assert missed == []
