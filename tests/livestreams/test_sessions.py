"""Livestream sessions: who schedules what, the state machine and its events, one live session
per room, and the SKUs a session may feature."""

import pytest

from marketplace.accounts.models import Role
from tests.livestreams.conftest import SESSIONS, session_body


def test_a_station_schedules_its_own_session_with_a_generated_code(client, shop, live):
    session = live.schedule()
    assert session["station_id"] == shop.station.id and session["region_id"] is None
    assert session["state"] == "scheduled"
    assert session["code"].startswith("LS") and len(session["code"]) == 10
    assert [e["to_state"] for e in session["events"]] == ["scheduled"]


def test_a_station_cannot_organise_for_another_or_for_a_region(client, shop, regions):
    response = client.post(
        SESSIONS,
        json=session_body(station_id=shop.other_station.id, region_id=regions.county.id),
        headers=shop.station_headers,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"station_id", "region_id"}


def test_an_admin_schedules_a_county_led_session(client, shop, regions):
    response = client.post(
        SESSIONS,
        json=session_body(
            region_id=regions.county.id, host_kind="official", host_name="王县长", code="QS-PINE"
        ),
        headers=shop.admin_headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["region_id"] == regions.county.id
    assert response.json["code"] == "QS-PINE"
    again = client.post(
        SESSIONS,
        json=session_body(region_id=regions.county.id, code="QS-PINE"),
        headers=shop.admin_headers,
    )
    assert again.status_code == 422 and set(again.json["errors"]) == {"code"}


def test_the_schedule_must_end_after_it_starts(client, shop):
    body = session_body()
    body["scheduled_end"] = body["scheduled_start"]
    response = client.post(SESSIONS, json=body, headers=shop.station_headers)
    assert response.status_code == 422 and set(response.json["errors"]) == {"scheduled_end"}


def test_states_move_one_way_and_each_move_is_an_event(client, shop, live):
    session = live.schedule()
    started = live.start(session)
    assert started["state"] == "live" and started["actual_start"]
    again = client.post(f"{SESSIONS}/{session['id']}/start", json={}, headers=shop.station_headers)
    assert again.status_code == 409
    assert (again.json["current"], again.json["requested"]) == ("live", "live")
    cancel = client.post(
        f"{SESSIONS}/{session['id']}/cancel", json={}, headers=shop.station_headers
    )
    assert cancel.status_code == 409
    ended = live.end(session)
    assert ended["state"] == "ended" and ended["actual_end"]
    assert [(e["from_state"], e["to_state"]) for e in ended["events"]] == [
        (None, "scheduled"),
        ("scheduled", "live"),
        ("live", "ended"),
    ]


def test_two_sessions_are_never_live_in_one_room(client, shop, live):
    first, second = live.schedule(), live.schedule()
    live.start(first)
    response = client.post(
        f"{SESSIONS}/{second['id']}/start", json={}, headers=shop.station_headers
    )
    assert response.status_code == 409
    assert set(response.json["errors"]) == {"room_id"}
    assert response.json["code"] == "live_session.room_taken"
    assert response.json["reasons"] == {
        "room_id": [{"code": "live_session.room_busy", "params": {}}]
    }
    assert (
        client.get(f"{SESSIONS}/{second['id']}", headers=shop.station_headers).json["state"]
        == "scheduled"
    )
    other_room = live.schedule(room_id="room-2")
    live.start(other_room)
    live.end(first)
    live.start(second)


def test_only_a_scheduled_session_changes_its_schedule(client, shop, live):
    session = live.schedule()
    changed = client.patch(
        f"{SESSIONS}/{session['id']}",
        json={"version": session["version"], "title": "蓝莓节直播（加场）", "room_id": "room-9"},
        headers=shop.station_headers,
    )
    assert changed.status_code == 200, changed.json
    started = live.start(changed.json)
    late = client.patch(
        f"{SESSIONS}/{session['id']}",
        json={"version": started["version"], "room_id": "room-3"},
        headers=shop.station_headers,
    )
    assert late.status_code == 422 and set(late.json["errors"]) == {"room_id"}
    stale = client.patch(
        f"{SESSIONS}/{session['id']}",
        json={"version": session["version"], "title": "旧版本"},
        headers=shop.station_headers,
    )
    assert stale.status_code == 409


def test_sessions_are_scoped(client, shop, live, make_user, auth, regions):
    mine = live.schedule()
    theirs = live.schedule(headers=shop.other_station_headers, room_id="room-b")
    for headers, seen in (
        (shop.station_headers, {mine["id"]}),
        (shop.other_station_headers, {theirs["id"]}),
        (shop.admin_headers, {mine["id"], theirs["id"]}),
        (auth(make_user(Role.official, region_id=regions.township_a.id)), {mine["id"]}),
        (auth(make_user(Role.official, region_id=regions.other_county.id)), set()),
    ):
        listed = client.get(SESSIONS, headers=headers)
        assert {s["id"] for s in listed.json} == seen
    assert client.get(f"{SESSIONS}/{theirs['id']}", headers=shop.station_headers).status_code == (
        404
    )
    assert client.get(SESSIONS, headers=shop.buyer_headers).status_code == 403
    moved = client.post(f"{SESSIONS}/{theirs['id']}/start", json={}, headers=shop.station_headers)
    assert moved.status_code == 404


def test_officials_read_but_do_not_manage(client, shop, live, official):
    session = live.schedule()
    assert client.get(f"{SESSIONS}/{session['id']}", headers=official).status_code == 200
    response = client.post(f"{SESSIONS}/{session['id']}/start", json={}, headers=official)
    assert response.status_code == 403


# --- featured SKUs ----------------------------------------------------------------------------


def test_a_sku_is_featured_at_a_live_price_within_its_catalog_price(client, shop, live):
    session = live.schedule()
    featured = live.feature(session, shop.sku_500g, 5800, cap=100)
    assert featured == [
        {
            "live_price_id": featured[0]["live_price_id"],
            "sku_id": shop.sku_500g.id,
            "sku_code": shop.sku_500g.code,
            "spec": "500g 礼盒",
            "product_id": shop.blueberries.id,
            "product_name": "野生蓝莓",
            "catalog_price_fen": 6800,
            "live_price_fen": 5800,
            "cap": 100,
            "sold": 0,
            "left": 100,
        }
    ]
    url = f"{SESSIONS}/{session['id']}/featured/{shop.sku_500g.id}"
    for price in (6801, 0, -1):
        response = client.put(url, json={"price_fen": price}, headers=shop.station_headers)
        assert response.status_code == 422 and set(response.json["errors"]) == {"price_fen"}
    above = client.put(url, json={"price_fen": 6801}, headers=shop.station_headers)
    assert above.json["errors"] == {"price_fen": ["above the catalog price, 6800 fen"]}
    assert above.json["reasons"] == {
        "price_fen": [{"code": "sku.price_above_catalog", "params": {"catalog_price_fen": 6800}}]
    }


def test_a_station_features_only_its_own_skus(client, shop, live):
    session = live.schedule()
    response = client.put(
        f"{SESSIONS}/{session['id']}/featured/{shop.sku_ginseng.id}",
        json={"price_fen": 100},
        headers=shop.station_headers,
    )
    assert response.status_code == 422 and set(response.json["errors"]) == {"sku_id"}


def test_a_county_led_session_features_any_station_of_its_region(client, shop, regions):
    session = client.post(
        SESSIONS,
        json=session_body(region_id=regions.county.id, host_kind="official"),
        headers=shop.admin_headers,
    ).json
    for sku in (shop.sku_500g, shop.sku_ginseng):
        response = client.put(
            f"{SESSIONS}/{session['id']}/featured/{sku.id}",
            json={"price_fen": 100},
            headers=shop.admin_headers,
        )
        assert response.status_code == 200, response.json


@pytest.mark.parametrize("state", ["ended", "cancelled"])
def test_a_finished_session_features_nothing_more(client, shop, live, state):
    session = live.schedule()
    if state == "ended":
        live.start(session)
        live.end(session)
    else:
        client.post(f"{SESSIONS}/{session['id']}/cancel", json={}, headers=shop.station_headers)
    response = client.put(
        f"{SESSIONS}/{session['id']}/featured/{shop.sku_500g.id}",
        json={"price_fen": 100},
        headers=shop.station_headers,
    )
    assert response.status_code == 409


def test_the_public_page_shows_what_viewers_may_order(client, shop, live):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800, cap=3)
    page = client.get(f"/api/v1/live-sessions/{session['code']}")
    assert page.status_code == 200
    assert page.json["state"] == "scheduled"
    (item,) = page.json["featured"]
    assert (item["live_price_fen"], item["catalog_price_fen"], item["left"]) == (5800, 6800, 3)
    assert "sold" not in item
    assert client.get("/api/v1/live-sessions/NO-SUCH").status_code == 404
