"""Request and response shapes of livestream sessions. Amounts are integer fen."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from marketplace.livestreams.models import (
    HostKind,
    PayerKind,
    Platform,
    PledgeKind,
    PledgeState,
    SessionState,
)
from marketplace.numbers import MAX_PRICE_FEN, MAX_STOCK, BoundedInteger, Fen, Id

_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{3,32}$", error="3 to 32 letters, digits, _ or -")


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


# --- platform exports -------------------------------------------------------------------------

_OUTSIDE_ID = validate.Length(min=1, max=64)
#: Our own checkout's sales are ours already: nothing of it is imported.
_OUTSIDE_PLATFORM = validate.NoneOf([Platform.own], error="our own checkout is not imported")


class PlatformProductIn(Schema):
    platform = fields.Enum(Platform, required=True, validate=_OUTSIDE_PLATFORM)
    outside_id = fields.String(
        required=True,
        validate=_OUTSIDE_ID,
        metadata={"description": "The platform's product, SKU or style id, or merchant code."},
    )
    sku_id = Id(required=True)


class PlatformProductsIn(Schema):
    products = fields.List(
        fields.Nested(PlatformProductIn),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )


class PlatformProductsOut(Schema):
    created = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()


class PlatformProductOut(Schema):
    platform = fields.Enum(Platform)
    outside_id = fields.String()
    sku_id = fields.Integer()
    created_at = fields.DateTime()


class PlatformProductQuery(Schema):
    platform = fields.Enum(Platform)


_COLUMN = fields.String(validate=validate.Length(min=1, max=64))
_VALUES = fields.List(fields.String(validate=validate.Length(min=1, max=64)))


class LayoutValuesIn(Schema):
    statuses = fields.Dict(
        keys=fields.String(),
        values=_VALUES,
        required=True,
        metadata={
            "description": "Our status (unpaid, paid, shipped, completed, closed) -> "
            "the export's values that mean it."
        },
    )
    refund_states = fields.Dict(
        keys=fields.String(),
        values=_VALUES,
        load_default=dict,
        metadata={"description": "none, pending, refunded -> the export's values."},
    )
    live = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        metadata={"description": "The values of the live column that mean sold live."},
    )


class LayoutIn(Schema):
    platform = fields.Enum(Platform, required=True, validate=_OUTSIDE_PLATFORM)
    columns = fields.Dict(
        keys=fields.String(),
        values=_COLUMN,
        required=True,
        metadata={
            "description": "Our field -> the export's column. Required: order_id, product_key, "
            "quantity, paid, placed_at, paid_at, status, and unit_price or line_total. "
            "Optional: line_id, title, refund_state, refunded, live, host_account, host_name."
        },
    )
    values = fields.Nested(LayoutValuesIn, required=True)


class LayoutOut(Schema):
    name = fields.String()
    platform = fields.Enum(Platform)
    columns = fields.Dict(keys=fields.String(), values=fields.String())
    values = fields.Dict()
    created_at = fields.DateTime()


class ImportUploadIn(Schema):
    file = Upload(
        required=True,
        metadata={"description": "The platform's order export (CSV; UTF-8 or GBK)."},
    )
    items = Upload(
        load_default=None,
        metadata={"description": "Taobao: its item report (宝贝报表), beside the order report."},
    )


class ImportFormIn(Schema):
    platform = fields.Enum(Platform, required=True, validate=_OUTSIDE_PLATFORM)
    session_id = Id(
        strict=False,
        load_default=None,
        metadata={
            "description": "The session every live row belongs to; otherwise each "
            "row is matched by its time and host."
        },
    )
    layout = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The name of the station's layout, for an export we have no mapping for."
        },
    )
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Report what the upload would do, and write nothing."},
    )


class ImportProblemOut(Schema):
    line = fields.Integer()
    column = fields.String(allow_none=True)
    reason = fields.String()


class ImportOut(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "None in a dry run."})
    station_id = fields.Integer()
    platform = fields.Enum(Platform)
    filename = fields.String()
    sha256 = fields.String()
    session_id = fields.Integer(allow_none=True)
    dry_run = fields.Boolean()
    rows = fields.Integer()
    created_lines = fields.Integer()
    updated_lines = fields.Integer()
    unchanged_lines = fields.Integer()
    duplicate_lines = fields.Integer()
    skipped_lines = fields.Integer(metadata={"description": "Not paid on the platform."})
    failed_lines = fields.Integer()
    problems = fields.List(fields.Nested(ImportProblemOut))
    problems_not_kept = fields.Integer(
        metadata={"description": "Problems beyond the first 1000, counted only."}
    )
    created_at = fields.DateTime(allow_none=True)


class ImportQuery(Schema):
    platform = fields.Enum(Platform)


# --- pledges ----------------------------------------------------------------------------------


class PledgeIn(Schema):
    kind = fields.Enum(PledgeKind, required=True)
    payer_kind = fields.Enum(PayerKind, required=True)
    producer_id = Id(
        load_default=None,
        metadata={
            "description": "payer_kind producer: the co-operative or enterprise that pays "
            "from what it is owed."
        },
    )
    payer_name = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "payer_kind outside: who gives the money."},
    )
    amount_each_fen = Fen(
        low=1,
        load_default=None,
        metadata={"description": "per_household: what each household gets."},
    )
    household_ids = fields.List(Id(), load_default=None, validate=validate.Length(min=1, max=1000))
    share_bp = BoundedInteger(
        1,
        10_000,
        load_default=None,
        metadata={"description": "share_of_net: basis points of the net sales (200 = 2%)."},
    )
    village_id = Id(
        load_default=None,
        metadata={
            "description": "share_of_net: the village whose registered households share it equally."
        },
    )
    memo = fields.String(required=True, validate=validate.Length(min=1, max=300))


class PledgeHouseholdOut(Schema):
    household_id = fields.Integer()
    amount_fen = fields.Integer(allow_none=True)


class PledgeOut(Schema):
    id = fields.Integer()
    session_id = fields.Integer()
    kind = fields.Enum(PledgeKind)
    payer_kind = fields.Enum(PayerKind)
    producer_id = fields.Integer(allow_none=True)
    payer_name = fields.String()
    amount_each_fen = fields.Integer(allow_none=True)
    share_bp = fields.Integer(allow_none=True)
    village_id = fields.Integer(allow_none=True)
    memo = fields.String()
    state = fields.Enum(PledgeState)
    amount_fen = fields.Integer(allow_none=True)
    basis_fen = fields.Integer(
        allow_none=True, metadata={"description": "The net sales a share was taken of."}
    )
    not_funded = fields.Dict(
        allow_none=True,
        metadata={
            "description": "Why the session's end did not fund it (reason), with owed_fen, "
            "pledged_fen and shortfall_fen when the payer was owed too little."
        },
    )
    fund_id = fields.Integer(allow_none=True)
    disbursement_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    proposed_by_id = fields.Integer(allow_none=True)
    approved_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    funded_at = fields.DateTime(allow_none=True)
    disbursed_at = fields.DateTime(allow_none=True)
    households = fields.List(fields.Nested(PledgeHouseholdOut))


# --- results ----------------------------------------------------------------------------------


class FiguresOut(Schema):
    gross_fen = fields.Integer(metadata={"description": "What the paid lines came to."})
    refunds_fen = fields.Integer()
    net_fen = fields.Integer(metadata={"description": "gross_fen - refunds_fen"})
    orders = fields.Integer()
    units = fields.Integer()
    units_refunded = fields.Integer()
    buyers = fields.Integer(
        metadata={
            "description": "Distinct buyers: ours by account; a platform masks its buyers, so "
            "each of its orders counts as one."
        }
    )


class SkuFiguresOut(FiguresOut):
    sku_id = fields.Integer()
    product_name = fields.String()
    spec = fields.String()


class ProducerFiguresOut(FiguresOut):
    producer_id = fields.Integer()
    name = fields.String()


class SourceFiguresOut(FiguresOut):
    source = fields.String(
        metadata={"description": "own (our checkout), or the platform an import came from."}
    )


class HouseholdGainOut(Schema):
    household_id = fields.Integer()
    head_name = fields.String()
    village_id = fields.Integer()
    attributed_fen = fields.Integer(
        metadata={"description": "From the session's sales, less refunds (the ledger's)."}
    )
    pledged_fen = fields.Integer(metadata={"description": "From its pledges, once disbursed."})
    total_fen = fields.Integer()


class PledgeSummaryOut(Schema):
    id = fields.Integer()
    kind = fields.Enum(PledgeKind)
    payer_name = fields.String()
    state = fields.Enum(PledgeState)
    amount_fen = fields.Integer(allow_none=True)
    fund_id = fields.Integer(allow_none=True)
    not_funded = fields.Dict(allow_none=True)


class ResultsOut(FiguresOut):
    session_id = fields.Integer()
    code = fields.String()
    state = fields.Enum(SessionState)
    final = fields.Boolean(
        metadata={
            "description": "The session ended: no more checkout orders join it (sales imported "
            "from a platform's later export still do, and later refunds show)."
        }
    )
    currency = fields.String()
    by_sku = fields.List(fields.Nested(SkuFiguresOut))
    by_producer = fields.List(fields.Nested(ProducerFiguresOut))
    by_source = fields.List(fields.Nested(SourceFiguresOut))
    households = fields.List(fields.Nested(HouseholdGainOut))
    other_households_fen = fields.Integer(
        metadata={"description": "What households beyond your scope gained, summed."}
    )
    pledges = fields.List(fields.Nested(PledgeSummaryOut))
