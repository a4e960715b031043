from marshmallow import Schema, fields, validate

from marketplace.accounts.models import Role
from marketplace.numbers import Id
from marketplace.reasons import reason

USERNAME_CHARACTERS = reason("user.username_characters", "letters, digits, _ . - only")


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=256)
    )


class TokenOut(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "Send as 'Authorization: Bearer <token>'."})
    expires_at = fields.DateTime()
    user = fields.Nested(lambda: UserOut())


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    phone = fields.String(allow_none=True)
    role = fields.Enum(Role)
    station_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()


class UserIn(Schema):
    username = fields.String(
        required=True,
        validate=[
            validate.Length(min=3, max=64),
            validate.Regexp(r"^[A-Za-z0-9_.-]+$", error=USERNAME_CHARACTERS()),
        ],
    )
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=10, max=256)
    )
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^1[3-9][0-9]{9}$"))
    role = fields.Enum(Role, required=True)
    station_id = Id(load_default=None)
    region_id = Id(load_default=None)
    unit_id = Id(load_default=None)


class UserUpdateIn(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^1[3-9][0-9]{9}$"))
    password = fields.String(load_only=True, validate=validate.Length(min=10, max=256))
    is_active = fields.Boolean()


class UserQuery(Schema):
    role = fields.Enum(Role)
    station_id = Id(strict=False)
