"""Stripe end to end: the real stripe library against localstripe, our app served over HTTP, and
the webhooks localstripe really sends.

localstripe ignores idempotency keys, accepts any refund amount and sends no refund events, so
what these tests prove about one intent per order and never refunding too much is our own
guards at work; refund confirmations are events the tests sign like Stripe does.
"""

import json
import threading

import pytest
import requests
import sqlalchemy as sa
import stripe

from marketplace.catalog.models import Sku
from marketplace.db import Base, sqlite_write_intent, utcnow
from marketplace.extensions import db as flask_db
from marketplace.orders import sweeper
from marketplace.orders.models import Order
from marketplace.payments.models import Payment, PaymentEvent, Refund, WebhookReceipt
from marketplace.reports import reconciliation
from tests.orders.conftest import basket
from tests.payments.conftest import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    event,
    eventually,
    signature_header,
)
from tests.served import ledger_guards_lifted

pytestmark = pytest.mark.slow


def _high_water_marks(session) -> dict:
    return {
        table: session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
        for table in Base.metadata.sorted_tables
        if "id" in table.c
    }


def _added_rows(table, marks: dict):
    """The rows of ``table`` the test added: above its mark, or for a table with no id of its
    own (a rollup), those referring to a row above its table's mark. None: nothing to delete."""
    if table in marks:
        return table.c.id > marks[table]
    referring = [
        key.parent > marks[key.column.table]
        for key in table.foreign_keys
        if key.column.table in marks and key.column.name == "id"
    ]
    return sa.or_(*referring) if referring else None


@pytest.fixture
def session(app, localstripe):
    """Committed rows this time: the served app reads them over its own connections. Every
    row the test (or the app on its behalf) added is deleted afterwards, children first."""
    # A request this thread served earlier through the test client leaves SQLite's write intent
    # set here; the test's own reads must not take the write lock the served app needs.
    reads_only = sqlite_write_intent.set(False)
    with app.app_context():
        marks = _high_water_marks(flask_db.session)
        flask_db.session.commit()
        try:
            yield flask_db.session
        finally:
            localstripe.reset()  # no late delivery may write after the clean-up
            flask_db.session.rollback()
            with ledger_guards_lifted(flask_db.session):
                for table in reversed(Base.metadata.sorted_tables):
                    added = _added_rows(table, marks)
                    if added is not None:
                        flask_db.session.execute(sa.delete(table).where(added))
            flask_db.session.commit()
            flask_db.session.remove()
    sqlite_write_intent.reset(reads_only)


class Http:
    """Our API over real HTTP, as a browser or Stripe reaches it."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False  # never through a proxy to 127.0.0.1

    def request(self, method, path, **kwargs):
        return self.http.request(method, self.base_url + path, timeout=30, **kwargs)

    def checkout(self, headers, body, key):
        return self.request(
            "POST", "/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key}
        )

    def order(self, order_id, headers):
        response = self.request("GET", f"/api/v1/orders/{order_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def refund(self, order_id, headers, lines=None, reason="buyer returned it"):
        body = {"reason": reason}
        if lines is not None:
            body["lines"] = lines
        return self.request(
            "POST", f"/api/v1/orders/{order_id}/refunds", json=body, headers=headers
        )

    def send_signed(self, payload: dict):
        body = json.dumps(payload).encode()
        return self.request(
            "POST",
            WEBHOOK_PATH,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(body),
            },
        )


@pytest.fixture
def http(live_server, stripe_gateway):
    return Http(live_server.url)


@pytest.fixture
def shop(shop, session):
    """The orders' shop, committed."""
    session.commit()
    return shop


def stock(session, sku_id) -> int:
    session.rollback()  # a fresh snapshot: the served app changed it
    return session.execute(sa.select(Sku.stock).where(Sku.id == sku_id)).scalar_one()


def payment_event_kinds(session, order_id) -> list[str]:
    session.rollback()
    return [
        kind.value
        for kind in session.execute(
            sa.select(PaymentEvent.kind)
            .join(Payment, Payment.id == PaymentEvent.payment_id)
            .where(Payment.order_id == order_id)
            .order_by(PaymentEvent.id)
        ).scalars()
    ]


def refund_sent_to_stripe(session, order_id) -> Refund | None:
    """The order's refund once Stripe's id for it is recorded: that is committed after the
    pending refund, by the webhook's after-commit call to Stripe."""
    # A fresh snapshot for every poll. On SQLite a read transaction keeps the snapshot of its
    # first read, so polling inside one that began between those two commits never sees the
    # second.
    session.rollback()
    return session.execute(
        sa.select(Refund).where(Refund.order_id == order_id, Refund.provider_reference.is_not(None))
    ).scalar_one_or_none()


def ledger_clean(session) -> bool:
    """``flask ledger check``'s verdict on what the served app wrote."""
    session.rollback()
    found = reconciliation.run(session)
    assert found.differences == [], found.differences
    return True


def charge_of_or_none(stripe_api, reference):
    latest = stripe_api.v1.payment_intents.retrieve(reference).latest_charge
    return None if latest is None else charge_of(stripe_api, reference)


def place_order(http, shop, key="checkout-1"):
    response = http.checkout(shop.buyer_headers, basket((shop.sku_500g, 2), (shop.sku_1kg, 1)), key)
    assert response.status_code == 201, response.text
    return response.json()


def pay(stripe_api, reference, payment_method="pm_card_visa"):
    """What the buyer's browser does with the client secret. localstripe cannot confirm with a
    payment method given to confirm itself, so it is set first (alipay and wechat_pay methods
    cannot be made there at all: a card stands in for them)."""
    stripe_api.v1.payment_intents.update(reference, params={"payment_method": payment_method})
    return stripe_api.v1.payment_intents.confirm(reference)


def wait_for_payment_status(http, shop, order_id, wanted):
    return eventually(
        lambda: http.order(order_id, shop.buyer_headers)["payment_status"] == wanted,
        what=f"payment status {wanted}",
    )


def charge_of(stripe_api, reference):
    latest = stripe_api.v1.payment_intents.retrieve(reference).latest_charge
    charge_id = latest if isinstance(latest, str) else latest.id  # localstripe embeds it
    return stripe_api.v1.charges.retrieve(charge_id)


def test_checkout_makes_one_intent_and_localstripes_webhook_marks_the_order_paid(
    session, shop, http, stripe_api
):
    order = place_order(http, shop)
    payment = order["payment"]
    assert payment["gateway"] == "stripe"
    assert payment["client_secret"].startswith(payment["provider_reference"])
    assert (payment["amount_fen"], payment["currency"]) == (26400, "CNY")

    # A replayed checkout and a reloaded payment page reuse the intent; localstripe would not.
    replay = http.checkout(
        shop.buyer_headers, basket((shop.sku_500g, 2), (shop.sku_1kg, 1)), "checkout-1"
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["payment"]["client_secret"] == payment["client_secret"]
    again = http.request(
        "POST", f"/api/v1/orders/{order['id']}/payment", headers=shop.buyer_headers
    )
    assert again.status_code == 200
    assert again.json()["provider_reference"] == payment["provider_reference"]

    (intent,) = stripe_api.v1.payment_intents.list().data
    assert intent.id == payment["provider_reference"]
    assert (intent.amount, intent.currency, intent.status) == (
        26400,
        "cny",
        "requires_payment_method",
    )
    assert intent.metadata.to_dict() == {
        "order_id": str(order["id"]),
        "order_number": order["number"],
    }
    assert http.order(order["id"], shop.buyer_headers)["payment_status"] == "unpaid"

    assert pay(stripe_api, intent.id).status == "succeeded"
    wait_for_payment_status(http, shop, order["id"], "paid")

    detail = http.order(order["id"], shop.buyer_headers)
    assert detail["status"] == "paid"
    assert detail["paid_at"] is not None
    session.rollback()
    receipt = session.execute(sa.select(WebhookReceipt)).scalar_one()
    assert (receipt.event_type, receipt.outcome) == ("payment_intent.succeeded", "applied")
    assert payment_event_kinds(session, order["id"]) == ["created", "succeeded"]
    assert stock(session, shop.sku_500g.id) == 8


def test_a_declined_card_is_recorded_and_the_buyer_retries_the_same_intent(
    session, shop, http, stripe_api
):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]

    with pytest.raises(stripe.CardError):
        pay(stripe_api, reference, payment_method="pm_card_chargeCustomerFail")
    eventually(
        lambda: "attempt_failed" in payment_event_kinds(session, order["id"]),
        what="the failed attempt recorded",
    )
    detail = http.order(order["id"], shop.buyer_headers)
    assert (detail["status"], detail["payment_status"]) == ("pending_payment", "unpaid")

    retry = http.request(
        "POST", f"/api/v1/orders/{order['id']}/payment", headers=shop.buyer_headers
    )
    assert retry.status_code == 200
    assert retry.json()["provider_reference"] == reference
    assert retry.json()["client_secret"] == order["payment"]["client_secret"]

    # Real Stripe lets the browser confirm the same intent again with another card; localstripe
    # keeps an intent whose charge failed in requires_payment_method for good, so the success
    # Stripe would then send is signed here, from the intent localstripe holds.
    held = stripe_api.v1.payment_intents.retrieve(reference).to_dict()
    assert held["status"] == "requires_payment_method"
    outcome = http.send_signed(event("payment_intent.succeeded", {**held, "status": "succeeded"}))
    assert outcome.json()["outcome"] == "applied"
    wait_for_payment_status(http, shop, order["id"], "paid")
    assert payment_event_kinds(session, order["id"]) == ["created", "attempt_failed", "succeeded"]
    assert len(stripe_api.v1.payment_intents.list().data) == 1


def confirm_by_signed_event(http, stripe_api, provider_refund_id, event_type):
    """Stripe would send this; localstripe does not, so the test signs the refund it holds."""
    refund = stripe_api.v1.refunds.retrieve(provider_refund_id).to_dict()
    assert refund["status"] == "succeeded"
    response = http.send_signed(event(event_type, refund))
    assert response.status_code == 200, response.text
    return response.json()["outcome"]


def test_a_refund_stripe_answers_succeeded_completes_at_once_and_its_webhook_changes_nothing(
    session, shop, http, stripe_api
):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    pay(stripe_api, reference)
    wait_for_payment_status(http, shop, order["id"], "paid")
    line_500g = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)

    partial = http.refund(
        order["id"], shop.station_headers, lines=[{"order_line_id": line_500g["id"], "quantity": 1}]
    )
    assert partial.status_code == 201, partial.text
    # Recorded pending, then sent to Stripe once the request committed.
    assert (partial.json()["state"], partial.json()["amount_fen"]) == ("pending", 6800)
    session.rollback()
    first = session.get(Refund, partial.json()["id"])
    assert first.provider_reference
    sent = stripe_api.v1.refunds.retrieve(first.provider_reference)
    assert (sent.amount, sent.currency, sent.payment_intent) == (6800, "cny", reference)
    assert sent.metadata.to_dict() == {"refund_id": str(first.id)}
    assert sent.status == "succeeded"
    assert charge_of(stripe_api, reference).amount_refunded == 6800
    # Stripe's answer said succeeded: it counts now, no webhook needed.
    assert first.state.value == "succeeded"
    detail = http.order(order["id"], shop.buyer_headers)
    assert (detail["payment_status"], detail["refunded_fen"]) == ("partially_refunded", 6800)
    assert stock(session, shop.sku_500g.id) == 9
    # The webhook Stripe sends later finds it done and changes nothing twice.
    for kind in ("charge.refund.updated", "refund.updated"):
        outcome = confirm_by_signed_event(http, stripe_api, first.provider_reference, kind)
        assert outcome == "already_applied"
    assert http.order(order["id"], shop.buyer_headers)["refunded_fen"] == 6800
    assert stock(session, shop.sku_500g.id) == 9

    rest = http.refund(order["id"], shop.admin_headers)
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount_fen"] == 6800 + 12800
    charge = charge_of(stripe_api, reference)
    assert (charge.amount_refunded, charge.refunded) == (26400, True)

    # localstripe would happily refund again; our guard refuses before calling it.
    refused = http.refund(order["id"], shop.admin_headers)
    assert refused.status_code == 409
    assert charge_of(stripe_api, reference).amount_refunded == 26400

    detail = http.order(order["id"], shop.buyer_headers)
    assert (detail["status"], detail["payment_status"], detail["refunded_fen"]) == (
        "refunded",
        "refunded",
        26400,
    )
    assert (stock(session, shop.sku_500g.id), stock(session, shop.sku_1kg.id)) == (10, 5)
    assert len(stripe_api.v1.refunds.list().data) == 2
    assert ledger_clean(session)


def test_two_simultaneous_full_refunds_reach_stripe_once(session, shop, http, stripe_api):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    pay(stripe_api, reference)
    wait_for_payment_status(http, shop, order["id"], "paid")

    start = threading.Barrier(2)
    statuses = []

    def ask(headers):
        start.wait()
        statuses.append(http.refund(order["id"], headers).status_code)

    workers = [
        threading.Thread(target=ask, args=(headers,))
        for headers in (shop.station_headers, shop.admin_headers)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(statuses) == [201, 409]
    assert [r.amount for r in stripe_api.v1.refunds.list().data] == [26400]
    assert charge_of(stripe_api, reference).amount_refunded == 26400


def test_one_key_twenty_times_at_once_makes_one_order_and_one_intent(
    session, shop, http, stripe_api
):
    """localstripe ignores Stripe idempotency keys: one intent proves our own guards held."""
    body = basket((shop.sku_500g, 2), (shop.sku_1kg, 1))
    tries = 20
    start = threading.Barrier(tries)
    responses = [None] * tries

    def ask(index):
        start.wait()
        responses[index] = http.checkout(shop.buyer_headers, body, "same-checkout")

    workers = [threading.Thread(target=ask, args=(index,)) for index in range(tries)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert all(response is not None for response in responses), "a request never came back"
    assert [r.status_code for r in responses] == [201] * tries, [
        (r.status_code, r.text) for r in responses if r.status_code != 201
    ]
    bodies = [r.json() for r in responses]
    assert {b["payment_error"] for b in bodies} == {None}
    order_ids = {b["id"] for b in bodies}
    assert len(order_ids) == 1, order_ids
    payments = {
        (
            b["payment"]["id"],
            b["payment"]["gateway"],
            b["payment"]["provider_reference"],
            b["payment"]["client_secret"],
        )
        for b in bodies
    }
    assert len(payments) == 1, payments
    order_id = order_ids.pop()
    _, gateway, reference, client_secret = payments.pop()
    assert gateway == "stripe"
    assert client_secret.startswith(reference)
    replayed = sorted(r.headers["Idempotent-Replayed"] for r in responses)
    assert replayed == ["false"] + ["true"] * (tries - 1)

    session.rollback()
    orders = session.execute(sa.select(Order.id).where(Order.buyer_id == shop.buyer.id)).scalars()
    assert list(orders) == [order_id]
    stored = session.execute(
        sa.select(Payment.provider_reference).where(Payment.order_id == order_id)
    ).scalars()
    assert list(stored) == [reference]
    assert payment_event_kinds(session, order_id) == ["created"]
    assert (stock(session, shop.sku_500g.id), stock(session, shop.sku_1kg.id)) == (8, 4)

    intents = stripe_api.v1.payment_intents.list(params={"limit": 100}).data
    for_this_order = [i for i in intents if i.metadata.to_dict().get("order_id") == str(order_id)]
    assert [i.id for i in for_this_order] == [reference]
    assert for_this_order[0].amount == 26400
    assert len(intents) == 1  # localstripe is emptied for every test


def test_an_expired_orders_payment_intent_is_cancelled_at_stripe(
    app, session, shop, http, stripe_api
):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    session.rollback()
    session.execute(
        sa.update(Order).where(Order.id == order["id"]).values(hold_expires_at=utcnow())
    )
    session.commit()
    assert sweeper.sweep_once(app) == 1
    assert stripe_api.v1.payment_intents.retrieve(reference).status == "canceled"
    assert payment_event_kinds(session, order["id"]) == ["created", "cancelled"]
    # The buyer's page, still open, can no longer pay for what the order no longer holds.
    with pytest.raises(stripe.InvalidRequestError):
        pay(stripe_api, reference)
    detail = http.order(order["id"], shop.buyer_headers)
    assert (detail["status"], detail["payment_status"]) == ("cancelled", "void")
    assert charge_of_or_none(stripe_api, reference) is None
    assert stock(session, shop.sku_500g.id) == 10
    assert ledger_clean(session)


def test_money_arriving_after_cancellation_goes_straight_back_through_stripe(
    session, shop, http, stripe_api, localstripe, live_server
):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    # The race the payment wins: the buyer pays a moment before the order is cancelled, and
    # Stripe's webhook reaches us after (here: held back, then delivered by the test).
    localstripe.register_webhook("http://127.0.0.1:9/nowhere", WEBHOOK_SECRET)
    paid = pay(stripe_api, reference)
    assert paid.status == "succeeded"
    cancelled = http.request(
        "POST",
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "found it cheaper"},
        headers=shop.buyer_headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert stock(session, shop.sku_500g.id) == 10
    # Stripe refused to cancel what was paid; the intent stays succeeded.
    assert stripe_api.v1.payment_intents.retrieve(reference).status == "succeeded"
    localstripe.register_webhook(live_server.url + WEBHOOK_PATH, WEBHOOK_SECRET)
    held = stripe_api.v1.payment_intents.retrieve(reference).to_dict()
    outcome = http.send_signed(event("payment_intent.succeeded", held))
    assert outcome.json()["outcome"] == "late_capture_refunding"
    refund = eventually(
        lambda: refund_sent_to_stripe(session, order["id"]),
        what="the late capture's refund sent to Stripe",
    )
    assert refund.amount_fen == 26400
    assert charge_of(stripe_api, reference).amount_refunded == 26400
    # Stripe answered succeeded: the money is back already, and the webhook changes nothing.
    assert confirm_by_signed_event(
        http, stripe_api, refund.provider_reference, "refund.updated"
    ) == ("already_applied")
    detail = http.order(order["id"], shop.buyer_headers)
    assert (detail["status"], detail["payment_status"]) == ("cancelled", "late_capture_refunded")
    assert stock(session, shop.sku_500g.id) == 10
