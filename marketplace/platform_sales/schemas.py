"""Request and response shapes of platform sales: product maps, layouts, uploads."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from marketplace.livestreams.models import Platform
from marketplace.numbers import Id
from marketplace.reasons import reason

OWN_NOT_IMPORTED = reason("platform.own_not_imported", "our own checkout is not imported")

_OUTSIDE_ID = validate.Length(min=1, max=64)
#: Our own checkout's sales are ours already: nothing of it is imported.
_OUTSIDE_PLATFORM = validate.NoneOf([Platform.own], error=OWN_NOT_IMPORTED())


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


class ImportUploadIn(ImportFormIn):
    """An upload: the export's file(s) and how to read them, one multipart/form-data body."""

    file = Upload(
        required=True,
        metadata={"description": "The platform's order export (CSV; UTF-8 or GBK)."},
    )
    items = Upload(
        load_default=None,
        metadata={"description": "Taobao: its item report (宝贝报表), beside the order report."},
    )


class ImportProblemOut(Schema):
    line = fields.Integer()
    column = fields.String(allow_none=True)
    reason = fields.String(metadata={"description": "What is wrong with the row, in English."})
    code = fields.String(
        metadata={
            "description": "Why, for programs and for a message in the reader's language: one "
            "of the reason codes (the document's x-reason-codes give their English templates). "
            "Absent from problems kept before reasons had codes."
        }
    )
    params = fields.Dict(
        metadata={
            "description": "The values the reason's message is made of (a cell quoted, a line, "
            "a session's code...)."
        }
    )


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
    job_id = fields.Integer(
        allow_none=True, metadata={"description": "The job that imported it, batch by batch."}
    )
    complete = fields.Boolean(
        metadata={
            "description": "The whole file was read. False while its job runs, and for good "
            "when the job was cancelled or stopped part way: the counts are those of the "
            "batches it committed, and uploading the file again imports the rest."
        }
    )
    created_at = fields.DateTime(allow_none=True)


class ImportQuery(Schema):
    platform = fields.Enum(Platform)
