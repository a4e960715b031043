"""The views that move money on an order: placing it with its payment, paying, recording an
offline payment, refunds; and Stripe's webhook. They are the payments' own blueprint, on the
order's URLs (``/orders``, ``/orders/{id}/payment`` ...): the orders blueprint serves what
reads and moves the goods, this one what moves the money."""

from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView

from marketplace import i18n
from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.accounts.scoping import Seen
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.orders.schemas import CheckoutIn
from marketplace.payments import (  # abandoned: its receiver cancels abandoned payments
    abandoned,  # noqa: F401
    order_payment,
    refund_requests,
    refunds,
    service,
    webhooks,
)
from marketplace.payments.gateways import checkout_gateway
from marketplace.payments.schemas import (
    CheckoutOut,
    OfflinePaymentIn,
    PaymentOut,
    RecordedPaymentOut,
    RefundIn,
    RefundOut,
)
from marketplace.request_cycle import outside_a_transaction

blp = Blueprint(
    "payments",
    __name__,
    description="Placing and paying orders, offline payments, refunds, and the payment "
    "providers' webhooks",
)
SECURITY = [{"bearerAuth": []}]


@blp.route("/orders")
class PlaceOrder(MethodView):
    # Placing an order reads the caller's token, then writes the order in one statement on
    # PostgreSQL (``orders/checkout_statement.py``): both outside a transaction. Where the
    # statement writes nothing, checkout begins one for the steps that find out why
    # (``db.begin_after_reading_without_transaction``).
    @outside_a_transaction
    @login_required(Role.buyer, Role.unit)
    @blp.arguments(CheckoutIn)
    @blp.idempotent_response(201, CheckoutOut, key_required=True, repeats="the same order")
    @blp.doc(security=SECURITY)
    def post(self, data, idempotency_key):
        """Place an order: prices come from the catalog, stock is reserved at once.

        With Stripe configured, the response carries the PaymentIntent's client secret; with
        the offline gateway, the order waits for the station to record the payment.
        """
        return place_order(
            db.session, current_actor(), data, idempotency_key, i18n.response_language()
        )


def place_order(session, actor, data: dict, idempotency_key: str | None, language: str):
    """What placing an order answers: the order as its buyer sees it (with its payment, or why
    none could be started, in ``language``) and whether it repeats an earlier request. The
    view above and the checkout's front (``checkout_front.py``) both answer with it."""
    placed = order_payment.place_and_start_payment(
        session,
        actor,
        data,
        idempotency_key=idempotency_key,
        hold=timedelta(minutes=current_app.config["ORDER_HOLD_MINUTES"]),
        gateway=checkout_gateway(),
    )
    error = placed.payment_error
    view = Seen(
        placed.order,
        payment=placed.payment,
        payment_error=error and i18n.in_language(error, language),
    )
    return view, placed.replayed


@blp.route("/orders/<id:order_id>/payment")
class OrderPayment(MethodView):
    @login_required(Role.buyer, Role.unit)
    @blp.response(200, PaymentOut)
    @blp.doc(security=SECURITY)
    def post(self, order_id):
        """The order's live online payment (made anew if there is none), to pay or retry."""
        return order_payment.retry_payment(
            db.session, current_actor(), order_id, gateway=checkout_gateway()
        )


@blp.route("/orders/<id:order_id>/offline-payments")
class OfflinePayments(MethodView):
    @login_required(Role.station, Role.admin)
    @blp.arguments(OfflinePaymentIn)
    @blp.response(201, RecordedPaymentOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Record cash, a bank transfer or an invoice paid for the order (the whole total)."""
        return service.record_offline_payment(db.session, current_actor(), order_id, **data)


@blp.route("/orders/<id:order_id>/refunds")
class Refunds(MethodView):
    @login_required(Role.station, Role.admin, Role.buyer, Role.unit)
    @blp.response(200, RefundOut(many=True))
    @blp.doc(security=SECURITY)
    def get(self, order_id):
        """The order's refunds, pending and done."""
        return refunds.refunds_of(db.session, current_actor(), order_id)

    @login_required(Role.station, Role.admin)
    @blp.arguments(RefundIn)
    @blp.idempotent_response(201, RefundOut, key_required=False, repeats="the same refund")
    @blp.doc(security=SECURITY)
    def post(self, data, order_id, idempotency_key):
        """Refund the whole order or chosen lines and quantities (a station: its own lines).

        Goods that never shipped go back on the shelf when the refund completes. Send an
        Idempotency-Key to make a retry after a timeout safe.
        """
        return refund_requests.request_refund_once(
            db.session,
            current_actor(),
            order_id,
            lines=data["lines"],
            reason=data["reason"],
            idempotency_key=idempotency_key,
        )


@blp.route("/payments/stripe/webhook")
class StripeWebhook(MethodView):
    @blp.response(200)
    @blp.doc(description="Stripe calls this; the body must carry a valid Stripe-Signature.")
    def post(self):
        """Receive a Stripe event (signature checked on the raw body)."""
        secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise webhooks.BadSignature(webhooks.STRIPE_NOT_CONFIGURED())
        event = webhooks.verify(
            request.get_data(cache=False), request.headers.get("Stripe-Signature"), secret
        )
        outcome = webhooks.handle_event(db.session, event)
        return {"received": True, "outcome": outcome}
