"""Request and response shapes of livestream sessions. Amounts are integer fen."""

from marshmallow import Schema, fields, validate

from marketplace.livestreams.models import HostKind, Platform, SessionState
from marketplace.numbers import MAX_PRICE_FEN, MAX_STOCK, BoundedInteger, Fen, Id
from marketplace.reasons import reason

CODE_CHARACTERS = reason("live_session.code_characters", "3 to 32 letters, digits, _ or -")
_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{3,32}$", error=CODE_CHARACTERS())


class SessionIn(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    host_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    host_kind = fields.Enum(HostKind, required=True)
    host_account = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The host's account id on the platform (达人ID)."},
    )
    station_id = Id(
        load_default=None,
        metadata={"description": "Admins: the organising station (stations organise their own)."},
    )
    region_id = Id(
        load_default=None,
        metadata={"description": "Admins: the organising region of a county-led session."},
    )
    platform = fields.Enum(Platform, required=True)
    room_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scheduled_start = fields.AwareDateTime(required=True)
    scheduled_end = fields.AwareDateTime(required=True)
    code = fields.String(
        load_default=None,
        validate=_CODE,
        metadata={"description": "What buyers name at checkout; generated when omitted."},
    )


class SessionUpdateIn(Schema):
    version = Id(required=True, metadata={"description": "The version you read."})
    title = fields.String(validate=validate.Length(min=1, max=100))
    host_name = fields.String(validate=validate.Length(min=1, max=50))
    host_kind = fields.Enum(HostKind)
    host_account = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    platform = fields.Enum(Platform)
    room_id = fields.String(validate=validate.Length(min=1, max=64))
    scheduled_start = fields.AwareDateTime()
    scheduled_end = fields.AwareDateTime()


class SessionQuery(Schema):
    state = fields.Enum(SessionState)
    platform = fields.Enum(Platform)
    station_id = Id(strict=False)
    region_id = Id(strict=False)
    starts_from = fields.AwareDateTime()
    starts_before = fields.AwareDateTime()


class MoveIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=300))


class FeatureIn(Schema):
    price_fen = Fen(
        low=1,
        high=MAX_PRICE_FEN,
        required=True,
        metadata={"description": "The live price: above 0, not above the catalog price."},
    )
    cap = BoundedInteger(
        0,
        MAX_STOCK,
        load_default=None,
        allow_none=True,
        metadata={"description": "Units that may sell at the live price; none: no cap."},
    )


class FeaturedOut(Schema):
    live_price_id = fields.Integer()
    sku_id = fields.Integer()
    sku_code = fields.String()
    spec = fields.String()
    product_id = fields.Integer()
    product_name = fields.String()
    catalog_price_fen = fields.Integer()
    live_price_fen = fields.Integer()
    cap = fields.Integer(allow_none=True)
    sold = fields.Integer()
    left = fields.Integer(allow_none=True)


class SessionEventOut(Schema):
    id = fields.Integer()
    from_state = fields.Enum(SessionState, allow_none=True)
    to_state = fields.Enum(SessionState)
    actor_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class SessionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    host_name = fields.String()
    host_kind = fields.Enum(HostKind)
    host_account = fields.String(allow_none=True)
    station_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    platform = fields.Enum(Platform)
    room_id = fields.String()
    scheduled_start = fields.DateTime()
    scheduled_end = fields.DateTime()
    actual_start = fields.DateTime(allow_none=True)
    actual_end = fields.DateTime(allow_none=True)
    state = fields.Enum(SessionState)
    version = fields.Integer()
    created_at = fields.DateTime()


class SessionDetailOut(SessionOut):
    featured = fields.List(fields.Nested(FeaturedOut))
    events = fields.List(fields.Nested(SessionEventOut))


class PublicFeaturedOut(Schema):
    """What anyone may see of a featured SKU (not how many sold in all)."""

    sku_id = fields.Integer()
    product_id = fields.Integer()
    product_name = fields.String()
    spec = fields.String()
    catalog_price_fen = fields.Integer()
    live_price_fen = fields.Integer()
    left = fields.Integer(allow_none=True)


class PublicSessionOut(Schema):
    code = fields.String()
    title = fields.String()
    host_name = fields.String()
    platform = fields.Enum(Platform)
    state = fields.Enum(SessionState)
    scheduled_start = fields.DateTime()
    scheduled_end = fields.DateTime()
    featured = fields.List(fields.Nested(PublicFeaturedOut))
