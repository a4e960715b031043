"""The console's session cookie, where signing in sends a user, and its throttled sign-in, as a
browser and an attacker meet them."""

import pytest

from tests.console.conftest import PASSWORD, csrf_of


def _set_cookie(response) -> str:
    [cookie] = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    return cookie


def test_the_session_cookie_is_lax_http_only_and_secure_when_configured(app, client, money):
    page = client.get("/console/login")
    cookie = _set_cookie(page)
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    client.delete_cookie("session")
    try:
        secure = _set_cookie(client.get("/console/login", base_url="https://localhost"))
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert "Secure" in secure and "SameSite=Lax" in secure and "HttpOnly" in secure


def test_production_serves_the_cookie_over_https_only():
    from marketplace.config import Config

    assert Config.SESSION_COOKIE_SAMESITE == "Lax" and Config.SESSION_COOKIE_HTTPONLY is True


@pytest.mark.parametrize(
    "target",
    [
        "/console/\r\nLocation: https://evil.example",
        "/console/\nX: y",
        "//evil.example/console",
        "/console\\\\evil.example",
        "https://evil.example/console",
    ],
)
def test_signing_in_never_sends_a_user_elsewhere_nor_breaks_the_redirect(client, money, target):
    page = client.get("/console/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(page),
            "username": money.official.username,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] in ("/console/", "http://localhost/console/")


def test_a_throttled_sign_in_says_when_to_try_again(client, money):
    token = csrf_of(client.get("/console/login"))
    for _ in range(7):
        response = client.post(
            "/console/login",
            data={"csrf_token": token, "username": money.official.username, "password": "x"},
        )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
