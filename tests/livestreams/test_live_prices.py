"""Checkout with a session's code: tied to the session, live prices while it is live, within
each price's cap, and every line saying which price applied and why."""

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Sku
from marketplace.livestreams.models import LivePrice
from marketplace.orders.models import Order
from tests.orders.conftest import basket


def lines_of(order) -> list[tuple]:
    return [
        (line["sku_id"], line["quantity"], line["unit_price_fen"], line["pricing"])
        for line in order["lines"]
    ]


def test_a_live_session_sells_its_featured_skus_at_their_live_price(client, shop, live, place):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800)
    live.start(session)
    response = place(
        shop.buyer_headers,
        basket((shop.sku_500g, 2), (shop.sku_1kg, 1), livestream_code=session["code"]),
    )
    assert response.status_code == 201, response.json
    order = response.json
    assert order["channel"] == "livestream"
    assert order["livestream_session_id"] == session["id"]
    assert lines_of(order) == [
        (shop.sku_500g.id, 2, 5800, "live"),
        (shop.sku_1kg.id, 1, 12800, "not_featured"),
    ]
    assert [line["list_price_fen"] for line in order["lines"]] == [6800, 12800]
    assert order["total_fen"] == 2 * 5800 + 12800


def test_outside_the_live_window_the_catalog_price_applies_and_says_why(client, shop, live, place):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800)
    before = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code=session["code"]))
    assert lines_of(before.json) == [(shop.sku_500g.id, 1, 6800, "session_not_live")]
    assert before.json["livestream_session_id"] == session["id"]
    live.start(session)
    live.end(session)
    after = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code=session["code"]))
    assert lines_of(after.json) == [(shop.sku_500g.id, 1, 6800, "session_not_live")]


def test_another_stations_sku_keeps_its_catalog_price(client, shop, live, place):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800)
    live.start(session)
    response = place(
        shop.buyer_headers, basket((shop.sku_ginseng, 1), livestream_code=session["code"])
    )
    assert lines_of(response.json) == [(shop.sku_ginseng.id, 1, 39900, "not_featured")]


def test_the_cap_splits_a_line_into_live_units_and_the_rest(client, session, shop, live, place):
    live_session = live.schedule()
    live.feature(live_session, shop.sku_500g, 5800, cap=3)
    live.start(live_session)
    first = place(
        shop.buyer_headers, basket((shop.sku_500g, 2), livestream_code=live_session["code"])
    )
    assert lines_of(first.json) == [(shop.sku_500g.id, 2, 5800, "live")]
    second = place(
        shop.buyer_headers, basket((shop.sku_500g, 3), livestream_code=live_session["code"])
    )
    assert lines_of(second.json) == [
        (shop.sku_500g.id, 1, 5800, "live"),
        (shop.sku_500g.id, 2, 6800, "cap_reached"),
    ]
    assert second.json["total_fen"] == 5800 + 2 * 6800
    third = place(
        shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code=live_session["code"])
    )
    assert lines_of(third.json) == [(shop.sku_500g.id, 1, 6800, "cap_reached")]
    sold = session.execute(sa.select(LivePrice.sold)).scalar_one()
    stock = session.execute(sa.select(Sku.stock).where(Sku.id == shop.sku_500g.id)).scalar_one()
    assert (sold, stock) == (3, 10 - 6)


def test_a_buyer_who_wants_the_live_price_or_nothing_gets_a_409_and_nothing_changes(
    client, session, shop, live, place
):
    live_session = live.schedule()
    live.feature(live_session, shop.sku_500g, 5800, cap=1)
    live.start(live_session)
    orders_before = session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one()
    response = place(
        shop.buyer_headers,
        basket((shop.sku_500g, 2), livestream_code=live_session["code"], live_price_only=True),
    )
    assert response.status_code == 409, response.json
    assert response.json["type"].endswith("/live-price-unavailable")
    assert response.json["refused"] == [
        {"line": 0, "sku_id": shop.sku_500g.id, "reason": "cap_reached", "live_units_left": 1}
    ]
    assert response.json["errors"] == {"lines.0.quantity": ["cap_reached"]}
    assert response.json["reasons"] == {
        "lines.0.quantity": [{"code": "checkout.cap_reached", "params": {}}]
    }
    assert response.json["code"] == "checkout.live_price_refused"
    session.expire_all()
    assert session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one() == (
        orders_before
    )
    assert session.execute(sa.select(LivePrice.sold)).scalar_one() == 0
    one = place(
        shop.buyer_headers,
        basket((shop.sku_500g, 1), livestream_code=live_session["code"], live_price_only=True),
    )
    assert lines_of(one.json) == [(shop.sku_500g.id, 1, 5800, "live")]


def test_an_unknown_code_is_a_422_naming_it(client, shop, place):
    response = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code="NO-SUCH"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"livestream_code"}


def test_orders_are_found_by_their_session(client, shop, live, place):
    session = live.schedule()
    placed = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code=session["code"]))
    place(shop.buyer_headers, basket((shop.sku_500g, 1)))
    for query in ({"livestream_code": session["code"]}, {"livestream_session_id": session["id"]}):
        found = client.get("/api/v1/orders", query_string=query, headers=shop.buyer_headers)
        assert [order["id"] for order in found.json] == [placed.json["id"]]


def test_the_public_page_counts_down_the_live_units(client, shop, live, place):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800, cap=5)
    live.start(session)
    place(shop.buyer_headers, basket((shop.sku_500g, 2), livestream_code=session["code"]))
    (item,) = client.get(f"/api/v1/live-sessions/{session['code']}").json["featured"]
    assert item["left"] == 3


@pytest.mark.parametrize("cap", [0, 1])
def test_a_cap_below_what_was_sold_is_refused(client, shop, live, place, cap):
    session = live.schedule()
    live.feature(session, shop.sku_500g, 5800, cap=5)
    live.start(session)
    place(shop.buyer_headers, basket((shop.sku_500g, 2), livestream_code=session["code"]))
    response = client.put(
        f"/api/v1/livestreams/{session['id']}/featured/{shop.sku_500g.id}",
        json={"price_fen": 5800, "cap": cap},
        headers=shop.station_headers,
    )
    assert response.status_code == 422 and set(response.json["errors"]) == {"cap"}
    unfeature = client.delete(
        f"/api/v1/livestreams/{session['id']}/featured/{shop.sku_500g.id}",
        headers=shop.station_headers,
    )
    assert unfeature.status_code == 409
