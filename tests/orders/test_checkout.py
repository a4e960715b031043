"""Checkout: prices from the catalog, stock taken atomically, idempotency, bad input."""

from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.catalog.models import ProductStatus, Sku
from marketplace.db import utcnow
from marketplace.idempotency import IdempotencyKey
from marketplace.orders.models import Order, OrderEvent, OrderLine
from tests.orders.conftest import basket


def stock(session, sku):
    return session.execute(sa.select(Sku.stock).where(Sku.id == sku.id)).scalar_one()


def count(session, model):
    return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_checkout_snapshots_prices_and_takes_stock(session, shop, place):
    response = place(shop.buyer_headers, basket((shop.sku_500g, 2), (shop.sku_ginseng, 1)))
    assert response.status_code == 201, response.json
    order = response.json
    assert order["status"] == "pending_payment"
    assert order["payment_status"] == "unpaid"
    assert order["channel"] == "web"
    assert order["total_fen"] == 2 * 6800 + 39900
    assert order["payment"] is None  # offline gateway: the station records the payment
    lines = {line["sku_id"]: line for line in order["lines"]}
    assert lines[shop.sku_500g.id]["unit_price_fen"] == 6800
    assert lines[shop.sku_500g.id]["station_id"] == shop.station.id
    assert lines[shop.sku_500g.id]["producer_id"] == shop.producer.id
    assert lines[shop.sku_ginseng.id]["station_id"] == shop.other_station.id
    assert lines[shop.sku_ginseng.id]["product_name"] == "林下参"
    assert stock(session, shop.sku_500g) == 8
    assert stock(session, shop.sku_ginseng) == 2
    events = session.execute(
        sa.select(OrderEvent.dimension, OrderEvent.to_value).where(
            OrderEvent.order_id == order["id"]
        )
    ).all()
    assert {tuple(e) for e in events} == {("status", "pending_payment"), ("payment", "unpaid")}


def test_a_later_price_change_does_not_touch_the_order(session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    shop.sku_500g.price_fen = 9900
    session.flush()
    line = session.execute(
        sa.select(OrderLine).where(OrderLine.order_id == order["id"])
    ).scalar_one()
    assert line.unit_price_fen == 6800


def test_a_livestream_code_ties_the_order_to_its_session(client, shop, place):
    """(Live prices: tests/livestreams/test_live_prices.py.)"""
    start = utcnow() + timedelta(hours=1)
    session = client.post(
        "/api/v1/livestreams",
        json={
            "title": "蓝莓节",
            "host_name": "李站长",
            "host_kind": "station_operator",
            "platform": "own",
            "room_id": "own-1",
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=2)).isoformat(),
            "code": "BLUEBERRY-FEST",
        },
        headers=shop.station_headers,
    ).json
    order = place(
        shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code="BLUEBERRY-FEST")
    ).json
    assert order["livestream_session_id"] == session["id"]
    assert order["channel"] == "livestream"


def test_too_little_stock_is_409_naming_the_sku_and_nothing_changes(session, shop, place):
    before = count(session, Order)
    response = place(shop.buyer_headers, basket((shop.sku_500g, 2), (shop.sku_1kg, 6)))
    assert response.status_code == 409
    assert response.json["shortages"] == [
        {"sku_id": shop.sku_1kg.id, "requested": 6, "available": 5}
    ]
    assert response.json["detail"] == f"Not enough stock for SKU {shop.sku_1kg.id} (5 left)."
    assert response.json["code"] == "checkout.out_of_stock"
    assert stock(session, shop.sku_500g) == 10  # the other line took nothing either
    assert count(session, Order) == before


def test_unknown_inactive_and_unpublished_skus_are_422_naming_the_line(session, shop, place):
    shop.sku_1kg.is_active = False
    shop.ginseng.status = ProductStatus.delisted
    session.flush()
    response = place(
        shop.buyer_headers,
        {
            "lines": [
                {"sku_id": shop.sku_500g.id, "quantity": 1},
                {"sku_id": 999999, "quantity": 1},
                {"sku_id": shop.sku_1kg.id, "quantity": 1},
                {"sku_id": shop.sku_ginseng.id, "quantity": 1},
            ],
            "shipping_address": basket()["shipping_address"],
        },
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"lines.1.sku_id", "lines.2.sku_id", "lines.3.sku_id"}
    assert response.json["reasons"]["lines.1.sku_id"] == [
        {"code": "checkout.sku_not_on_sale", "params": {}}
    ]
    assert stock(session, shop.sku_500g) == 10


def test_bad_quantities_prices_and_addresses_are_named(session, shop, place):
    body = basket((shop.sku_500g, 0), (shop.sku_1kg, 201))
    body["lines"].append({"sku_id": shop.sku_ginseng.id, "quantity": 1, "price_fen": 1})
    body["shipping_address"]["recipient_phone"] = "12345"
    del body["shipping_address"]["city"]
    response = place(shop.buyer_headers, body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "lines.0.quantity",
        "lines.1.quantity",
        "lines.2.price_fen",
        "shipping_address.recipient_phone",
        "shipping_address.city",
    }
    assert response.json["reasons"]["shipping_address.recipient_phone"] == [
        {"code": "address.not_a_phone_number", "params": {}}
    ]
    assert count(session, Order) == 0


def test_an_sku_id_beyond_any_id_is_422_naming_the_line(session, shop, place):
    body = basket((shop.sku_500g, 1))
    body["lines"][0]["sku_id"] = 2**31  # once a 500 on PostgreSQL (integer out of range)
    response = place(shop.buyer_headers, body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"lines.0.sku_id"}
    assert count(session, Order) == 0


def test_the_same_sku_twice_is_422(shop, place):
    response = place(shop.buyer_headers, basket((shop.sku_500g, 1), (shop.sku_500g, 2)))
    assert response.status_code == 422
    assert response.json["errors"] == {
        "lines.1.sku_id": ["appears twice; add the quantities instead"]
    }
    assert response.json["reasons"] == {
        "lines.1.sku_id": [{"code": "checkout.sku_given_twice", "params": {}}]
    }


def test_empty_basket_is_422(shop, place):
    response = place(
        shop.buyer_headers, {"lines": [], "shipping_address": basket()["shipping_address"]}
    )
    assert response.status_code == 422
    assert "lines" in response.json["errors"]


def test_idempotency_key_is_required(client, shop):
    response = client.post(
        "/api/v1/orders", json=basket((shop.sku_500g, 1)), headers=shop.buyer_headers
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_same_key_same_body_returns_the_first_order(session, shop, place):
    body = basket((shop.sku_500g, 3))
    first = place(shop.buyer_headers, body, key="k-1")
    second = place(shop.buyer_headers, body, key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert stock(session, shop.sku_500g) == 7  # taken once
    assert count(session, Order) == 1


def test_same_key_other_body_is_422_and_changes_nothing(session, shop, place):
    place(shop.buyer_headers, basket((shop.sku_500g, 1)), key="k-2")
    response = place(shop.buyer_headers, basket((shop.sku_500g, 2)), key="k-2")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]
    assert stock(session, shop.sku_500g) == 9
    assert count(session, Order) == 1


def test_keys_belong_to_their_user(session, shop, place, make_user, auth):
    other_buyer = auth(make_user(Role.buyer))
    body = basket((shop.sku_500g, 1))
    first = place(shop.buyer_headers, body, key="shared")
    second = place(other_buyer, body, key="shared")
    assert first.json["id"] != second.json["id"]
    assert count(session, IdempotencyKey) == 2


def test_a_failed_checkout_does_not_burn_the_key(session, shop, place):
    body = basket((shop.sku_1kg, 6))
    assert place(shop.buyer_headers, body, key="retry-me").status_code == 409
    shop.sku_1kg.stock = 6
    session.flush()
    assert place(shop.buyer_headers, body, key="retry-me").status_code == 201


def test_only_buyers_and_units_order(client, shop, place):
    assert client.post("/api/v1/orders", json=basket((shop.sku_500g, 1))).status_code == 401
    assert place(shop.station_headers, basket((shop.sku_500g, 1))).status_code == 403


def test_unit_orders_are_unit_procurement(session, shop, place, make_user, auth):
    from marketplace.producers.models import BuyingUnit, UnitKind

    unit = BuyingUnit(name="青松县农业农村局", kind=UnitKind.government)
    session.add(unit)
    session.flush()
    headers = auth(make_user(Role.unit, unit_id=unit.id))
    order = place(headers, basket((shop.sku_500g, 2))).json
    assert order["channel"] == "unit_procurement"
    assert order["unit_id"] == unit.id


def test_statement_count_does_not_grow_with_lines(
    session, shop, place, count_queries, make_product
):
    many = make_product(
        shop.station,
        shop.producer,
        skus=[{"spec": f"规格{i}", "price_fen": 1000 + i, "stock": 50} for i in range(8)],
    )
    with count_queries() as one_line:
        assert place(shop.buyer_headers, basket((shop.sku_500g, 1))).status_code == 201
    with count_queries() as eight_lines:
        response = place(shop.buyer_headers, basket(*[(sku, 1) for sku in many.skus_created]))
        assert response.status_code == 201
    assert one_line.count == eight_lines.count
