"""The one conversion between our fen and Stripe's amounts."""

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.payments.gateways import from_stripe_amount, to_stripe_amount
from tests.orders.conftest import basket
from tests.payments.conftest import payment_settings


def test_cny_fen_are_stripe_minor_units():
    assert to_stripe_amount(26400, "CNY") == (26400, "cny")
    assert from_stripe_amount(26400, "cny") == (26400, "CNY")
    assert to_stripe_amount(1, "CNY") == (1, "cny")


@given(st.integers(min_value=1, max_value=10**12))
def test_round_trip_is_exact(amount_fen):
    assert from_stripe_amount(*to_stripe_amount(amount_fen, "CNY")) == (amount_fen, "CNY")


@pytest.mark.parametrize("amount", [0, -1, -26400])
def test_nothing_but_positive_amounts_go_to_stripe(amount):
    with pytest.raises(ValueError, match="positive"):
        to_stripe_amount(amount, "CNY")


@pytest.mark.parametrize("amount", [68.0, 68.5, "6800", None, True])
def test_only_integer_fen_go_to_stripe(amount):
    with pytest.raises(TypeError):
        to_stripe_amount(amount, "CNY")


@pytest.mark.parametrize("currency", ["USD", "cny", "", "JPY"])
def test_unknown_currencies_are_refused_both_ways(currency):
    with pytest.raises(ValueError, match="no Stripe conversion"):
        to_stripe_amount(100, currency)
    if currency.upper() != "CNY":
        with pytest.raises(ValueError, match="no Stripe conversion"):
            from_stripe_amount(100, currency)


@pytest.mark.parametrize("amount", [68.0, "6800", None])
def test_stripe_amounts_must_be_integers(amount):
    with pytest.raises(TypeError):
        from_stripe_amount(amount, "cny")


def test_an_online_payment_of_an_order_paid_at_the_station_is_a_409(client, shop, place):
    """Nothing failed upstream, so not a 502: the order takes no online payment (found by
    make fuzz)."""
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    response = client.post(f"/api/v1/orders/{order['id']}/payment", headers=shop.buyer_headers)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/no-online-payment")
    assert response.json["payment_status"] == "unpaid"


@pytest.fixture
def unreachable_stripe(app):
    """The real gateway and stripe library, pointed at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with payment_settings(
        app,
        PAYMENT_GATEWAY="stripe",
        STRIPE_API_KEY="sk_test_unreachable",
        STRIPE_WEBHOOK_SECRET="whsec_unreachable",
        STRIPE_API_BASE=f"http://127.0.0.1:{port}",
        STRIPE_MAX_NETWORK_RETRIES=0,
    ):
        yield


@pytest.mark.parametrize(
    ("language", "said"),
    [(None, "Stripe did not start the payment: "), ("zh-CN", "Stripe 未能发起支付：")],
)
def test_an_order_whose_payment_could_not_start_says_why_in_the_buyers_language(
    client, shop, place, unreachable_stripe, language, said
):
    headers = {**shop.buyer_headers, **({"Accept-Language": language} if language else {})}
    placed = place(headers, basket((shop.sku_500g, 1)))
    # The order stands; the buyer may ask for its payment again.
    assert placed.status_code == 201, placed.json
    assert placed.json["payment"] is None
    assert placed.json["payment_error"].startswith(said), placed.json["payment_error"]
