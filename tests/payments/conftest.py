"""Payment test helpers: signed Stripe events, a stand-in Stripe gateway for tests that need no
provider, and localstripe plus a really served app for the end-to-end tests."""

import itertools
import json
import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
import stripe
from werkzeug.serving import make_server

from marketplace.catalog.models import Sku
from marketplace.payments import gateways
from marketplace.payments.gateways import GatewayRefused, ProviderRefund, StartedPayment
from marketplace.payments.models import Gateway
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)
from tests.payments import localstripe_server as localstripe_runner

WEBHOOK_SECRET = "whsec_marketplace_test_secret"
WEBHOOK_PATH = "/api/v1/payments/stripe/webhook"

_event_ids = itertools.count(1)


def signature_header(payload: bytes, *, secret=WEBHOOK_SECRET, timestamp=None) -> str:
    """``Stripe-Signature`` as Stripe computes it: t=<unix time>,v1=<HMAC-SHA256 of t.payload>."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp=timestamp
    )


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test_{next(_event_ids)}_{time.monotonic_ns()}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2017-08-15",
        "data": {"object": obj},
    }


def intent(reference: str, *, amount: int, currency="cny", status="succeeded", **extra) -> dict:
    """A PaymentIntent as Stripe's webhooks carry it (only what the handlers may look at)."""
    return {
        "id": reference,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "status": status,
        "metadata": {},
        **extra,
    }


def refund_object(provider_id: str, *, refund_id: int, amount: int, status="succeeded") -> dict:
    return {
        "id": provider_id,
        "object": "refund",
        "amount": amount,
        "currency": "cny",
        "status": status,
        "metadata": {"refund_id": str(refund_id)},
    }


def stock_of(session, sku) -> int:
    return session.execute(sa.select(Sku.stock).where(Sku.id == sku.id)).scalar_one()


@contextmanager
def payment_settings(app, **settings):
    """Run with other payment configuration, then put the app's own back: the app is shared by
    the whole test session."""
    saved_config = {key: app.config.get(key) for key in settings}
    saved_gateways = {key: app.extensions[key] for key in ("payment_gateways", "payment_gateway")}
    app.config.update(settings)
    try:
        gateways.init_app(app)
        yield app.extensions["payment_gateways"]
    finally:
        app.config.update(saved_config)
        app.extensions.update(saved_gateways)


class StandInStripe:
    """Our gateway interface answered without a provider, for tests of what happens around it
    (webhooks, guards). The real StripeGateway is proven against localstripe."""

    name = Gateway.stripe
    online = True

    def __init__(self):
        self.started: list[dict] = []
        self.refunds: list[dict] = []
        #: set to an exception instance to make the next refund calls fail with it
        self.refund_error: Exception | None = None
        #: the state Stripe's answer to a refund's creation gives it
        self.refund_status = "pending"
        self.cancelled: list[str] = []

    def start(self, *, order_id, order_number, amount_fen, currency, attempt):
        self.started.append({"order_id": order_id, "amount_fen": amount_fen, "attempt": attempt})
        reference = f"pi_standin_{order_id}_{attempt}"
        return StartedPayment(reference, f"{reference}_secret_x", ("card", "alipay", "wechat_pay"))

    def cancel(self, *, payment_reference):
        self.cancelled.append(payment_reference)

    def refund(self, *, payment_reference, amount_fen, currency, idempotency_key, refund_id):
        if self.refund_error is not None:
            raise self.refund_error
        self.refunds.append(
            {"payment": payment_reference, "amount_fen": amount_fen, "refund_id": refund_id}
        )
        # As Stripe answers a refund it has not settled yet: its webhook says how it ended.
        return ProviderRefund(
            f"re_standin_{refund_id}",
            self.refund_status,
            "insufficient_funds" if self.refund_status == "failed" else None,
        )


@pytest.fixture
def stand_in_stripe(app):
    """New orders pay "through Stripe" via the stand-in; webhooks verify with WEBHOOK_SECRET."""
    with payment_settings(app, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        stand_in = StandInStripe()
        app.extensions["payment_gateways"] = {
            **app.extensions["payment_gateways"],
            Gateway.stripe: stand_in,
        }
        app.extensions["payment_gateway"] = stand_in
        yield stand_in


@pytest.fixture
def send_event(client):
    """``send_event(event_dict, **signing)`` -> the webhook's response, signed unless told."""

    def send(payload: dict, *, secret=WEBHOOK_SECRET, timestamp=None, header=...):
        body = json.dumps(payload).encode()
        signature = (
            signature_header(body, secret=secret, timestamp=timestamp) if header is ... else header
        )
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return client.post(WEBHOOK_PATH, data=body, headers=headers)

    return send


@pytest.fixture
def stripe_order(shop, place, stand_in_stripe):
    """``stripe_order(*lines)`` -> a checkout response body with its (stand-in) PaymentIntent:
    by default two 500 g boxes and one 1 kg box of the first station, 26 400 fen."""

    def make(*lines):
        lines = lines or ((shop.sku_500g, 2), (shop.sku_1kg, 1))
        response = place(shop.buyer_headers, basket(*lines))
        assert response.status_code == 201, response.json
        assert response.json["payment"]["provider_reference"].startswith("pi_standin_")
        return response.json

    return make


@pytest.fixture
def paid_stripe_order(stripe_order, send_event):
    """``paid_stripe_order(*lines)`` -> the order body after payment_intent.succeeded."""

    def make(*lines):
        order = stripe_order(*lines)
        reference = order["payment"]["provider_reference"]
        response = send_event(
            event("payment_intent.succeeded", intent(reference, amount=order["total_fen"]))
        )
        assert response.json["outcome"] == "applied", response.json
        return order

    return make


GENEROUS_DEADLINE = 15.0


def eventually(check, *, timeout=GENEROUS_DEADLINE, interval=0.05, what="the condition"):
    """Poll ``check`` until it returns something truthy, which is returned; fail at the
    deadline (localstripe delivers webhooks about a second after the call). A ``check`` that
    reads the database must start a new transaction each time (``session.rollback()`` first):
    SQLite would otherwise show it the same snapshot until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def localstripe_server():
    server = localstripe_runner.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(localstripe_server):
    """localstripe emptied before and after the test (late deliveries included)."""
    localstripe_server.reset()
    yield localstripe_server
    localstripe_server.reset()


@pytest.fixture
def stripe_api(localstripe):
    """The real stripe library, pointed at localstripe (for the test's own checks)."""
    return stripe.StripeClient(
        localstripe_runner.API_KEY,
        base_addresses={"api": localstripe.base_url},
        max_network_retries=0,
    )


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app served over real HTTP on 127.0.0.1 (for localstripe's webhooks)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def stripe_gateway(app, localstripe, live_server):
    """The app takes payments through the real StripeGateway, talking to localstripe, and
    localstripe's webhooks reach the served app."""
    settings = {
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_API_KEY": localstripe_runner.API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": localstripe.base_url,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }
    with payment_settings(app, **settings) as configured:
        localstripe.register_webhook(live_server.url + WEBHOOK_PATH, WEBHOOK_SECRET)
        yield configured[Gateway.stripe]


@pytest.fixture
def refused(stand_in_stripe):
    """Make the stand-in refuse refunds as Stripe would refuse one."""
    stand_in_stripe.refund_error = GatewayRefused("Stripe did not refund: charge disputed")
    return stand_in_stripe
