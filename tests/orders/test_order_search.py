"""Finding an order as a counter does: by part of its number, or by the last four digits of the
recipient's phone; always inside what the reader may see, and never by phone for officials."""

from marketplace.accounts.models import Role
from tests.orders.conftest import ADDRESS, basket


def _placed(place, shop, sku, phone):
    body = basket((sku, 1))
    body["shipping_address"] = {**ADDRESS, "recipient_phone": phone}
    return place(shop.buyer_headers, body).json


def _ids(client, headers, query):
    answer = client.get(f"/api/v1/orders?{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    return [order["id"] for order in answer.json]


def test_a_station_finds_its_order_by_part_of_the_number_in_any_case(client, shop, place):
    mine = _placed(place, shop, shop.sku_500g, "13900001234")
    other = _placed(place, shop, shop.sku_500g, "13900005678")
    tail = mine["number"][-6:]
    assert _ids(client, shop.station_headers, f"number={tail.lower()}") == [mine["id"]]
    assert set(_ids(client, shop.station_headers, "number=MK")) == {mine["id"], other["id"]}
    # Another station's order is not found by its number.
    assert _ids(client, shop.other_station_headers, f"number={tail}") == []


def test_a_station_finds_orders_by_the_phones_last_four_digits(client, shop, place):
    mine = _placed(place, shop, shop.sku_500g, "13900001234")
    _placed(place, shop, shop.sku_500g, "13900005678")
    theirs = _placed(place, shop, shop.sku_ginseng, "13900001234")
    assert _ids(client, shop.station_headers, "phone_tail=1234") == [mine["id"]]
    assert _ids(client, shop.other_station_headers, "phone_tail=1234") == [theirs["id"]]
    # Only the tail: a middle part of the number matches nothing.
    assert _ids(client, shop.station_headers, "phone_tail=0000") == []


def test_a_phone_tail_is_four_digits_and_a_number_letters_and_digits(client, shop):
    for query in ("phone_tail=123", "phone_tail=12345", "phone_tail=12%2534"):
        answer = client.get(f"/api/v1/orders?{query}", headers=shop.station_headers)
        assert answer.status_code == 422 and "phone_tail" in answer.json["errors"]
    answer = client.get("/api/v1/orders?number=MK%25", headers=shop.station_headers)
    assert answer.status_code == 422 and "number" in answer.json["errors"]


def test_an_official_cannot_search_by_phone(client, shop, place, auth, make_user):
    _placed(place, shop, shop.sku_500g, "13900001234")
    official = auth(make_user(Role.official, region_id=shop.station.village_id))
    answer = client.get("/api/v1/orders?phone_tail=1234", headers=official)
    assert answer.status_code == 403
    assert answer.json["code"] == "order.phone_tail_not_for_officials"
