"""Whatever goes wrong under /console, a person reads a page in Chinese: a URL no route matches,
a method a page does not take, a failure of the service, an upload too large, a form whose
token is stale, a session that ended. Everything under /api keeps answering problem documents.
"""

import re

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from marketplace.errors import handle_unexpected_error
from tests.console.conftest import csrf_of
from tests.orders.conftest import basket

#: Latin words a page may show: none of the service's English may reach a person.
_ENGLISH = re.compile(r"[A-Za-z]{4,}")


def visible_text(response) -> str:
    html = response.get_data(as_text=True)
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", main.split(">", 1)[1])


def assert_a_chinese_page(response, status: int):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    text = visible_text(response)
    assert f"错误 {status}" in text
    assert _ENGLISH.findall(text) == [], text


def test_a_console_url_no_route_matches_is_a_page(client, sign_in, shop):
    assert_a_chinese_page(client.get("/console/no/such/page"), 404)
    signed_in = sign_in(shop.station_user)
    page = signed_in.get("/console/no/such/page")
    assert_a_chinese_page(page, 404)
    # The header still knows who is signed in, and its sign-out form carries the token.
    assert shop.station_user.username in page.text and 'name="csrf_token"' in page.text


def test_an_api_url_no_route_matches_is_still_a_problem(client):
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "http.no_such_resource"
    chinese = client.get("/api/v1/no/such/thing", headers={"Accept-Language": "zh-CN"})
    assert chinese.mimetype == "application/problem+json"
    assert chinese.json["code"] == "http.no_such_resource"
    assert chinese.json["detail"] != response.json["detail"]


def test_a_method_a_console_page_does_not_take_is_a_page(client, sign_in, shop):
    sign_in(shop.station_user)
    assert_a_chinese_page(client.get("/console/logout"), 405)
    api = client.delete("/api/v1/products")
    assert api.status_code == 405 and api.mimetype == "application/problem+json"
    assert api.json["code"] == "http.method_not_allowed" and "GET" in api.headers["Allow"]


def test_a_record_out_of_scope_is_a_404_page_in_chinese(client, sign_in, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_ginseng, 1))).json
    sign_in(shop.station_user)
    assert_a_chinese_page(client.get(f"/console/station/orders/{order['id']}"), 404)


def test_a_role_without_the_console_is_refused_in_chinese(client, sign_in, shop, make_user):
    from marketplace.accounts.models import Role

    sign_in(make_user(Role.buyer))
    page = client.get("/console/")
    assert_a_chinese_page(page, 403)
    assert "商城" in visible_text(page)


def test_a_stale_form_token_is_a_page_asking_to_reload(client, sign_in, shop):
    sign_in(shop.station_user)
    page = client.post("/console/logout", data={"csrf_token": "stale"})
    assert_a_chinese_page(page, 400)
    assert "刷新页面" in visible_text(page)


def test_an_upload_too_large_is_a_page(app, client, sign_in, shop, monkeypatch):
    signed_in = sign_in(shop.station_user)
    token = csrf_of(signed_in.get("/console/station/orders"))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 3 * 1024 * 1024)
    page = signed_in.post(
        "/console/logout", data={"csrf_token": token, "pad": "x" * (4 * 1024 * 1024)}
    )
    assert_a_chinese_page(page, 413)
    assert "最多约 3 MB" in page.text


def _failing_home(app, monkeypatch, error):
    def fails():
        raise error

    monkeypatch.setitem(app.view_functions, "console.home", fails)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (StaleDataError("raced"), 409),
        (IntegrityError("INSERT", {}, Exception("duplicate")), 409),
        (OperationalError("SELECT", {}, Exception("gone")), 503),
    ],
)
def test_a_failure_the_api_answers_as_a_problem_is_a_page(
    app, client, sign_in, shop, monkeypatch, error, status
):
    sign_in(shop.station_user)
    _failing_home(app, monkeypatch, error)
    assert_a_chinese_page(client.get("/console/"), status)


def test_an_unexpected_error_is_a_page_naming_the_request(app, client, sign_in, shop, monkeypatch):
    sign_in(shop.station_user)
    _failing_home(app, monkeypatch, RuntimeError("bug"))
    # Under test an unexpected error propagates, as the API's does, to show its traceback.
    with pytest.raises(RuntimeError):
        client.get("/console/")
    monkeypatch.setitem(app.config, "TESTING", False)
    page = client.get("/console/", headers={"X-Request-ID": "req-12345678"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "已记录" in page.text and "req-12345678" in page.text
    assert "bug" not in visible_text(page) and "Traceback" not in page.text


def test_the_apis_unexpected_error_stays_a_problem(app, client, monkeypatch):
    def fails(*args, **kwargs):
        raise RuntimeError("bug")

    # The app leaves its handler out under test (``register_error_handlers``): as in production.
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.error_handler_spec[None][None], Exception, handle_unexpected_error)
    monkeypatch.setitem(app.view_functions, "health.ping", fails)
    response = client.get("/api/v1/ping")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "service.unexpected"


def test_a_session_that_ended_sends_a_page_to_sign_in_and_back(client, sign_in, shop):
    signed_in = sign_in(shop.station_user)
    token = csrf_of(signed_in.get("/console/station/orders"))
    with signed_in.session_transaction() as cookie:
        cookie["token"] = "expired-or-revoked"  # a token no longer answering to anyone

    page = signed_in.get("/console/station/orders?status=paid")
    assert page.status_code == 302
    assert "/console/login?next=/console/station/orders?status%3Dpaid" in page.location
    login = signed_in.get(page.location)
    assert "登录已过期" in login.text

    # A form posted after the session ended goes to sign in too, and back to the page it was
    # on (its own address answers no GET), never to a stale-token error.
    posted = signed_in.post(
        "/console/logout",
        data={"csrf_token": token},
        headers={"Referer": "http://localhost/console/station/products"},
    )
    assert posted.status_code == 302
    assert posted.location.endswith("/console/login?next=/console/station/products")


def test_a_page_asked_for_before_signing_in_says_so(client):
    page = client.get("/console/station/orders")
    login = client.get(page.location)
    assert login.status_code == 200 and "请先登录" in login.text


def test_too_many_requests_is_a_page_saying_when_to_retry(app, client, sign_in, shop, monkeypatch):
    from marketplace.accounts.service import LOGINS_THROTTLED
    from marketplace.errors import TooManyRequests

    sign_in(shop.station_user)
    _failing_home(app, monkeypatch, TooManyRequests(LOGINS_THROTTLED(), retry_after=30))
    page = client.get("/console/")
    assert_a_chinese_page(page, 429)
    assert page.headers["Retry-After"] == "30"


def test_a_refusal_no_form_caught_lists_its_reasons(app, client, sign_in, shop, monkeypatch):
    from marketplace.errors import ValidationFailed
    from marketplace.reasons import Message

    sign_in(shop.station_user)
    required = Message("Missing data for required field.", "field.required")
    _failing_home(app, monkeypatch, ValidationFailed({"status": [required], "page": [required]}))
    page = client.get("/console/")
    assert_a_chinese_page(page, 422)
    assert visible_text(page).count("必填") == 1 and "status" not in visible_text(page)


def test_a_sign_in_page_left_open_too_long_shows_the_form_again(client, shop):
    client.get("/console/login")
    page = client.post(
        "/console/login",
        data={"csrf_token": "from a session that ended", "username": "someone", "next": ""},
    )
    assert page.status_code == 400
    assert "登录页面已过期" in page.text and 'value="someone"' in page.text
    assert 'name="password"' in page.text and 'name="csrf_token"' in page.text


def test_signing_in_comes_back_to_the_page_without_a_stray_question_mark(client):
    response = client.get("/console/station/orders")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("next=/console/station/orders")
    with_query = client.get("/console/station/orders?view=unpaid")
    assert with_query.headers["Location"].endswith("next=/console/station/orders?view%3Dunpaid")
