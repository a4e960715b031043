import functools

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.numbers import BoundedInteger, Id
from marketplace.orders import fast_bodies
from marketplace.orders.models import Channel, LinePricing, OrderStatus, PaymentStatus
from marketplace.periods import PeriodField
from marketplace.reasons import reason

#: One line may not take more than this many units: a typo of 1000 must not empty a shelf.
MAX_QUANTITY_PER_LINE = 200
MAX_LINES = 50
_MOBILE_OR_LANDLINE = r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"

NOT_A_PHONE_NUMBER = reason("address.not_a_phone_number", "not a phone number")
POSTAL_CODE_DIGITS = reason("address.postal_code_digits", "6 digits")
LIVESTREAM_CODE_CHARACTERS = reason(
    "checkout.livestream_code_characters", "letters, digits, _ and -"
)
SKU_GIVEN_TWICE = reason("checkout.sku_given_twice", "appears twice; add the quantities instead")
ORDER_NUMBER_CHARACTERS = reason("order.number_characters", "letters and digits only")
PHONE_TAIL_DIGITS = reason("order.phone_tail_digits", "the last 4 digits of a phone number")
TRACKING_NUMBER_CHARACTERS = reason(
    "shipment.tracking_number_characters", "6-64 letters, digits or -"
)


class CheckoutLineIn(Schema):
    """A line names the SKU and how many; prices come from the catalog, never from here."""

    sku_id = Id(required=True)
    quantity = BoundedInteger(1, MAX_QUANTITY_PER_LINE, required=True)


class ShippingAddressIn(Schema):
    recipient_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    recipient_phone = fields.String(
        required=True, validate=validate.Regexp(_MOBILE_OR_LANDLINE, error=NOT_A_PHONE_NUMBER())
    )
    province = fields.String(required=True, validate=validate.Length(min=2, max=30))
    city = fields.String(required=True, validate=validate.Length(min=2, max=30))
    district = fields.String(required=True, validate=validate.Length(min=2, max=30))
    address_line = fields.String(required=True, validate=validate.Length(min=2, max=200))
    postal_code = fields.String(
        load_default=None, validate=validate.Regexp(r"^[0-9]{6}$", error=POSTAL_CODE_DIGITS())
    )


class CheckoutIn(Schema):
    lines = fields.List(
        fields.Nested(CheckoutLineIn),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    shipping_address = fields.Nested(ShippingAddressIn, required=True)
    livestream_code = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error=LIVESTREAM_CODE_CHARACTERS()),
        metadata={
            "description": "A livestream session's code: the order is tied to the session, "
            "and while it is live its featured SKUs cost their live price (each line says "
            "which price applied and why)."
        },
    )
    live_price_only = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: refuse (409) rather than charge the catalog price for units "
            "the session's live price does not cover."
        },
    )
    note = fields.String(load_default=None, validate=validate.Length(max=200))

    @validates_schema
    def _one_line_per_sku(self, data, **kwargs):
        index = _repeated_sku(data.get("lines", []))
        if index is not None:
            raise ValidationError(SKU_GIVEN_TWICE(), field_name=f"lines.{index}.sku_id")

    def load(self, data, *, many=None, partial=None, unknown=None):
        """marshmallow's ``load``; a body it would take as it is (the common basket) is read
        by ``fast_bodies.read_plan`` instead, at a fraction of the cost. Everything else,
        every mistake included, is read and answered by marshmallow."""
        if many is None and partial is None and unknown is None and self._read_plain:
            read = self._read_plain(data)
            if read is not None and _repeated_sku(read["lines"]) is None:
                return read
        return super().load(data, many=many, partial=partial, unknown=unknown)

    @functools.cached_property
    def _read_plain(self):
        return fast_bodies.read_plan(self)


def _repeated_sku(lines: list[dict]) -> int | None:
    """The index of the first line naming a SKU an earlier line named."""
    seen = set()
    for index, line in enumerate(lines):
        if line["sku_id"] in seen:
            return index
        seen.add(line["sku_id"])
    return None


class OrderLineOut(Schema):
    id = fields.Integer()
    sku_id = fields.Integer()
    product_id = fields.Integer()
    station_id = fields.Integer()
    producer_id = fields.Integer()
    product_name = fields.String()
    sku_spec = fields.String()
    unit_price_fen = fields.Integer()
    quantity = fields.Integer()
    line_total_fen = fields.Integer()
    list_price_fen = fields.Integer(metadata={"description": "The catalog price when ordered."})
    pricing = fields.Enum(LinePricing, metadata={"description": "Which price applied, and why."})
    live_price_id = fields.Integer(allow_none=True)
    refunded_quantity = fields.Integer()
    refunded_fen = fields.Integer()
    carrier = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)


class OrderEventOut(Schema):
    id = fields.Integer()
    dimension = fields.String()
    from_value = fields.String(allow_none=True)
    to_value = fields.String()
    actor_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class OrderOut(Schema):
    id = fields.Integer()
    number = fields.String()
    buyer_id = fields.Integer(
        allow_none=True,
        metadata={"description": "None for a sale imported from a platform (channel imported)."},
    )
    unit_id = fields.Integer(allow_none=True)
    channel = fields.Enum(Channel)
    livestream_session_id = fields.Integer(allow_none=True)
    status = fields.Enum(OrderStatus)
    payment_status = fields.Enum(PaymentStatus)
    total_fen = fields.Integer()
    refunded_fen = fields.Integer()
    currency = fields.String()
    shipping_address = fields.Method(
        "_address",
        allow_none=True,
        metadata={"description": "None for an imported sale: the platform ships, and masks it."},
    )
    note = fields.String(allow_none=True)
    hold_expires_at = fields.DateTime()
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    lines = fields.List(fields.Nested(OrderLineOut))

    def _address(self, order):
        if order.recipient_name is None:
            return None
        return {
            "recipient_name": order.recipient_name,
            "recipient_phone": order.recipient_phone,
            "province": order.province,
            "city": order.city,
            "district": order.district,
            "address_line": order.address_line,
            "postal_code": order.postal_code,
        }


class OrderQuery(Schema):
    number = fields.String(
        validate=validate.Regexp(r"^[A-Za-z0-9]{1,32}$", error=ORDER_NUMBER_CHARACTERS()),
        metadata={"description": "Orders whose number contains this (any letter case)."},
    )
    phone_tail = fields.String(
        validate=validate.Regexp(r"^[0-9]{4}$", error=PHONE_TAIL_DIGITS()),
        metadata={
            "description": "Orders whose recipient's phone number ends in these 4 digits; "
            "not for officials, who are not shown addresses (403)."
        },
    )
    status = fields.Enum(OrderStatus)
    payment_status = fields.Enum(PaymentStatus)
    created_from = fields.AwareDateTime(default_timezone=None)
    created_to = fields.AwareDateTime(default_timezone=None)
    livestream_code = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Orders tied to the session with this code."},
    )
    livestream_session_id = Id(strict=False)
    channel = fields.Enum(Channel)
    station_id = Id(
        strict=False, metadata={"description": "Orders holding a line of this station."}
    )
    region_id = Id(
        strict=False,
        metadata={
            "description": "Orders holding a line whose produce comes from this region's "
            "subtree (a village, a township, a county), by the product's village of origin as "
            "for every sale; an unknown region: none."
        },
    )
    paid_in = PeriodField(
        metadata={"description": "Paid in this month (2025-09), quarter (2025-Q3) or year (2025)."}
    )


class CancelIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=300))


class ShipmentIn(Schema):
    carrier = fields.String(required=True, validate=validate.Length(min=2, max=50))
    tracking_number = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9-]{6,64}$", error=TRACKING_NUMBER_CHARACTERS()),
    )


class OrderDetailOut(OrderOut):
    events = fields.List(fields.Nested(OrderEventOut))
