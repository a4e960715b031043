from marshmallow import Schema, fields, validate

from marketplace.numbers import Id
from marketplace.reasons import reason
from marketplace.regions.models import RegionLevel

DIVISION_CODE_SHAPE = reason("region.code_shape", "must be the 12-digit division code")


class RegionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.Enum(RegionLevel)
    parent_id = fields.Integer(allow_none=True)
    path = fields.String()


class RegionIn(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{12}$", error=DIVISION_CODE_SHAPE()),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = Id(load_default=None)


class RegionQuery(Schema):
    level = fields.Enum(RegionLevel)
    within = Id(strict=False, metadata={"description": "Only regions in this region's subtree."})
    parent_id = Id(strict=False)
    q = fields.String(validate=validate.Length(min=1, max=50))
