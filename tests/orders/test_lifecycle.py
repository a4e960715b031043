"""An order's life after checkout: payment at the counter, shipping, receipt, cancellation,
expiry; and who sees which orders."""

from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.catalog.models import Sku
from marketplace.db import utcnow
from marketplace.orders import fulfilment, service
from marketplace.orders.models import Order, OrderEvent, OrderStatus
from marketplace.payments.models import Payment
from tests.orders.conftest import basket


def stock(session, sku):
    return session.execute(sa.select(Sku.stock).where(Sku.id == sku.id)).scalar_one()


def pay_offline(client, headers, order, **over):
    body = {"method": "cash", "reference": f"R-{order['id']}", "amount_fen": order["total_fen"]}
    body.update(over)
    return client.post(f"/api/v1/orders/{order['id']}/offline-payments", json=body, headers=headers)


def test_station_records_cash_and_the_order_is_paid(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 2))).json
    response = pay_offline(client, shop.station_headers, order)
    assert response.status_code == 201, response.json
    assert response.json["state"] == "succeeded"
    assert "client_secret" not in response.json
    detail = client.get(f"/api/v1/orders/{order['id']}", headers=shop.buyer_headers).json
    assert (detail["status"], detail["payment_status"]) == ("paid", "paid")
    assert detail["paid_at"]
    moves = [(e["dimension"], e["from_value"], e["to_value"]) for e in detail["events"]]
    assert ("status", "pending_payment", "paid") in moves
    assert ("payment", "unpaid", "paid") in moves


def test_offline_payment_must_match_the_total_and_the_state(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    short = pay_offline(client, shop.station_headers, order, amount_fen=order["total_fen"] - 1)
    assert short.status_code == 422 and "amount_fen" in short.json["errors"]
    bad = pay_offline(client, shop.station_headers, order, method="bitcoin", amount_fen=1.5)
    assert bad.status_code == 422 and {"method", "amount_fen"} <= set(bad.json["errors"])
    assert session.execute(sa.select(sa.func.count()).select_from(Payment)).scalar_one() == 0
    assert pay_offline(client, shop.station_headers, order).status_code == 201
    again = pay_offline(client, shop.station_headers, order, reference="R-second")
    assert again.status_code == 409
    assert again.json["current"] == "paid"


def test_another_station_cannot_touch_the_order(client, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    response = pay_offline(client, shop.other_station_headers, order)
    assert response.status_code == 404
    assert str(order["total_fen"]) not in response.get_data(as_text=True)
    seen = client.get(f"/api/v1/orders/{order['id']}", headers=shop.other_station_headers)
    assert seen.status_code == 404


def test_buyer_cancels_and_the_stock_returns(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 4))).json
    assert stock(session, shop.sku_500g) == 6
    response = client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "买错了"},
        headers=shop.buyer_headers,
    )
    assert response.status_code == 200
    assert (response.json["status"], response.json["payment_status"]) == ("cancelled", "void")
    assert stock(session, shop.sku_500g) == 10
    again = client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=shop.buyer_headers)
    assert again.status_code == 409
    assert stock(session, shop.sku_500g) == 10


def test_a_paid_order_cannot_be_cancelled(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    pay_offline(client, shop.station_headers, order)
    response = client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={}, headers=shop.buyer_headers
    )
    assert response.status_code == 409
    assert response.json["current"] == "paid"
    assert response.json["code"] == "order.illegal_status_move"
    assert response.json["params"] == {
        "order_number": order["number"],
        "current": "paid",
        "requested": "cancelled",
    }
    assert response.json["detail"] == (
        f"Order {order['number']} cannot go from status paid to cancelled."
    )


def test_expired_holds_are_cancelled_and_restocked(session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3), (shop.sku_ginseng, 1))).json
    fresh = place(shop.buyer_headers, basket((shop.sku_1kg, 1))).json
    session.execute(
        sa.update(Order)
        .where(Order.id == order["id"])
        .values(hold_expires_at=utcnow() - timedelta(minutes=1))
    )
    assert service.expire_unpaid(session) == 1
    session.flush()
    expired = session.get(Order, order["id"])
    assert expired.status is OrderStatus.cancelled
    assert stock(session, shop.sku_500g) == 10
    assert stock(session, shop.sku_ginseng) == 3
    assert session.get(Order, fresh["id"]).status is OrderStatus.pending_payment
    assert service.expire_unpaid(session) == 0  # each order expires once
    reasons = session.execute(
        sa.select(OrderEvent.reason).where(
            OrderEvent.order_id == order["id"], OrderEvent.to_value == "cancelled"
        )
    ).scalars()
    assert list(reasons) == ["payment hold expired"]


def test_expire_command(app, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 2))).json
    session.execute(
        sa.update(Order).where(Order.id == order["id"]).values(hold_expires_at=utcnow())
    )
    result = app.test_cli_runner().invoke(args=["orders", "expire"])
    assert result.exit_code == 0, result.output
    assert "expired 1 unpaid order(s)" in result.output
    assert stock(session, shop.sku_500g) == 10


def test_each_station_ships_its_own_lines(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1), (shop.sku_ginseng, 1))).json
    unpaid = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
        headers=shop.station_headers,
    )
    assert unpaid.status_code == 409
    pay_offline(client, shop.station_headers, order)
    first = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
        headers=shop.station_headers,
    )
    assert first.status_code == 200
    assert first.json["status"] == "paid"  # the other station has not shipped yet
    assert [line["sku_id"] for line in first.json["lines"]] == [shop.sku_500g.id]
    second = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "中国邮政", "tracking_number": "EMS998877665"},
        headers=shop.other_station_headers,
    )
    assert second.json["status"] == "shipped"
    twice = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "中国邮政", "tracking_number": "EMS998877665"},
        headers=shop.other_station_headers,
    )
    assert twice.status_code == 409
    bad = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": ""},
        headers=shop.station_headers,
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"carrier", "tracking_number"}


def test_receipt_then_completion_after_the_after_sales_window(client, session, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    early = client.post(f"/api/v1/orders/{order['id']}/receipt", headers=shop.buyer_headers)
    assert early.status_code == 409
    pay_offline(client, shop.station_headers, order)
    client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
        headers=shop.station_headers,
    )
    received = client.post(f"/api/v1/orders/{order['id']}/receipt", headers=shop.buyer_headers)
    assert received.json["status"] == "delivered"
    assert fulfilment.complete_due(session) == 0
    later = utcnow() + fulfilment.AFTER_SALES_WINDOW + timedelta(minutes=1)
    assert fulfilment.complete_due(session, now=later) == 1
    assert session.get(Order, order["id"]).status is OrderStatus.completed


def test_who_sees_which_orders(client, session, shop, place, make_user, auth):
    mine = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    other_buyer = auth(make_user(Role.buyer))
    theirs = place(other_buyer, basket((shop.sku_ginseng, 1))).json

    listed = client.get("/api/v1/orders", headers=shop.buyer_headers).json
    assert [o["id"] for o in listed] == [mine["id"]]
    assert (
        client.get(f"/api/v1/orders/{theirs['id']}", headers=shop.buyer_headers).status_code == 404
    )

    station_view = client.get("/api/v1/orders", headers=shop.station_headers).json
    assert [o["id"] for o in station_view] == [mine["id"]]
    other_station_view = client.get("/api/v1/orders", headers=shop.other_station_headers).json
    assert [o["id"] for o in other_station_view] == [theirs["id"]]

    admin_view = client.get("/api/v1/orders?status=pending_payment", headers=shop.admin_headers)
    assert {o["id"] for o in admin_view.json} >= {mine["id"], theirs["id"]}

    # An official of the first station's village reads the orders of its produce only.
    official = auth(make_user(Role.official, region_id=shop.station.village_id))
    official_view = client.get("/api/v1/orders", headers=official).json
    assert [o["id"] for o in official_view] == [mine["id"]]
    assert client.get("/api/v1/orders").status_code == 401
    bad_filter = client.get("/api/v1/orders?status=lost", headers=shop.buyer_headers)
    assert bad_filter.status_code == 422 and "status" in bad_filter.json["errors"]


def test_order_list_statement_count_is_constant(client, shop, place, count_queries):
    for _ in range(2):
        place(shop.buyer_headers, basket((shop.sku_500g, 1)))
    with count_queries() as few:
        client.get("/api/v1/orders", headers=shop.buyer_headers)
    for _ in range(5):
        place(shop.buyer_headers, basket((shop.sku_500g, 1), (shop.sku_1kg, 1)))
    with count_queries() as more:
        client.get("/api/v1/orders", headers=shop.buyer_headers)
    assert few.count == more.count
