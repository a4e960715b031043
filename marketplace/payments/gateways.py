"""Payment providers behind one interface, chosen by configuration (PAYMENT_GATEWAY).

``stripe`` takes cards, Alipay and WeChat Pay through PaymentIntents in CNY; ``offline`` has
no provider: a station records the cash or transfer it received. Only this module talks to
Stripe, and only ``to_stripe_amount`` converts our money into Stripe's units.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import stripe
from flask import Flask, current_app

from marketplace.errors import DomainError
from marketplace.payments.models import Gateway
from marketplace.reasons import Reason, reason

#: Currencies whose smallest unit Stripe counts in, per unit of our *_fen columns.
_STRIPE_UNITS_PER_MINOR_UNIT = {"CNY": 1}


class GatewayUnavailable(DomainError):
    """The provider could not be reached or failed; the same call may work later."""

    status, code, title = 502, "payment-provider-unavailable", "The payment provider failed"


class GatewayRefused(GatewayUnavailable):
    """The provider said no to this request; sending it again will not help."""

    code, title = "payment-provider-refused", "The payment provider refused"


GATEWAY_NOT_CONFIGURED = reason(
    "payment.gateway_not_configured", "The {gateway} gateway is not configured here."
)
#: Stripe's answer, as it gave it (``provider_message``), when it did not do what was asked:
#: refused (sending it again will not help) or failed (it may work later).
START_REFUSED = reason(
    "payment.provider_refused_start", "Stripe did not start the payment: {provider_message}"
)
START_FAILED = reason(
    "payment.provider_failed_start", "Stripe did not start the payment: {provider_message}"
)
REFUND_REFUSED = reason(
    "payment.provider_refused_refund", "Stripe did not refund: {provider_message}"
)
REFUND_FAILED = reason(
    "payment.provider_failed_refund", "Stripe did not refund: {provider_message}"
)
CANCEL_REFUSED = reason(
    "payment.provider_refused_cancel",
    "Stripe did not cancel the payment: {provider_message}",
)
CANCEL_FAILED = reason(
    "payment.provider_failed_cancel", "Stripe did not cancel the payment: {provider_message}"
)


def _translate(error: stripe.StripeError, refused: Reason, failed: Reason) -> GatewayUnavailable:
    provider_message = str(error.user_message or error)
    if isinstance(error, stripe.InvalidRequestError | stripe.CardError):
        return GatewayRefused(refused(provider_message=provider_message))
    return GatewayUnavailable(failed(provider_message=provider_message))


def _units_per_minor_unit(currency: str) -> int:
    try:
        return _STRIPE_UNITS_PER_MINOR_UNIT[currency]
    except KeyError:
        raise ValueError(f"no Stripe conversion for {currency!r}") from None


def _require_integer(amount) -> None:
    # bool is an int to Python, and a float would be money with a fraction of a fen.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"amounts are whole integers, not {type(amount).__name__}")


def to_stripe_amount(amount_fen: int, currency: str) -> tuple[int, str]:
    """Our integer minor units to Stripe's ``(amount, currency)``: the one conversion."""
    _require_integer(amount_fen)
    factor = _units_per_minor_unit(currency)
    if amount_fen <= 0:
        raise ValueError("Stripe amounts are positive")
    return amount_fen * factor, currency.lower()


def from_stripe_amount(amount: int, currency: str) -> tuple[int, str]:
    """Stripe's ``(amount, currency)`` back to our fen, refusing anything inexact."""
    _require_integer(amount)
    factor = _units_per_minor_unit(currency.upper())
    if amount % factor:
        raise ValueError(f"{amount} {currency} is not a whole number of our minor units")
    return amount // factor, currency.upper()


@dataclass(frozen=True)
class StartedPayment:
    reference: str
    client_secret: str | None
    method_types: tuple[str, ...]


@dataclass(frozen=True)
class ProviderRefund:
    """What the provider answered a refund's creation: its id, and its state when the answer
    says (``succeeded`` or ``failed`` settle it at once; ``pending`` waits for the webhook)."""

    reference: str
    status: str | None = None
    failure_reason: str | None = None


class PaymentGateway(Protocol):
    name: Gateway
    #: whether the buyer pays online (the order gets a provider payment to confirm)
    online: bool

    def start(
        self, *, order_id: int, order_number: str, amount_fen: int, currency: str, attempt: int
    ) -> StartedPayment | None: ...

    def refund(
        self,
        *,
        payment_reference: str,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
        refund_id: int,
    ) -> ProviderRefund | None: ...

    def cancel(self, *, payment_reference: str) -> None:
        """Stop a payment the buyer has not made: raises GatewayRefused when it cannot be
        stopped any more (it succeeded meanwhile)."""


class OfflineGateway:
    """Money changes hands at the station counter or by bank transfer; nothing to call."""

    name = Gateway.offline
    online = False

    def start(self, **kwargs) -> None:
        return None

    def refund(self, **kwargs) -> None:
        return None

    def cancel(self, **kwargs) -> None:
        return None


class StripeGateway:
    name = Gateway.stripe
    online = True

    def __init__(self, client: stripe.StripeClient, method_types: tuple[str, ...]):
        self._client = client
        self.method_types = method_types

    def start(
        self, *, order_id: int, order_number: str, amount_fen: int, currency: str, attempt: int
    ) -> StartedPayment:
        amount, stripe_currency = to_stripe_amount(amount_fen, currency)
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": stripe_currency,
                    "payment_method_types": list(self.method_types),
                    "metadata": {"order_id": str(order_id), "order_number": order_number},
                },
                # The same order and attempt can never make two intents, even when our own
                # request is retried after a timeout.
                options={"idempotency_key": f"order-{order_id}-attempt-{attempt}"},
            )
        except stripe.StripeError as error:
            raise _translate(error, START_REFUSED, START_FAILED) from error
        return StartedPayment(intent.id, intent.client_secret, self.method_types)

    def refund(
        self,
        *,
        payment_reference: str,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
        refund_id: int,
    ) -> ProviderRefund:
        amount, _ = to_stripe_amount(amount_fen, currency)
        try:
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": payment_reference,
                    "amount": amount,
                    # lets the webhook find our refund even before we stored Stripe's id
                    "metadata": {"refund_id": str(refund_id)},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _translate(error, REFUND_REFUSED, REFUND_FAILED) from error
        answered = refund.to_dict()
        return ProviderRefund(
            reference=refund.id,
            status=answered.get("status"),
            failure_reason=answered.get("failure_reason"),
        )

    def payment_intents_since(self, since: datetime) -> Iterator[dict]:
        """Every PaymentIntent created since ``since``, as dicts, paged."""
        return self._listed(self._client.v1.payment_intents, since)

    def refunds_since(self, since: datetime) -> Iterator[dict]:
        """Every refund created since ``since``, as dicts, paged."""
        return self._listed(self._client.v1.refunds, since)

    @staticmethod
    def _listed(service, since: datetime) -> Iterator[dict]:
        stamp = int(since.timestamp())
        try:
            page = service.list(params={"limit": 100, "created": {"gte": stamp}})
        except (stripe.InvalidRequestError, stripe.APIError):
            # A provider that cannot filter by date (a local stand-in answers 400 or 500):
            # every object, filtered here.
            page = service.list(params={"limit": 100})
        for found in page.auto_paging_iter():
            listed = found.to_dict()
            if listed.get("created", stamp) >= stamp:
                yield listed

    def cancel(self, *, payment_reference: str) -> None:
        try:
            self._client.v1.payment_intents.cancel(payment_reference)
        except stripe.StripeError as error:
            raise _translate(error, CANCEL_REFUSED, CANCEL_FAILED) from error


def init_app(app: Flask) -> None:
    """Offline is always there (stations take cash whatever the configuration); the online
    gateway that new orders use is the configured one."""
    gateways: dict[Gateway, PaymentGateway] = {Gateway.offline: OfflineGateway()}
    choice = app.config["PAYMENT_GATEWAY"]
    if choice == "stripe":
        key = app.config.get("STRIPE_API_KEY")
        if not key or not app.config.get("STRIPE_WEBHOOK_SECRET"):
            raise RuntimeError(
                "PAYMENT_GATEWAY=stripe needs STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET"
            )
        base = app.config.get("STRIPE_API_BASE")
        client = stripe.StripeClient(
            key,
            base_addresses={"api": base} if base else {},
            max_network_retries=app.config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
        )
        gateways[Gateway.stripe] = StripeGateway(
            client, tuple(app.config["STRIPE_PAYMENT_METHOD_TYPES"])
        )
    elif choice != "offline":
        raise RuntimeError(f"unknown PAYMENT_GATEWAY {choice!r}: use stripe or offline")
    app.extensions["payment_gateways"] = gateways
    app.extensions["payment_gateway"] = gateways[Gateway(choice)]


def checkout_gateway() -> PaymentGateway:
    """The gateway new orders pay through."""
    return current_app.extensions["payment_gateway"]


def gateway_for(name: Gateway) -> PaymentGateway:
    """The gateway an existing payment went through (its refunds go back the same way)."""
    try:
        return current_app.extensions["payment_gateways"][name]
    except KeyError:
        raise GatewayUnavailable(GATEWAY_NOT_CONFIGURED(gateway=name.value)) from None
