"""POST /api/v1/payments/stripe/webhook with events the tests sign themselves: forged, replayed,
duplicated, out of order, mismatched and late ones."""

import json
import logging
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import run_after_commit
from marketplace.orders.models import Order, OrderEvent
from marketplace.orders.service import expire_unpaid
from marketplace.payments import webhooks
from marketplace.payments.models import (
    Payment,
    PaymentEvent,
    Refund,
    RefundLine,
    WebhookReceipt,
)
from tests.payments.conftest import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    event,
    intent,
    refund_object,
    signature_header,
    stock_of,
)


def payment_of(session, order) -> Payment:
    return session.execute(sa.select(Payment).where(Payment.order_id == order["id"])).scalar_one()


def order_row(session, order) -> Order:
    return session.get(Order, order["id"])


def event_kinds(session, order) -> list[str]:
    return [
        kind.value
        for kind in session.execute(
            sa.select(PaymentEvent.kind)
            .join(Payment, Payment.id == PaymentEvent.payment_id)
            .where(Payment.order_id == order["id"])
            .order_by(PaymentEvent.id)
        ).scalars()
    ]


def receipts(session) -> list[tuple[str, str]]:
    return [
        tuple(row)
        for row in session.execute(
            sa.select(WebhookReceipt.event_id, WebhookReceipt.outcome).order_by(WebhookReceipt.id)
        )
    ]


def succeeded(order, **over):
    fields = {"amount": order["total_fen"], **over}
    return event(
        "payment_intent.succeeded", intent(order["payment"]["provider_reference"], **fields)
    )


def failed(order):
    return event(
        "payment_intent.payment_failed",
        intent(
            order["payment"]["provider_reference"],
            amount=order["total_fen"],
            status="requires_payment_method",
            last_payment_error={"code": "card_declined", "message": "Your card was declined."},
        ),
    )


# --- signatures ----------------------------------------------------------------------------


def assert_refused_and_nothing_changed(session, response, order):
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("bad-signature")
    assert response.json["status"] == 400
    assert order_row(session, order).status.value == "pending_payment"
    assert payment_of(session, order).state.value == "pending"
    assert event_kinds(session, order) == ["created"]
    assert receipts(session) == []


def test_a_signature_made_with_another_secret_is_400_and_changes_nothing(
    session, stripe_order, send_event
):
    order = stripe_order()
    response = send_event(succeeded(order), secret="whsec_someone_else")
    assert_refused_and_nothing_changed(session, response, order)


def test_a_body_changed_after_signing_is_400(session, stripe_order, client):
    order = stripe_order()
    genuine = json.dumps(succeeded(order, amount=1)).encode()
    forged = json.dumps(succeeded(order)).encode()
    response = client.post(
        WEBHOOK_PATH,
        data=forged,
        headers={"Stripe-Signature": signature_header(genuine), "Content-Type": "application/json"},
    )
    assert_refused_and_nothing_changed(session, response, order)


@pytest.mark.parametrize("header", [None, "", "t=1,v0=abc", "garbage"])
def test_a_missing_or_malformed_signature_header_is_400(session, stripe_order, send_event, header):
    order = stripe_order()
    response = send_event(succeeded(order), header=header)
    assert_refused_and_nothing_changed(session, response, order)


def test_a_stale_timestamp_is_refused_as_a_replay(session, stripe_order, send_event):
    order = stripe_order()
    too_old = int(time.time()) - webhooks.SIGNATURE_TOLERANCE_SECONDS - 60
    response = send_event(succeeded(order), timestamp=too_old)
    assert_refused_and_nothing_changed(session, response, order)


def test_a_signed_payload_that_is_not_an_event_is_400(session, stripe_order, send_event):
    order = stripe_order()
    response = send_event({"object": "event", "data": {}})
    assert_refused_and_nothing_changed(session, response, order)


def test_without_a_configured_secret_every_delivery_is_refused(session, shop, send_event):
    # The session's app runs the offline gateway: no Stripe secret at all.
    response = send_event(event("payment_intent.succeeded", intent("pi_x", amount=100)))
    assert response.status_code == 400
    assert receipts(session) == []


# --- payment_intent.succeeded --------------------------------------------------------------


def test_succeeded_marks_the_order_paid_once_even_when_delivered_twice(
    session, shop, stripe_order, send_event
):
    order = stripe_order()
    delivery = succeeded(order)

    first = send_event(delivery)
    assert first.status_code == 200
    assert first.json == {"received": True, "outcome": "applied"}
    again = send_event(delivery)
    assert again.status_code == 200
    assert again.json == {"received": True, "outcome": "duplicate"}

    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("paid", "paid")
    assert row.paid_at is not None
    payment = payment_of(session, order)
    assert (payment.state.value, payment.captured_fen) == ("succeeded", 26400)
    assert event_kinds(session, order) == ["created", "succeeded"]
    assert receipts(session) == [(delivery["id"], "applied")]
    paid_moves = session.execute(
        sa.select(sa.func.count()).where(
            OrderEvent.order_id == order["id"], OrderEvent.to_value == "paid"
        )
    ).scalar_one()
    assert paid_moves == 2  # status and payment status, once each
    assert stock_of(session, shop.sku_500g) == 8  # paying does not touch the reservation


def test_a_second_event_for_an_already_paid_intent_changes_nothing(
    session, stripe_order, send_event
):
    order = stripe_order()
    send_event(succeeded(order))
    response = send_event(succeeded(order))  # another event id, same intent
    assert response.json["outcome"] == "already_applied"
    assert event_kinds(session, order) == ["created", "succeeded"]
    assert session.execute(sa.select(sa.func.count()).select_from(Refund)).scalar_one() == 0


def test_an_unknown_intent_is_acknowledged_logged_and_kept(
    session, send_event, caplog, stripe_order
):
    stripe_order()
    delivery = event("payment_intent.succeeded", intent("pi_nobody_knows", amount=6800))
    with caplog.at_level(logging.INFO, logger="marketplace.payments.webhooks"):
        response = send_event(delivery)
    assert response.status_code == 200
    assert response.json == {"received": True, "outcome": "unmatched"}
    assert receipts(session) == [(delivery["id"], "unmatched")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(delivery["id"] in r.getMessage() and "unmatched" in r.getMessage() for r in warnings)
    assert session.execute(sa.select(sa.func.count()).select_from(PaymentEvent)).scalar_one() == 1


def test_events_nobody_handles_are_acknowledged_as_ignored(session, stand_in_stripe, send_event):
    delivery = event("customer.created", {"id": "cus_1", "object": "customer"})
    response = send_event(delivery)
    assert response.json["outcome"] == "ignored"
    assert receipts(session) == [(delivery["id"], "ignored")]


@pytest.mark.parametrize(
    "over",
    [
        {"amount": 26399},
        {"amount": 26401},
        {"amount": 26400.0},
        {"amount": "26400"},
        {"amount": None},
        {"currency": "usd"},
        {"currency": None},
    ],
    ids=lambda over: repr(over),
)
def test_an_amount_or_currency_mismatch_never_marks_paid(
    session, stripe_order, send_event, over, caplog
):
    order = stripe_order()
    with caplog.at_level(logging.ERROR, logger="marketplace.payments.webhooks"):
        response = send_event(succeeded(order, **over))
    assert response.status_code == 200
    assert response.json["outcome"] == "amount_mismatch"
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("pending_payment", "unpaid")
    assert payment_of(session, order).captured_fen == 0
    assert event_kinds(session, order) == ["created"]
    assert any("not marked paid" in r.getMessage() for r in caplog.records)


# --- payment_intent.payment_failed ---------------------------------------------------------


def test_a_failed_attempt_is_recorded_and_the_order_stays_payable(
    session, shop, stripe_order, send_event, client
):
    order = stripe_order()
    response = send_event(failed(order))
    assert response.json["outcome"] == "recorded"
    assert event_kinds(session, order) == ["created", "attempt_failed"]
    detail = session.execute(
        sa.select(PaymentEvent.detail).where(PaymentEvent.kind == "attempt_failed")
    ).scalar_one()
    assert detail == "Your card was declined."
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("pending_payment", "unpaid")
    assert stock_of(session, shop.sku_500g) == 8  # the hold keeps the goods

    retry = client.post(f"/api/v1/orders/{order['id']}/payment", headers=shop.buyer_headers)
    assert retry.status_code == 200
    assert retry.json["provider_reference"] == order["payment"]["provider_reference"]
    assert send_event(succeeded(order)).json["outcome"] == "applied"
    assert order_row(session, order).status.value == "paid"


def test_payment_failed_arriving_after_succeeded_leaves_the_order_paid(
    session, stripe_order, send_event
):
    order = stripe_order()
    assert send_event(succeeded(order)).json["outcome"] == "applied"
    response = send_event(failed(order))
    assert response.status_code == 200
    assert response.json["outcome"] == "stale"
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("paid", "paid")
    assert event_kinds(session, order) == ["created", "succeeded"]


# --- refunds ---------------------------------------------------------------------------------


@pytest.fixture
def pending_refund(session, shop, paid_stripe_order, client, stand_in_stripe):
    """A paid order with one pending refund of one 500 g box, already sent to the provider."""
    order = paid_stripe_order()
    line = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)
    response = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"lines": [{"order_line_id": line["id"], "quantity": 1}], "reason": "bruised"},
        headers=shop.station_headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["state"] == "pending"
    (sent,) = stand_in_stripe.refunds
    assert sent["amount_fen"] == 6800
    return order, session.get(Refund, response.json["id"])


def test_refund_updated_succeeded_before_refund_created_pending(
    session, shop, pending_refund, send_event
):
    order, refund = pending_refund
    done = refund_object(refund.provider_reference, refund_id=refund.id, amount=6800)
    created = refund_object(
        refund.provider_reference, refund_id=refund.id, amount=6800, status="pending"
    )
    assert send_event(event("refund.updated", done)).json["outcome"] == "applied"
    assert send_event(event("refund.created", created)).json["outcome"] == "pending"
    assert send_event(event("charge.refund.updated", done)).json["outcome"] == "already_applied"

    assert refund.state.value == "succeeded"
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("paid", "partially_refunded")
    assert row.refunded_fen == 6800
    assert payment_of(session, order).refunded_fen == 6800
    assert stock_of(session, shop.sku_500g) == 9  # one unshipped box back on the shelf


def test_a_refund_is_found_by_our_metadata_before_its_stripe_id_is_known(
    session, pending_refund, send_event
):
    _order, refund = pending_refund
    done = refund_object("re_not_stored_yet", refund_id=refund.id, amount=6800)
    assert send_event(event("refund.updated", done)).json["outcome"] == "applied"
    assert refund.state.value == "succeeded"
    assert refund.provider_reference == "re_not_stored_yet"


def test_charge_refunded_confirms_the_refunds_it_lists(session, pending_refund, send_event):
    order, refund = pending_refund
    charge = {
        "id": "ch_1",
        "object": "charge",
        "refunds": {
            "data": [refund_object(refund.provider_reference, refund_id=refund.id, amount=6800)]
        },
    }
    assert send_event(event("charge.refunded", charge)).json["outcome"] == "applied"
    assert order_row(session, order).refunded_fen == 6800


def test_a_failed_refund_frees_its_quantity_for_another_request(
    session, shop, pending_refund, send_event
):
    order, refund = pending_refund
    gone = refund_object(
        refund.provider_reference, refund_id=refund.id, amount=6800, status="failed"
    )
    assert send_event(event("refund.updated", gone)).json["outcome"] == "applied"
    assert refund.state.value == "failed"
    assert order_row(session, order).payment_status.value == "paid"
    assert stock_of(session, shop.sku_500g) == 8
    assert event_kinds(session, order)[-1] == "refund_failed"


@pytest.mark.parametrize("answered", ["succeeded", "failed"])
def test_a_refund_takes_the_state_stripes_answer_gives_it_and_a_later_event_changes_nothing(
    session, shop, paid_stripe_order, client, stand_in_stripe, send_event, answered
):
    stand_in_stripe.refund_status = answered
    order = paid_stripe_order()
    line = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)
    response = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"lines": [{"order_line_id": line["id"], "quantity": 1}], "reason": "bruised"},
        headers=shop.station_headers,
    )
    assert response.status_code == 201, response.json
    refund = session.get(Refund, response.json["id"])
    session.refresh(refund)
    assert refund.state.value == answered
    refunded = 6800 if answered == "succeeded" else 0
    assert order_row(session, order).refunded_fen == refunded
    assert payment_of(session, order).refunded_fen == refunded
    again = refund_object(refund.provider_reference, refund_id=refund.id, amount=6800)
    outcome = send_event(event("refund.updated", {**again, "status": answered})).json["outcome"]
    assert outcome == ("already_applied" if answered == "succeeded" else "applied")
    assert order_row(session, order).refunded_fen == refunded
    assert event_kinds(session, order).count(f"refund_{answered}") == 1


def test_an_unknown_refund_is_acknowledged_as_unmatched(session, stand_in_stripe, send_event):
    unknown = refund_object("re_unknown", refund_id=999999, amount=100)
    assert send_event(event("refund.updated", unknown)).json["outcome"] == "unmatched"


def test_two_workers_confirming_one_refund_count_it_once(session, pending_refund):
    """charge.refunded and refund.updated for one refund, handled at once by two workers: the
    second read the refund as pending before the first committed, then waited on the order."""
    order, refund = pending_refund
    done = refund_object(refund.provider_reference, refund_id=refund.id, amount=6800)
    assert refund.state.value == "pending"  # the second worker's early read

    first_worker = Session(bind=session.connection(), join_transaction_mode="create_savepoint")
    assert webhooks.handle_event(first_worker, event("refund.updated", done)) == "applied"
    first_worker.commit()
    first_worker.close()

    outcome = webhooks.handle_event(session, event("charge.refund.updated", done))
    assert outcome == "already_applied"
    session.expire_all()
    row = order_row(session, order)
    assert row.refunded_fen == 6800
    assert payment_of(session, order).refunded_fen == 6800
    assert event_kinds(session, order).count("refund_succeeded") == 1


def test_two_workers_with_two_success_events_for_one_intent_pay_once(session, stripe_order):
    order = stripe_order()
    early_read = payment_of(session, order)  # the second worker read the payment as pending
    assert early_read.state.value == "pending"

    first_worker = Session(bind=session.connection(), join_transaction_mode="create_savepoint")
    assert webhooks.handle_event(first_worker, succeeded(order)) == "applied"
    first_worker.commit()
    first_worker.close()

    assert webhooks.handle_event(session, succeeded(order)) == "already_applied"
    session.expire_all()
    assert session.execute(sa.select(sa.func.count()).select_from(Refund)).scalar_one() == 0
    assert event_kinds(session, order) == ["created", "succeeded"]


# --- money arriving for an order that can no longer take it ---------------------------------


@pytest.mark.parametrize("how", ["cancelled", "expired"])
def test_a_late_success_is_recorded_and_refunded_in_full(
    session, shop, stripe_order, send_event, client, stand_in_stripe, how
):
    order = stripe_order()
    if how == "cancelled":
        response = client.post(
            f"/api/v1/orders/{order['id']}/cancel",
            json={"reason": "changed my mind"},
            headers=shop.buyer_headers,
        )
        assert response.status_code == 200, response.json
    else:
        expire_unpaid(session, now=order_row(session, order).hold_expires_at)
        session.commit()
        run_after_commit(session, logging.getLogger(__name__))
    assert stock_of(session, shop.sku_500g) == 10
    # The payment it waited for was cancelled, at Stripe too (which, here, the buyer beat).
    assert stand_in_stripe.cancelled == [order["payment"]["provider_reference"]]
    assert payment_of(session, order).state.value == "cancelled"

    response = send_event(succeeded(order))
    assert response.status_code == 200
    assert response.json["outcome"] == "late_capture_refunding"
    assert event_kinds(session, order) == ["created", "cancelled", "succeeded", "late_capture"]
    payment = payment_of(session, order)
    assert (payment.state.value, payment.captured_fen) == ("succeeded", 26400)
    refund = session.execute(sa.select(Refund)).scalar_one()
    assert (refund.state.value, refund.amount_fen) == ("pending", 26400)
    assert stand_in_stripe.refunds == [
        {"payment": payment.provider_reference, "amount_fen": 26400, "refund_id": refund.id}
    ]
    row = order_row(session, order)
    assert (row.status.value, row.payment_status.value) == ("cancelled", "void")

    # Stripe confirms the refund: the money is back, nothing goes back on the shelf twice.
    done = refund_object(refund.provider_reference, refund_id=refund.id, amount=26400)
    confirmed = send_event(event("refund.updated", done))
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["outcome"] == "applied"
    assert refund.state.value == "succeeded"
    assert payment_of(session, order).refunded_fen == 26400
    assert stock_of(session, shop.sku_500g) == 10
    row = order_row(session, order)
    # The money came and went back: the payment status says so.
    assert (row.status.value, row.payment_status.value) == ("cancelled", "late_capture_refunded")
    assert session.execute(sa.select(sa.func.count()).select_from(RefundLine)).scalar_one() == 0


def test_the_webhook_secret_is_never_echoed(session, stripe_order, send_event):
    order = stripe_order()
    response = send_event(succeeded(order), secret="whsec_wrong")
    assert WEBHOOK_SECRET not in response.get_data(as_text=True)
