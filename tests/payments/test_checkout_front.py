"""The checkout's front (payments/checkout_front.py) places the orders it can place before Flask
does. The app's own view is the reference: for the same request the front gives the same
status, headers, body (but for what differs between any two orders), rows and access log line;
and every request it cannot answer with a 201 reaches the app as it came, with nothing written
by the front's attempt, and gets the app's own answer.

The front and the reference are called as WSGI apps, side by side, on the test's session."""

import json
import logging

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from marketplace.accounts.models import Role
from marketplace.payments.api import PlaceOrder
from marketplace.payments.checkout_front import CheckoutFront
from marketplace.producers.models import BuyingUnit, UnitKind
from tests.catalog.storefront.test_front import _access_lines
from tests.orders.conftest import basket
from tests.orders.test_checkout_paths import _as_written, _counts, _live_session
from tests.payments.test_gateways import unreachable_stripe  # noqa: F401  (a fixture)

pytestmark = pytest.mark.postgres

PATH = "/api/v1/orders"


class _Recorder:
    """The app behind a front of the test's own, noting each request handed on to it."""

    def __init__(self, app):
        self.app, self.bodies = app, []

    def __call__(self, environ, start_response):
        stream = environ["wsgi.input"]
        self.bodies.append(stream.read())
        stream.seek(0)
        return self.app(environ, start_response)


def _app_front(app) -> CheckoutFront:
    """The checkout's front create_app put in place (the storefront's stands before it)."""
    layer = app.wsgi_app
    while not isinstance(layer, CheckoutFront):
        layer = layer.wsgi_app
    return layer


@pytest.fixture
def front(app, session):
    session.commit()  # the fixtures' rows, into the test's outer transaction
    reference = _app_front(app).wsgi_app  # the app behind it
    return CheckoutFront(app, _Recorder(reference))


def _encoded(body) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _call(wsgi_app, headers, body=None, *, raw=None, query="", content_type="application/json"):
    data = raw if raw is not None else _encoded(body)
    environ = EnvironBuilder(
        path=PATH,
        method="POST",
        query_string=query,
        headers=headers,
        data=data,
        content_type=content_type,
    ).get_environ()
    answer, status, response_headers = run_wsgi_app(wsgi_app, environ, buffered=True)
    return status, dict(response_headers), b"".join(answer)


_DIFFERS = {"id", "number", "created_at", "hold_expires_at", "order_id", "request_id"}


def _comparable(status, headers, body):
    """The answer without what differs between any two orders placed alike."""

    def without(value):
        if isinstance(value, dict):
            return {k: without(v) for k, v in value.items() if k not in _DIFFERS}
        if isinstance(value, list):
            return [without(v) for v in value]
        return value

    headers = {k: v for k, v in headers.items() if k != "Content-Length"}
    return status, headers, without(json.loads(body))


def _headers(shop, key, **extra):
    return {**shop.buyer_headers, "Idempotency-Key": key, "X-Request-ID": "front-0001", **extra}


def _placed(session, front, shop, body, headers, caplog):
    """One request to the front and the same under another key to the app: both answered."""
    caplog.set_level(logging.INFO, logger="marketplace.access")
    by_front = _call(front, {**headers, "Idempotency-Key": "by-front"}, body)
    front_log = _access_lines(caplog)
    by_app = _call(front.wsgi_app, {**headers, "Idempotency-Key": "by-app"}, body)
    app_log = _access_lines(caplog)
    assert by_front[0] == "201 CREATED", by_front[2]
    assert front.wsgi_app.bodies == [_encoded(body)]
    assert front_log == app_log
    return by_front, by_app


@pytest.mark.parametrize(
    "extra_headers", [{}, {"Accept-Language": "zh-CN"}], ids=["english", "chinese"]
)
def test_an_order_is_placed_as_the_app_places_it(session, shop, front, caplog, extra_headers):
    body = {**basket((shop.sku_500g, 2), (shop.sku_ginseng, 1)), "note": "请放门卫"}
    headers = _headers(shop, "unused", **extra_headers)
    by_front, by_app = _placed(session, front, shop, body, headers, caplog)

    assert _comparable(*by_front) == _comparable(*by_app)
    assert by_front[1]["Idempotent-Replayed"] == "false"
    assert _as_written(session, json.loads(by_front[2])["id"]) == _as_written(
        session, json.loads(by_app[2])["id"]
    )


def test_a_live_basket_is_placed_as_the_app_places_it(session, shop, front, caplog):
    _live_session(session, shop, code="FRONTLIVE", cap=100)
    session.commit()
    body = basket((shop.sku_500g, 2), (shop.sku_1kg, 1), livestream_code="FRONTLIVE")
    by_front, by_app = _placed(session, front, shop, body, _headers(shop, "unused"), caplog)

    assert _comparable(*by_front) == _comparable(*by_app)
    pricing = [line["pricing"] for line in json.loads(by_front[2])["lines"]]
    assert sorted(pricing) == ["live", "not_featured"]


def test_a_retry_gets_the_same_order_from_either(session, shop, front):
    body = basket((shop.sku_1kg, 1))
    first = _call(front, _headers(shop, "retried"), body)
    again = _call(front, _headers(shop, "retried"), body)
    from_app = _call(front.wsgi_app, _headers(shop, "retried"), body)

    assert first[0] == again[0] == from_app[0] == "201 CREATED"
    assert front.wsgi_app.bodies == [_encoded(body)]  # the app's own call only
    assert json.loads(again[2]) == json.loads(first[2]) == json.loads(from_app[2])
    assert (first[1]["Idempotent-Replayed"], again[1]["Idempotent-Replayed"]) == ("false", "true")
    assert again[1] == from_app[1]
    assert _counts(session)["orders"] == 1


# Each: (headers over the buyer's, body or raw bytes, query string). The app refuses each one.
def _refused(shop):
    good = basket((shop.sku_500g, 1))
    return {
        "no token": ({"Authorization": ""}, good, ""),
        "unknown token": ({"Authorization": "Bearer not-a-token"}, good, ""),
        "basic scheme": ({"Authorization": "Basic YWxhZGRpbjpvcGVu"}, good, ""),
        "a station's token": (shop.station_headers, good, ""),
        "no key": ({"Idempotency-Key": ""}, good, ""),
        "a key too long": ({"Idempotency-Key": "k" * 300}, good, ""),
        "not json": ({}, b"lines=1", ""),
        "broken json": ({}, b'{"lines": [', ""),
        "not utf-8": ({}, b'{"note": "\xff"}', ""),
        "nested too deeply": ({}, b'{"lines": ' + b"[" * 5000 + b"]" * 5000 + b"}", ""),
        "nested deep": ({}, b'{"lines": ' + b"[" * 900 + b"]" * 900 + b"}", ""),
        "a NUL in the address": (
            {},
            {**good, "shipping_address": {**good["shipping_address"], "city": "长\u0000春"}},
            "",
        ),
        "no lines": ({}, {"shipping_address": good["shipping_address"]}, ""),
        "an unknown field": ({}, {**good, "coupon": "FREE"}, ""),
        "an unknown SKU": ({}, {**good, "lines": [{"sku_id": 999999, "quantity": 1}]}, ""),
        "more than the stock": ({}, basket((shop.sku_ginseng, 4)), ""),
        "an unknown code": ({}, {**good, "livestream_code": "NOSUCH"}, ""),
    }


REFUSED = [
    "no token",
    "unknown token",
    "basic scheme",
    "a station's token",
    "no key",
    "a key too long",
    "not json",
    "broken json",
    "not utf-8",
    "nested too deeply",
    "nested deep",
    "a NUL in the address",
    "no lines",
    "an unknown field",
    "an unknown SKU",
    "more than the stock",
    "an unknown code",
]


@pytest.mark.parametrize("case", REFUSED)
def test_what_the_front_cannot_place_gets_the_apps_own_answer(session, shop, front, case):
    extra, body, query = _refused(shop)[case]
    headers = {k: v for k, v in _headers(shop, "refused", **extra).items() if v}
    raw = body if isinstance(body, bytes) else None
    before = _counts(session)

    through_front = _call(front, headers, body, raw=raw, query=query)
    straight = _call(front.wsgi_app, headers, body, raw=raw, query=query)

    assert through_front[0][0] == "4"  # a refusal, not a 201 nor a 500
    assert through_front == straight
    sent = raw if raw is not None else _encoded(body)
    assert front.wsgi_app.bodies == [sent, sent]  # handed on as it came, then the app's own
    assert _counts(session) == before


def test_a_request_with_a_query_string_is_left_to_the_app(session, shop, front):
    body = basket((shop.sku_500g, 1))
    answer = _call(front, _headers(shop, "queried"), body, query="from=ad")
    assert answer[0] == "201 CREATED"
    assert front.wsgi_app.bodies == [_encoded(body)]
    assert _counts(session)["orders"] == 1


def test_a_key_used_with_another_basket_gets_the_apps_answer(session, shop, front):
    placed = _call(front, _headers(shop, "once"), basket((shop.sku_500g, 1)))
    assert placed[0] == "201 CREATED"
    before = _counts(session)

    other = basket((shop.sku_500g, 2))
    through_front = _call(front, _headers(shop, "once"), other)
    straight = _call(front.wsgi_app, _headers(shop, "once"), other)

    assert through_front[0] == "422 UNPROCESSABLE ENTITY"
    assert through_front == straight
    assert _counts(session) == before


def test_a_unit_places_an_order_through_the_front(session, shop, front, make_user, auth):
    unit = BuyingUnit(name="青松县农业农村局", kind=UnitKind.government)
    session.add(unit)
    session.flush()
    headers = {**auth(make_user(Role.unit, unit_id=unit.id)), "X-Request-ID": "front-0002"}
    session.commit()
    body = basket((shop.sku_1kg, 1))
    by_front = _call(front, {**headers, "Idempotency-Key": "unit"}, body)
    by_app = _call(front.wsgi_app, {**headers, "Idempotency-Key": "unit-app"}, body)

    assert by_front[0] == "201 CREATED", by_front[2]
    assert front.wsgi_app.bodies == [_encoded(body)]
    assert json.loads(by_front[2])["channel"] == "unit_procurement"
    assert _comparable(*by_front) == _comparable(*by_app)


def test_every_request_meets_the_front_before_the_app(app):
    front = _app_front(app)
    assert front.wsgi_app.__self__ is app  # Flask's own wsgi_app, nothing between them
    assert front._path == PATH


#: What the view's decorators and the app's request hooks do for a checkout, each of which the
#: front does by calling the same functions (its module says how). A new one must be taught to
#: the front before this list is changed: the front would otherwise answer without it.
VIEW_LAYERS = [
    "outside_a_transaction.<locals>.wrapper",
    "login_required.<locals>.decorate.<locals>.wrapper",
    "Parser.use_args.<locals>.decorator.<locals>.wrapper",
    "ArgumentsMixin.arguments.<locals>.decorator.<locals>.wrapper",
    "ResponseMixin.response.<locals>.decorator.<locals>.wrapper",
    "Blueprint.doc.<locals>.decorator.<locals>.wrapper",
    "Blueprint.idempotent_response.<locals>.decorate.<locals>.with_key",
    "Blueprint.doc.<locals>.decorator.<locals>.wrapper",
    "PlaceOrder.post",
]
REQUEST_HOOKS = {
    "before_request_funcs": ["marketplace.request_cycle._start_request"],
    "after_request_funcs": [
        "marketplace.request_cycle._finish_request",
        "marketplace.request_cycle._commit_or_rollback",
    ],
    "teardown_request_funcs": ["marketplace.request_cycle._discard_session"],
    "url_value_preprocessors": [],
}


def test_the_front_knows_every_step_of_the_view(app):
    layers, view = [], PlaceOrder.post
    while view is not None:
        layers.append(view.__code__.co_qualname)
        view = getattr(view, "__wrapped__", None)
    assert layers == VIEW_LAYERS

    for hooks, expected in REQUEST_HOOKS.items():
        registered = getattr(app, hooks)
        applying = [*registered.get(None, []), *registered.get("payments", [])]
        assert [f"{f.__module__}.{f.__qualname__}" for f in applying] == expected, hooks


@pytest.mark.parametrize("language", [None, "zh-CN"])
def test_a_payment_that_could_not_start_is_told_as_the_app_tells_it(
    session, shop, front, unreachable_stripe, caplog, language
):
    headers = _headers(shop, "unused", **({"Accept-Language": language} if language else {}))
    body = basket((shop.sku_500g, 1))
    by_front, by_app = _placed(session, front, shop, body, headers, caplog)

    assert _comparable(*by_front) == _comparable(*by_app)
    error = json.loads(by_front[2])["payment_error"]
    assert error.startswith("Stripe 未能发起支付" if language else "Stripe did not start"), error
