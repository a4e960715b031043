"""A station's livestream session over the order tests' shop (tests/orders/conftest.py)."""

from datetime import timedelta

import pytest

from marketplace.accounts.models import Role
from marketplace.db import utcnow
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)

SESSIONS = "/api/v1/livestreams"


def session_body(**over) -> dict:
    start = utcnow() + timedelta(hours=1)
    body = {
        "title": "蓝莓节直播",
        "host_name": "李站长",
        "host_kind": "station_operator",
        "platform": "douyin",
        "room_id": "room-1",
        "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(hours=2)).isoformat(),
    }
    body.update(over)
    return body


@pytest.fixture
def live(client, shop):
    """``live(**over)``: a session of the shop's first station, scheduled; ``live.start(s)``,
    ``live.feature(s, sku, price, cap)`` act on it as the station."""

    class Live:
        @staticmethod
        def schedule(headers=None, **over):
            response = client.post(
                SESSIONS, json=session_body(**over), headers=headers or shop.station_headers
            )
            assert response.status_code == 201, response.json
            return response.json

        @staticmethod
        def start(session, headers=None):
            response = client.post(
                f"{SESSIONS}/{session['id']}/start",
                json={},
                headers=headers or shop.station_headers,
            )
            assert response.status_code == 200, response.json
            return response.json

        @staticmethod
        def end(session, headers=None):
            response = client.post(
                f"{SESSIONS}/{session['id']}/end", json={}, headers=headers or shop.station_headers
            )
            assert response.status_code == 200, response.json
            return response.json

        @staticmethod
        def feature(session, sku, price_fen, cap=None, headers=None):
            response = client.put(
                f"{SESSIONS}/{session['id']}/featured/{sku.id}",
                json={"price_fen": price_fen, "cap": cap},
                headers=headers or shop.station_headers,
            )
            assert response.status_code == 200, response.json
            return response.json

    return Live


@pytest.fixture
def official(make_user, auth, regions):
    return auth(make_user(Role.official, region_id=regions.county.id))
