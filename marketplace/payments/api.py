from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.idempotency import HEADER as IDEMPOTENCY_HEADER
from marketplace.orders.schemas import CheckoutIn, OrderView
from marketplace.orders.service import get_order
from marketplace.payments import checkout as checkout_service
from marketplace.payments import refunds, service, webhooks
from marketplace.payments.gateways import checkout_gateway
from marketplace.payments.schemas import (
    CheckoutOut,
    OfflinePaymentIn,
    PaymentOut,
    RecordedPaymentOut,
    RefundIn,
    RefundOut,
)

blp = Blueprint("payments", __name__, description="Checkout, payments, refunds, webhooks")
SECURITY = [{"bearerAuth": []}]


@blp.route("/orders")
class Checkout(MethodView):
    @login_required(Role.buyer, Role.unit)
    @blp.arguments(CheckoutIn)
    @blp.response(201, CheckoutOut)
    @blp.doc(
        security=SECURITY,
        parameters=[
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "required": True,
                "schema": {"type": "string", "maxLength": 200},
                "description": "Retrying with the same key and body returns the same order.",
            }
        ],
    )
    def post(self, data):
        """Place an order: prices come from the catalog, stock is reserved at once.

        With Stripe configured, the response carries the PaymentIntent's client secret; with
        the offline gateway, the order waits for the station to record the payment.
        """
        result = checkout_service.checkout(
            db.session,
            current_actor(),
            data,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            hold=timedelta(minutes=current_app.config["ORDER_HOLD_MINUTES"]),
            gateway=checkout_gateway(),
        )
        view = OrderView(result.order, payment=result.payment, payment_error=result.payment_error)
        return view, 201, {"Idempotent-Replayed": "true" if result.replayed else "false"}


@blp.route("/orders/<int:order_id>/payment")
class OrderPayment(MethodView):
    @login_required(Role.buyer, Role.unit)
    @blp.response(200, PaymentOut)
    @blp.doc(security=SECURITY)
    def post(self, order_id):
        """The order's live online payment (made anew if there is none), to pay or retry."""
        return checkout_service.retry_payment(
            db.session, current_actor(), order_id, gateway=checkout_gateway()
        )


@blp.route("/orders/<int:order_id>/offline-payments")
class OfflinePayments(MethodView):
    @login_required(Role.station, Role.admin)
    @blp.arguments(OfflinePaymentIn)
    @blp.response(201, RecordedPaymentOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Record cash, a bank transfer or an invoice paid for the order (the whole total)."""
        return service.record_offline_payment(db.session, current_actor(), order_id, **data)


@blp.route("/orders/<int:order_id>/refunds")
class Refunds(MethodView):
    @login_required(Role.station, Role.admin, Role.buyer, Role.unit)
    @blp.response(200, RefundOut(many=True))
    @blp.doc(security=SECURITY)
    def get(self, order_id):
        """The order's refunds, pending and done."""
        get_order(db.session, current_actor(), order_id)
        return refunds.refunds_of(db.session, order_id)

    @login_required(Role.station, Role.admin)
    @blp.arguments(RefundIn)
    @blp.response(201, RefundOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Refund the whole order or chosen lines and quantities (a station: its own lines).

        Goods that never shipped go back on the shelf when the refund completes. Send an
        Idempotency-Key to make a retry after a timeout safe.
        """
        refund, replayed = refunds.request_refund_once(
            db.session,
            current_actor(),
            order_id,
            lines=data["lines"],
            reason=data["reason"],
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )
        return refund, 201, {"Idempotent-Replayed": "true" if replayed else "false"}


@blp.route("/payments/stripe/webhook")
class StripeWebhook(MethodView):
    @blp.response(200)
    @blp.doc(description="Stripe calls this; the body must carry a valid Stripe-Signature.")
    def post(self):
        """Receive a Stripe event (signature checked on the raw body)."""
        secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise webhooks.BadSignature("Stripe is not configured on this server.")
        event = webhooks.verify(
            request.get_data(cache=False), request.headers.get("Stripe-Signature"), secret
        )
        outcome = webhooks.handle_event(db.session, event)
        return {"received": True, "outcome": outcome}
