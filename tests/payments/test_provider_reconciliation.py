"""``flask payments reconcile`` against localstripe with its webhooks switched off: a payment
whose webhook never came is applied, recorded as the reconciliation's; a refund whose answer
was lost is confirmed; money Stripe holds that we do not know of is reported, and the command
exits 1 until a person looks; run again, it changes nothing twice."""

from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.payments import refund_requests
from marketplace.payments.models import Payment, Refund, RefundState, WebhookReceipt
from marketplace.reports import reconciliation
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.test_stripe_localstripe import (  # noqa: F401  (shared fixtures)
    http,
    pay,
    place_order,
    session,
    shop,
    wait_for_payment_status,
)


def _reconcile(app):
    since = (shanghai_today() - timedelta(days=1)).isoformat()
    return app.test_cli_runner().invoke(args=["payments", "reconcile", "--since", since])


def test_missed_webhooks_are_applied_and_the_rest_reported(
    app, session, shop, http, stripe_api, localstripe
):
    localstripe.register_webhook("http://127.0.0.1:9/nowhere", WEBHOOK_SECRET)  # switched off
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    assert pay(stripe_api, reference).status == "succeeded"
    assert http.order(order["id"], shop.buyer_headers)["payment_status"] == "unpaid"
    # Someone refunded at Stripe's dashboard: money that left without us.
    stripe_api.v1.refunds.create(params={"payment_intent": reference, "amount": 100})
    # And a payment made at Stripe for no order of ours.
    stray = stripe_api.v1.payment_intents.create(
        params={"amount": 5000, "currency": "cny", "payment_method_types": ["card"]}
    )
    pay(stripe_api, stray.id)

    result = _reconcile(app)
    assert result.exit_code == 1, result.output
    assert "fixed: payment" in result.output and "missed webhook applied" in result.output
    assert f"to check: PaymentIntent {stray.id} succeeded for 50.00 CNY" in result.output
    assert "is no refund here" in result.output
    detail = http.order(order["id"], shop.buyer_headers)
    assert detail["payment_status"] == "paid"
    session.rollback()
    receipts = session.execute(sa.select(WebhookReceipt.event_id)).scalars().all()
    assert f"reconcile:{reference}:succeeded" in receipts

    again = _reconcile(app)
    assert "0 fixed" in again.output, again.output
    assert reconciliation.run(session).differences == []


def test_a_refund_whose_answer_was_lost_is_confirmed(
    app, session, shop, http, stripe_api, localstripe
):
    order = place_order(http, shop)
    reference = order["payment"]["provider_reference"]
    pay(stripe_api, reference)
    wait_for_payment_status(http, shop, order["id"], "paid")
    localstripe.register_webhook("http://127.0.0.1:9/nowhere", WEBHOOK_SECRET)
    session.rollback()
    payment = session.execute(
        sa.select(Payment).where(Payment.order_id == order["id"])
    ).scalar_one()
    # Recorded and sent to Stripe, which refunded it, but our process died before it heard
    # the answer (the after-commit send is dropped here; the test makes Stripe's refund).
    admin = Actor(user_id=shop.admin.id, username=shop.admin.username, role=Role.admin)
    refund = refund_requests.request_refund(
        session, admin, order["id"], lines=None, reason="the buyer's whole order"
    )
    session.info.pop("after_commit", None)
    session.commit()
    stripe_api.v1.refunds.create(
        params={
            "payment_intent": reference,
            "amount": payment.amount_fen,
            "metadata": {"refund_id": str(refund.id)},
        }
    )
    result = _reconcile(app)
    assert result.exit_code == 0, result.output
    assert f"fixed: refund {refund.id}" in result.output
    session.rollback()
    assert session.get(Refund, refund.id).state is RefundState.succeeded
    assert http.order(order["id"], shop.buyer_headers)["payment_status"] == "refunded"
    assert reconciliation.run(session).differences == []
