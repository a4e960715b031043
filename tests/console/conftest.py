"""Signing in to the console as a browser would: the login page's CSRF token, then the form."""

import re

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
