"""The headers every response carries, and those that keep secrets out of caches."""

import pytest

from marketplace.accounts.models import Role
from marketplace.request_cycle import SECURITY_HEADERS


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/ping",
        "/api/docs",
        "/api/v1/openapi.json",
        "/api/v1/products",
        "/api/v1/no-such-thing",
        "/api/v1/me",  # a 401
        "/healthz",
    ],
)
def test_every_response_carries_the_security_headers(client, url):
    response = client.get(url)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (url, name)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_401_says_how_to_authenticate(client):
    for response in (
        client.get("/api/v1/me"),
        client.get("/api/v1/me", headers={"Authorization": "Bearer mkt_unknown"}),
        client.post("/api/v1/auth/tokens", json={"username": "nobody", "password": "x"}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_token_response_is_never_cached(client, make_user):
    user = make_user()
    response = client.post(
        "/api/v1/auth/tokens", json={"username": user.username, "password": "correct horse battery"}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"


def test_responses_with_full_id_numbers_are_never_cached(
    client, regions, make_household, make_user, make_station, auth
):
    household = make_household(regions.village_a1)
    url = f"/api/v1/households/{household.id}"
    admin = client.get(url, headers=auth(make_user(Role.admin)))
    assert admin.json["head_id_number"] == household.plain_id_number
    assert admin.headers["Cache-Control"] == "no-store"
    station = make_station(regions.village_a1)
    masked = client.get(url, headers=auth(make_user(Role.station, station_id=station.id)))
    assert masked.json["head_id_number"] != household.plain_id_number
    assert "no-store" not in masked.headers.get("Cache-Control", "")
