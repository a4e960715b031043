import itertools

import pytest

from marketplace.accounts.models import Role

_keys = itertools.count(1)


@pytest.fixture
def shop(regions, make_station, make_producer, make_product, make_user, auth):
    """Two stations with a product each (two SKUs on the first), a buyer, station operators."""

    class Shop:
        station = make_station(regions.village_a1)
        other_station = make_station(regions.village_b1)
        producer = make_producer(station)
        other_producer = make_producer(other_station)
        blueberries = make_product(
            station,
            producer,
            name="野生蓝莓",
            skus=[
                {"spec": "500g 礼盒", "price_fen": 6800, "stock": 10},
                {"spec": "1kg 礼盒", "price_fen": 12800, "stock": 5},
            ],
        )
        ginseng = make_product(
            other_station,
            other_producer,
            name="林下参",
            skus=[{"spec": "5支装", "price_fen": 39900, "stock": 3}],
        )
        buyer = make_user(Role.buyer)
        station_user = make_user(Role.station, station_id=station.id)
        other_station_user = make_user(Role.station, station_id=other_station.id)
        admin = make_user(Role.admin)

    Shop.sku_500g, Shop.sku_1kg = Shop.blueberries.skus_created
    (Shop.sku_ginseng,) = Shop.ginseng.skus_created
    Shop.buyer_headers = auth(Shop.buyer)
    Shop.station_headers = auth(Shop.station_user)
    Shop.other_station_headers = auth(Shop.other_station_user)
    Shop.admin_headers = auth(Shop.admin)
    return Shop


ADDRESS = {
    "recipient_name": "李晓梅",
    "recipient_phone": "13800138000",
    "province": "吉林省",
    "city": "长春市",
    "district": "朝阳区",
    "address_line": "人民大街 1000 号",
    "postal_code": "130000",
}


def basket(*lines, **extra):
    body = {
        "lines": [{"sku_id": sku.id, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": dict(ADDRESS),
    }
    body.update(extra)
    return body


@pytest.fixture
def place(client):
    """``place(headers, body, key=None)`` -> response of POST /api/v1/orders."""

    def post(headers, body, key=None):
        key = key or f"test-key-{next(_keys)}"
        return client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})

    return post
