"""Signing in to the console as a browser would: the login page's CSRF token, then the form."""

import os
import re
import shutil

import pytest

from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)

PASSWORD = "correct horse battery"  # every user the shared fixtures make has it
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response) -> str:
    found = _CSRF.search(response.get_data(as_text=True))
    assert found, "the page has no form token"
    return found.group(1)


@pytest.fixture
def sign_in(client):
    """``sign_in(user)`` -> the client, signed in to the console with a session cookie."""

    def signed_in(user, password: str = PASSWORD):
        client.delete_cookie("session")
        page = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={
                "csrf_token": csrf_of(page),
                "username": user.username,
                "password": password,
                "next": "",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return signed_in


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium, for the browser tests (``tests/console/browser.py``). Without
    one on the PATH they are skipped, unless REQUIRE_BROWSER is set (CI sets it)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but there is no chromium on the PATH")
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo county on a served app of its own, shared by every browser test: each test
    makes what it needs (its own order, session, ...) rather than counting on another's."""
    from seed.demo import load_demo
    from tests.served import served_app

    with served_app(tmp_path_factory.mktemp("console-browser")) as served:
        with served.session() as session:
            load_demo(session)
        yield served
