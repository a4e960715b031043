"""A station runs a livestream from the console alone: schedules it, features its SKUs at live
prices with caps (typed in yuan), goes live, ends it and reads what it sold; refusals are in
Chinese beside the field or on the page, and another station's session is a 404."""

import sqlalchemy as sa

from marketplace.livestreams.models import LivePrice, LivestreamSession, SessionState
from tests.console.conftest import csrf_of
from tests.livestreams.conftest import live  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket

NEW = "/console/station/livestreams/new"


def _schedule(client, token, **over):
    form = {
        "csrf_token": token,
        "title": "蓝莓节直播",
        "host_name": "李站长",
        "host_kind": "station_operator",
        "platform": "douyin",
        "room_id": "room-9",
        "scheduled_start": "2026-12-20T19:00",
        "scheduled_end": "2026-12-20T21:00",
        "code": "BERRY2026",
    }
    return client.post(NEW, data={**form, **over})


def test_a_station_schedules_features_starts_and_ends_a_session(
    client, session, sign_in, shop, place
):
    sign_in(shop.station_user)
    token = csrf_of(client.get(NEW))
    refused = _schedule(client, token, scheduled_end="2026-12-20T18:00")
    assert refused.status_code == 422
    assert 'data-field="scheduled_end"' in refused.text and "须晚于计划开始时间" in refused.text
    assert 'value="蓝莓节直播"' in refused.text  # what was typed stays
    created = _schedule(client, token)
    assert created.status_code == 303, created.text
    page_url = created.headers["Location"]
    live_session = session.execute(
        sa.select(LivestreamSession).where(LivestreamSession.code == "BERRY2026")
    ).scalar_one()
    # Typed as Beijing time: 19:00 there is 11:00 UTC.
    assert live_session.scheduled_start.hour == 11
    page = client.get(page_url)
    assert "预告" in page.text and "抖音" in page.text and "douyin" not in page.text

    featuring = f"{page_url}/featured"
    above = client.post(
        featuring,
        data={"csrf_token": token, "sku_id": shop.sku_500g.id, "price": "99.00", "cap": "2"},
    )
    assert above.status_code == 422 and "不能高于商品原价 68.00 元" in above.text
    featured = client.post(
        featuring,
        data={"csrf_token": token, "sku_id": shop.sku_500g.id, "price": "49.90", "cap": "2"},
    )
    assert featured.status_code == 303
    price = session.execute(sa.select(LivePrice)).scalar_one()
    assert (price.price_fen, price.cap) == (4990, 2)
    assert 'id="featured-' in client.get(page_url).text

    assert client.post(f"{page_url}/start", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert live_session.state is SessionState.live
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code="BERRY2026")).json
    assert order["total_fen"] == 4990
    assert client.post(f"{page_url}/end", data={"csrf_token": token}).status_code == 303
    again = client.post(f"{page_url}/start", data={"csrf_token": token})
    assert again.status_code == 409 and "在当前状态下不能这样操作" in again.text
    ended = client.get(page_url)
    assert "已结束" in ended.text and 'id="move-' not in ended.text

    listed = client.get("/console/station/livestreams?state=ended")
    assert "BERRY2026" in listed.text and 'class="pager"' in listed.text
    assert "BERRY2026" not in client.get("/console/station/livestreams?state=live").text
    # A filter no state names filters nothing (a link someone shortened).
    shortened = client.get("/console/station/livestreams?state=liv&platform=douyin")
    assert shortened.status_code == 200 and "BERRY2026" in shortened.text


def test_a_featured_sku_is_changed_and_removed_and_the_session_edited(
    client, session, sign_in, shop, live
):
    scheduled = live.schedule()
    sign_in(shop.station_user)
    page_url = f"/console/station/livestreams/{scheduled['id']}"
    token = csrf_of(client.get(page_url))
    form = {"csrf_token": token, "sku_id": shop.sku_1kg.id, "price": "100", "cap": ""}
    assert client.post(f"{page_url}/featured", data=form).status_code == 303
    changed = client.post(f"{page_url}/featured", data={**form, "price": "90.5", "cap": "3"})
    assert changed.status_code == 303
    price = session.execute(sa.select(LivePrice)).scalar_one()
    assert (price.price_fen, price.cap) == (9050, 3)
    nothing = client.post(f"{page_url}/featured", data={**form, "sku_id": ""})
    assert nothing.status_code == 422 and 'data-field="sku_id"' in nothing.text
    removed = client.post(f"{page_url}/featured/{shop.sku_1kg.id}/remove", data=form)
    assert removed.status_code == 303
    assert session.execute(sa.select(LivePrice)).first() is None

    edit = client.get(f"{page_url}/edit")
    assert 'value="蓝莓节直播"' in edit.text and 'name="room_id"' in edit.text
    saved = client.post(
        f"{page_url}/edit",
        data={
            "csrf_token": token,
            "version": scheduled["version"],
            "title": "蓝莓节第二场",
            "host_name": "李站长",
            "host_kind": "guest",
            "platform": "kuaishou",
            "room_id": "room-2",
            "scheduled_start": "2026-12-21T19:00",
            "scheduled_end": "2026-12-21T20:00",
        },
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    edited = session.get(LivestreamSession, scheduled["id"])
    assert (edited.title, edited.platform.value, edited.room_id) == (
        "蓝莓节第二场",
        "kuaishou",
        "room-2",
    )
    stale = client.post(
        f"{page_url}/edit",
        data={"csrf_token": token, "version": scheduled["version"], "title": "旧标签页"},
    )
    assert stale.status_code == 409 and "请刷新后重新修改" in stale.text

    cancelled = client.post(f"{page_url}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert "已取消" in client.get(page_url).text


def test_another_stations_session_is_not_found(client, sign_in, shop, live):
    scheduled = live.schedule()
    sign_in(shop.other_station_user)
    page_url = f"/console/station/livestreams/{scheduled['id']}"
    token = csrf_of(client.get("/console/station/livestreams"))
    assert client.get(page_url).status_code == 404
    assert client.get(f"{page_url}/edit").status_code == 404
    assert client.post(f"{page_url}/start", data={"csrf_token": token}).status_code == 404
    featuring = client.post(
        f"{page_url}/featured",
        data={"csrf_token": token, "sku_id": shop.sku_ginseng.id, "price": "1"},
    )
    assert featuring.status_code == 404
    assert "蓝莓节直播" not in client.get("/console/station/livestreams").text
