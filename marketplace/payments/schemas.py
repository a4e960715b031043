import functools

from marshmallow import Schema, fields, validate

from marketplace.numbers import BoundedInteger, Fen, Id
from marketplace.orders import fast_bodies
from marketplace.orders.schemas import MAX_QUANTITY_PER_LINE, OrderOut
from marketplace.payments.models import Gateway, PaymentState, RefundState
from marketplace.payments.service import OFFLINE_METHODS


class PaymentOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    gateway = fields.Enum(Gateway)
    state = fields.Enum(PaymentState)
    method = fields.String(allow_none=True)
    amount_fen = fields.Integer()
    currency = fields.String()
    captured_fen = fields.Integer()
    refunded_fen = fields.Integer()
    provider_reference = fields.String(allow_none=True)
    #: only in the buyer's own checkout and payment responses
    client_secret = fields.String(allow_none=True)
    created_at = fields.DateTime()
    succeeded_at = fields.DateTime(allow_none=True)


class RecordedPaymentOut(PaymentOut):
    """A payment as a station sees it: never the buyer's client secret."""

    class Meta:
        exclude = ("client_secret",)


class CheckoutOut(OrderOut):
    payment = fields.Nested(PaymentOut, allow_none=True)
    payment_error = fields.String(
        allow_none=True,
        metadata={
            "description": "Why no online payment could be started, in the request's language "
            "(the order stands: ask for its payment again)."
        },
    )

    def dump(self, obj, *, many=None):
        """marshmallow's ``dump`` of one placed order, by a plan made once from these fields
        (``orders.fast_bodies.dump_plan``): every checkout's response is written with it."""
        if many or (many is None and self.many):
            return super().dump(obj, many=many)
        return self._plan(obj)

    @functools.cached_property
    def _plan(self):
        return fast_bodies.dump_plan(self)


class OfflinePaymentIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(OFFLINE_METHODS))
    #: the receipt number or bank transfer reference, unique per payment
    reference = fields.String(required=True, validate=validate.Length(min=1, max=128))
    amount_fen = Fen(low=1, required=True)


class RefundLineIn(Schema):
    order_line_id = Id(required=True)
    quantity = BoundedInteger(1, MAX_QUANTITY_PER_LINE, required=True)


class RefundIn(Schema):
    #: omit to refund everything that is left (of your lines, for a station)
    lines = fields.List(
        fields.Nested(RefundLineIn), load_default=None, validate=validate.Length(min=1, max=50)
    )
    reason = fields.String(required=True, validate=validate.Length(min=2, max=300))


class RefundLineOut(Schema):
    order_line_id = fields.Integer()
    quantity = fields.Integer()
    amount_fen = fields.Integer()


class RefundOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    payment_id = fields.Integer()
    state = fields.Enum(RefundState)
    amount_fen = fields.Integer()
    currency = fields.String()
    reason = fields.String(allow_none=True)
    restocked = fields.Boolean()
    provider_reference = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(RefundLineOut))
