"""POST /api/v1/orders/<id>/refunds: never more than was captured, only your own lines, stock
back only for goods that never left."""

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.accounts.models import Role
from marketplace.orders.models import Order, OrderLine
from marketplace.payments.models import Payment, PaymentEvent, Refund, RefundLine, RefundState
from tests.orders.conftest import basket
from tests.payments.conftest import event, intent, refund_object, stock_of


def refunds_url(order) -> str:
    return f"/api/v1/orders/{order['id']}/refunds"


def line_of(order, sku) -> dict:
    return next(line for line in order["lines"] if line["sku_id"] == sku.id)


def refund_count(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Refund)).scalar_one()


def order_row(session, order) -> Order:
    return session.get(Order, order["id"])


@pytest.fixture
def refund(client, shop):
    """``refund(order, lines=None, headers=station, reason=...)`` -> the response."""

    def post(order, lines=None, *, headers=None, reason="buyer returned it"):
        body = {"reason": reason}
        if lines is not None:
            body["lines"] = [
                {"order_line_id": line["id"], "quantity": quantity} for line, quantity in lines
            ]
        return client.post(refunds_url(order), json=body, headers=headers or shop.station_headers)

    return post


@pytest.fixture
def paid_offline(shop, place, client):
    """``paid_offline(*lines)`` -> an order paid in cash at the first station's counter."""

    def make(*lines):
        order = place(shop.buyer_headers, basket(*lines)).json
        paid = client.post(
            f"/api/v1/orders/{order['id']}/offline-payments",
            json={
                "method": "cash",
                "reference": f"R-{order['id']}",
                "amount_fen": order["total_fen"],
            },
            headers=shop.station_headers,
        )
        assert paid.status_code == 201, paid.json
        return order

    return make


def assert_nothing_refunded(session, order, shop, stock_500g):
    assert refund_count(session) == 0
    row = order_row(session, order)
    assert row.refunded_fen == 0
    assert row.payment_status.value == "paid"
    assert stock_of(session, shop.sku_500g) == stock_500g
    kinds = session.execute(sa.select(PaymentEvent.kind)).scalars().all()
    assert all(not kind.value.startswith("refund") for kind in kinds)


# --- happy paths -----------------------------------------------------------------------------


def test_an_offline_refund_completes_at_once_and_restocks_unshipped_goods(
    session, shop, paid_offline, refund
):
    order = paid_offline((shop.sku_500g, 3), (shop.sku_1kg, 1))
    assert stock_of(session, shop.sku_500g) == 7
    response = refund(order, [(line_of(order, shop.sku_500g), 2)])
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["state"], body["amount_fen"], body["restocked"]) == ("succeeded", 13600, True)
    assert body["lines"] == [
        {"order_line_id": line_of(order, shop.sku_500g)["id"], "quantity": 2, "amount_fen": 13600}
    ]
    assert stock_of(session, shop.sku_500g) == 9
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value, row.refunded_fen) == (
        "paid",
        "partially_refunded",
        13600,
    )

    rest = refund(order, headers=shop.admin_headers)  # no lines: everything that is left
    assert rest.status_code == 201, rest.json
    assert rest.json["amount_fen"] == 6800 + 12800
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value, row.refunded_fen) == (
        "refunded",
        "refunded",
        row.total_fen,
    )
    assert (stock_of(session, shop.sku_500g), stock_of(session, shop.sku_1kg)) == (10, 5)


def test_refunding_shipped_goods_gives_money_back_but_no_stock(
    session, shop, paid_offline, refund, client
):
    order = paid_offline((shop.sku_500g, 2))
    shipped = client.post(
        f"/api/v1/orders/{order['id']}/shipments",
        json={"carrier": "中国邮政", "tracking_number": "EMS1234567"},
        headers=shop.station_headers,
    )
    assert shipped.status_code == 200, shipped.json
    response = refund(order, [(line_of(order, shop.sku_500g), 1)])
    assert response.status_code == 201
    assert (response.json["amount_fen"], response.json["restocked"]) == (6800, False)
    assert stock_of(session, shop.sku_500g) == 8


def test_the_refunds_of_an_order_are_listed_for_its_buyer(shop, paid_offline, refund, client):
    order = paid_offline((shop.sku_500g, 2))
    refund(order, [(line_of(order, shop.sku_500g), 1)])
    listed = client.get(refunds_url(order), headers=shop.buyer_headers)
    assert listed.status_code == 200
    assert [r["amount_fen"] for r in listed.json] == [6800]


# --- who may refund ------------------------------------------------------------------------


def test_refunds_need_a_login(session, shop, paid_offline, client):
    order = paid_offline((shop.sku_500g, 1))
    response = client.post(refunds_url(order), json={"reason": "no token"})
    assert response.status_code == 401
    assert refund_count(session) == 0


@pytest.mark.parametrize("role", [Role.buyer, Role.official])
def test_only_stations_and_admins_refund(
    session, shop, paid_offline, refund, make_user, auth, regions, role
):
    order = paid_offline((shop.sku_500g, 1))
    if role is Role.buyer:
        headers = shop.buyer_headers  # the order's own buyer
    else:
        headers = auth(make_user(role, region_id=regions.county.id))
    response = refund(order, headers=headers)
    assert response.status_code == 403
    assert refund_count(session) == 0


def test_another_stations_order_is_404_without_data(session, shop, paid_offline, refund):
    order = paid_offline((shop.sku_500g, 1))
    response = refund(order, headers=shop.other_station_headers)
    assert response.status_code == 404
    assert order["number"] not in response.get_data(as_text=True)
    assert "6800" not in response.get_data(as_text=True)
    assert_nothing_refunded(session, order, shop, stock_500g=9)


def test_a_station_cannot_refund_another_stations_line_of_a_shared_order(
    session, shop, paid_offline, refund
):
    order = paid_offline((shop.sku_500g, 1), (shop.sku_ginseng, 1))
    response = refund(
        order,
        [(line_of(order, shop.sku_500g), 1), (line_of(order, shop.sku_ginseng), 1)],
        headers=shop.other_station_headers,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"lines.0.order_line_id"}
    assert response.json["reasons"]["lines.0.order_line_id"] == [
        {"code": "refund.line_not_yours", "params": {}}
    ]
    assert_nothing_refunded(session, order, shop, stock_500g=9)

    # Without lines, a station refunds only what is its own.
    mine = refund(order, headers=shop.other_station_headers)
    assert mine.status_code == 201
    assert mine.json["amount_fen"] == 39900
    assert order_row(session, order).payment_status.value == "partially_refunded"


# --- bad requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "x"}, "reason"),
        ({"reason": "ok reason", "lines": []}, "lines"),
        ({"reason": "ok reason", "lines": [{"order_line_id": 1}]}, "lines.0.quantity"),
        (
            {"reason": "ok reason", "lines": [{"order_line_id": 1, "quantity": 0}]},
            "lines.0.quantity",
        ),
        (
            {"reason": "ok reason", "lines": [{"order_line_id": 1, "quantity": 1.5}]},
            "lines.0.quantity",
        ),
        (
            {"reason": "ok reason", "lines": [{"order_line_id": 1, "quantity": "1"}]},
            "lines.0.quantity",
        ),
        ({"reason": "ok reason", "lines": [{"quantity": 1}]}, "lines.0.order_line_id"),
        ({"reason": "ok reason", "amount_fen": 100}, "amount_fen"),
    ],
)
def test_bad_input_is_422_naming_the_field(session, shop, paid_offline, client, body, field):
    order = paid_offline((shop.sku_500g, 1))
    response = client.post(refunds_url(order), json=body, headers=shop.station_headers)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert_nothing_refunded(session, order, shop, stock_500g=9)


def test_more_quantity_than_is_left_is_422_naming_the_line(session, shop, paid_offline, refund):
    order = paid_offline((shop.sku_500g, 2))
    line = line_of(order, shop.sku_500g)
    too_many = refund(order, [(line, 3)])
    assert too_many.status_code == 422
    assert too_many.json["errors"] == {"lines.0.quantity": ["at most 2 can be refunded"]}
    assert too_many.json["reasons"] == {
        "lines.0.quantity": [
            {"code": "refund.quantity_above_refundable", "params": {"refundable": 2}}
        ]
    }
    assert_nothing_refunded(session, order, shop, stock_500g=8)

    assert refund(order, [(line, 1)]).status_code == 201
    again = refund(order, [(line, 2)])
    assert again.status_code == 422
    assert again.json["errors"] == {"lines.0.quantity": ["at most 1 can be refunded"]}


def test_the_same_line_twice_in_one_request_is_422(session, shop, paid_offline, refund):
    order = paid_offline((shop.sku_500g, 2))
    line = line_of(order, shop.sku_500g)
    response = refund(order, [(line, 1), (line, 1)])
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"lines.1.order_line_id"}
    assert response.json["reasons"]["lines.1.order_line_id"] == [
        {"code": "refund.line_listed_twice", "params": {}}
    ]
    assert_nothing_refunded(session, order, shop, stock_500g=8)


def test_an_unpaid_order_has_nothing_to_refund(session, shop, place, refund):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    response = refund(order)
    assert response.status_code == 409
    assert response.json["current"] == "unpaid"
    assert refund_count(session) == 0


def test_a_fully_refunded_order_refuses_more(session, shop, paid_offline, refund):
    order = paid_offline((shop.sku_500g, 1))
    assert refund(order).status_code == 201
    again = refund(order, headers=shop.admin_headers)
    assert again.status_code == 409
    assert refund_count(session) == 1


# --- pending refunds count (Stripe confirms later) -----------------------------------------


def test_a_repeated_request_cannot_refund_twice_while_the_first_is_pending(
    session, shop, paid_stripe_order, refund, stand_in_stripe
):
    order = paid_stripe_order()
    first = refund(order)
    assert first.status_code == 201
    assert (first.json["state"], first.json["amount_fen"]) == ("pending", 26400)
    for headers in (shop.station_headers, shop.admin_headers):
        again = refund(order, headers=headers)
        assert again.status_code == 409
    line = line_of(order, shop.sku_500g)
    partial = refund(order, [(line, 1)])
    assert partial.status_code == 422
    assert partial.json["errors"] == {"lines.0.quantity": ["at most 0 can be refunded"]}
    assert len(stand_in_stripe.refunds) == 1
    assert refund_count(session) == 1
    # Nothing counts (or comes back on the shelf) before Stripe confirms.
    row = order_row(session, order)
    assert (row.payment_status.value, row.refunded_fen) == ("paid", 0)
    assert stock_of(session, shop.sku_500g) == 8


def test_a_refund_the_provider_refuses_fails_and_frees_its_quantity(
    session, shop, paid_stripe_order, refund, refused
):
    order = paid_stripe_order()
    line = line_of(order, shop.sku_500g)
    response = refund(order, [(line, 2)])
    assert response.status_code == 201  # recorded; the provider's answer comes after the commit
    first = session.get(Refund, response.json["id"])
    assert first.state is RefundState.failed
    refused.refund_error = None
    assert refund(order, [(line, 2)]).status_code == 201


def test_a_refund_the_provider_cannot_take_yet_stays_pending_for_the_retry(
    session, shop, paid_stripe_order, refund, stand_in_stripe, app
):
    from marketplace.payments.gateways import GatewayUnavailable
    from marketplace.payments.refunds import retry_pending

    order = paid_stripe_order()
    stand_in_stripe.refund_error = GatewayUnavailable("Stripe timed out")
    response = refund(order)
    assert response.status_code == 201
    pending = session.get(Refund, response.json["id"])
    assert (pending.state, pending.provider_reference) == (RefundState.pending, None)

    stand_in_stripe.refund_error = None
    assert retry_pending(session, older_than=pending.created_at) == 1
    assert pending.provider_reference == f"re_standin_{pending.id}"
    assert refund(order).status_code == 409  # still pending: still counted


# --- the property ----------------------------------------------------------------------------


@pytest.fixture
def roomy_shop(shop, make_product):
    """Prices that do not divide evenly and plenty of stock for many orders."""
    product = make_product(
        shop.station,
        shop.producer,
        skus=[
            {"spec": "a", "price_fen": 333, "stock": 100000},
            {"spec": "b", "price_fen": 12801, "stock": 100000},
            {"spec": "c", "price_fen": 7, "stock": 100000},
        ],
    )
    return product.skus_created


operation = st.one_of(
    st.tuples(
        st.just("lines"),
        st.lists(st.tuples(st.integers(0, 2), st.integers(1, 6)), min_size=1, max_size=3),
    ),
    st.tuples(st.just("rest"), st.none()),
    st.tuples(st.just("confirm"), st.integers(0, 5)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    quantities=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    operations=st.lists(operation, min_size=1, max_size=12),
)
def test_refunds_never_exceed_the_capture_and_add_up_exactly(
    session, shop, roomy_shop, stand_in_stripe, place, send_event, refund, quantities, operations
):
    skus = roomy_shop
    checkout = place(shop.buyer_headers, basket(*zip(skus, quantities, strict=True)))
    order = checkout.json
    intent_id = order["payment"]["provider_reference"]
    paid = send_event(
        event("payment_intent.succeeded", intent(intent_id, amount=order["total_fen"]))
    )
    assert paid.json["outcome"] == "applied"
    lines = [line_of(order, sku) for sku in skus]
    payment = session.execute(
        sa.select(Payment).where(Payment.order_id == order["id"])
    ).scalar_one()

    for kind, arg in operations:
        if kind == "lines":
            picked = {index: quantity for index, quantity in arg}  # one entry per line
            response = refund(order, [(lines[i], q) for i, q in picked.items()])
            assert response.status_code in (201, 409, 422), response.json
        elif kind == "rest":
            assert refund(order).status_code in (201, 409)
        else:
            pending = (
                session.execute(
                    sa.select(Refund)
                    .where(Refund.order_id == order["id"], Refund.state == RefundState.pending)
                    .order_by(Refund.id)
                )
                .scalars()
                .all()
            )
            if not pending:
                continue
            chosen = pending[arg % len(pending)]
            status = "succeeded" if kind == "confirm" else "failed"
            obj = refund_object(
                chosen.provider_reference,
                refund_id=chosen.id,
                amount=chosen.amount_fen,
                status=status,
            )
            assert send_event(event("refund.updated", obj)).status_code == 200

        live = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
                Refund.order_id == order["id"], Refund.state != RefundState.failed
            )
        ).scalar_one()
        assert live <= payment.captured_fen == order["total_fen"]
        assert payment.refunded_fen <= payment.captured_fen
        per_line = dict(
            session.execute(
                sa.select(RefundLine.order_line_id, sa.func.sum(RefundLine.quantity))
                .join(Refund, Refund.id == RefundLine.refund_id)
                .where(Refund.order_id == order["id"], Refund.state != RefundState.failed)
                .group_by(RefundLine.order_line_id)
            ).all()
        )
        for line in lines:
            assert per_line.get(line["id"], 0) <= line["quantity"]

    # Confirm whatever is pending and refund the rest: every line adds up to its total exactly.
    for pending in (
        session.execute(
            sa.select(Refund).where(
                Refund.order_id == order["id"], Refund.state == RefundState.pending
            )
        )
        .scalars()
        .all()
    ):
        obj = refund_object(
            pending.provider_reference, refund_id=pending.id, amount=pending.amount_fen
        )
        send_event(event("refund.updated", obj))
    rest = refund(order)
    if rest.status_code == 201:
        obj = refund_object(
            f"re_standin_{rest.json['id']}",
            refund_id=rest.json["id"],
            amount=rest.json["amount_fen"],
        )
        send_event(event("refund.updated", obj))
    for line in session.execute(
        sa.select(OrderLine).where(OrderLine.order_id == order["id"])
    ).scalars():
        assert (line.refunded_quantity, line.refunded_fen) == (line.quantity, line.line_total_fen)
    row = order_row(session, order)
    assert (row.refunded_fen, row.payment_status.value, row.status.value) == (
        row.total_fen,
        "refunded",
        "refunded",
    )
    assert payment.refunded_fen == payment.captured_fen


def test_a_retried_partial_refund_with_its_key_refunds_once(client, session, shop, paid_offline):
    order = paid_offline((shop.sku_500g, 3))
    body = {
        "reason": "破损两盒",
        "lines": [{"order_line_id": line_of(order, shop.sku_500g)["id"], "quantity": 1}],
    }
    headers = {**shop.station_headers, "Idempotency-Key": "refund-retry-1"}
    first = client.post(refunds_url(order), json=body, headers=headers)
    second = client.post(refunds_url(order), json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert refund_count(session) == 1
    assert order_row(session, order).refunded_fen == 6800
    other = client.post(refunds_url(order), json={**body, "reason": "另一件事"}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json["errors"]
    assert refund_count(session) == 1
