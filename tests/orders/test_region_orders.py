"""Officials list the orders of their region (read-only), filtered by where the produce comes
from, station, channel, payment period and session; nothing outside their subtree shows."""

from marketplace.clock import shanghai_today
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)

ORDERS = "/api/v1/orders"


def listed(client, headers, **query) -> set[int]:
    response = client.get(ORDERS, query_string={"page_size": 100, **query}, headers=headers)
    assert response.status_code == 200, response.json
    return {order["id"] for order in response.json}


def test_officials_filter_the_orders_of_their_region(client, shop, money, pay, regions):
    blueberries = pay((shop.sku_500g, 1))
    ginseng = pay((shop.sku_ginseng, 1), headers=shop.other_station_headers)
    county = money.official_headers
    this_month = shanghai_today().strftime("%Y-%m")
    assert listed(client, county) >= {blueberries["id"], ginseng["id"]}
    assert listed(client, county, region_id=regions.village_a1.id) == {blueberries["id"]}
    assert listed(client, county, region_id=regions.township_b.id) == {ginseng["id"]}
    assert listed(client, county, station_id=shop.other_station.id) == {ginseng["id"]}
    assert listed(client, county, channel="web", paid_in=this_month) == {
        blueberries["id"],
        ginseng["id"],
    }
    assert listed(client, county, channel="imported") == set()
    assert listed(client, county, paid_in="2025-01") == set()
    # Township B's official sees its own produce only, whatever the filter names.
    assert listed(client, money.official_b_headers) == {ginseng["id"]}
    assert listed(client, money.official_b_headers, region_id=regions.village_a1.id) == set()
    assert listed(client, money.official_far_headers) == set()
    # An unknown region is an empty list, as everywhere.
    assert listed(client, county, region_id=999999) == set()
    bad = client.get(ORDERS, query_string={"paid_in": "2025-13"}, headers=county)
    assert bad.status_code == 422 and "paid_in" in bad.json["errors"]


def test_officials_read_no_shipping_address(client, shop, money, pay):
    order = pay((shop.sku_500g, 1))
    seen = client.get(f"{ORDERS}/{order['id']}", headers=money.official_headers)
    assert seen.status_code == 200, seen.json
    assert seen.json["shipping_address"] is None and seen.json["lines"]
    assert client.get(f"{ORDERS}/{order['id']}", headers=shop.buyer_headers).json[
        "shipping_address"
    ]["recipient_name"]
    # Read-only: an official cancels, ships and refunds nothing.
    assert (
        client.post(
            f"{ORDERS}/{order['id']}/cancel", json={}, headers=money.official_headers
        ).status_code
        == 403
    )
