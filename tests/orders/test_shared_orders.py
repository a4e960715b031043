"""An order holding two stations' goods: each station sees its own lines and their money only,
in the order, in the list, and in the refunds; the buyer and admins see the whole order."""

import pytest

from tests.orders.conftest import basket

_references = iter(range(10**6))


@pytest.fixture
def shared(client, shop, place):
    """Two boxes of station A's blueberries and one ginseng of station B, paid at A's counter;
    then B refunds its ginseng, and an admin refunds one box of A's and nothing else."""
    order = place(shop.buyer_headers, basket((shop.sku_500g, 2), (shop.sku_ginseng, 1))).json
    paid = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={
            "method": "cash",
            "reference": f"SHARED-{next(_references)}",
            "amount_fen": order["total_fen"],
        },
        headers=shop.station_headers,
    )
    assert paid.status_code == 201, paid.json
    lines = {line["sku_id"]: line for line in order["lines"]}
    by_b = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={
            "reason": "缺货",
            "lines": [{"order_line_id": lines[shop.sku_ginseng.id]["id"], "quantity": 1}],
        },
        headers=shop.other_station_headers,
    )
    assert by_b.status_code == 201, by_b.json
    by_admin = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={
            "reason": "压坏了",
            "lines": [{"order_line_id": lines[shop.sku_500g.id]["id"], "quantity": 1}],
        },
        headers=shop.admin_headers,
    )
    assert by_admin.status_code == 201, by_admin.json
    return order, lines, by_b.json, by_admin.json


def test_a_station_sees_its_own_lines_and_their_money_only(client, shop, shared):
    order, lines, _, _ = shared
    mine = lines[shop.sku_500g.id]
    for seen in (
        client.get(f"/api/v1/orders/{order['id']}", headers=shop.station_headers).json,
        client.get("/api/v1/orders", headers=shop.station_headers).json[0],
    ):
        assert [line["id"] for line in seen["lines"]] == [mine["id"]]
        assert seen["total_fen"] == 2 * 6800 == mine["line_total_fen"]
        assert seen["refunded_fen"] == 6800  # one box; not the ginseng's 39,900


def test_a_station_sees_only_its_refunds_and_its_part_of_a_shared_one(client, shop, shared):
    order, _, by_b, by_admin = shared
    seen_by_a = client.get(f"/api/v1/orders/{order['id']}/refunds", headers=shop.station_headers)
    assert seen_by_a.status_code == 200
    assert [refund["id"] for refund in seen_by_a.json] == [by_admin["id"]]
    seen_by_b = client.get(
        f"/api/v1/orders/{order['id']}/refunds", headers=shop.other_station_headers
    )
    assert [refund["id"] for refund in seen_by_b.json] == [by_b["id"]]
    assert seen_by_b.json[0]["amount_fen"] == 39900


def test_an_admins_refund_across_stations_shows_each_station_its_part(client, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1), (shop.sku_ginseng, 1))).json
    client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={"method": "cash", "reference": "SHARED-ALL", "amount_fen": order["total_fen"]},
        headers=shop.station_headers,
    )
    everything = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "整单退款"},
        headers=shop.admin_headers,
    )
    assert everything.status_code == 201, everything.json
    assert everything.json["amount_fen"] == 6800 + 39900
    url = f"/api/v1/orders/{order['id']}/refunds"
    (for_a,) = client.get(url, headers=shop.station_headers).json
    (for_b,) = client.get(url, headers=shop.other_station_headers).json
    assert (for_a["amount_fen"], len(for_a["lines"])) == (6800, 1)
    assert (for_b["amount_fen"], len(for_b["lines"])) == (39900, 1)
    (for_admin,) = client.get(url, headers=shop.admin_headers).json
    assert (for_admin["amount_fen"], len(for_admin["lines"])) == (6800 + 39900, 2)


def test_the_buyer_and_admins_see_the_whole_order(client, shop, shared):
    order, _, by_b, by_admin = shared
    for headers in (shop.buyer_headers, shop.admin_headers):
        seen = client.get(f"/api/v1/orders/{order['id']}", headers=headers).json
        assert len(seen["lines"]) == 2
        assert seen["total_fen"] == 2 * 6800 + 39900
        assert seen["refunded_fen"] == 6800 + 39900
        refunds = client.get(f"/api/v1/orders/{order['id']}/refunds", headers=headers).json
        assert [refund["id"] for refund in refunds] == [by_b["id"], by_admin["id"]]
