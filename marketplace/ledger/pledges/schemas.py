"""Request and response shapes of pledges. Amounts are integer fen."""

from marshmallow import Schema, fields, validate

from marketplace import i18n
from marketplace.ledger.pledges.funding import not_funded_in_language
from marketplace.ledger.pledges.models import PayerKind, PledgeKind, PledgeState
from marketplace.numbers import BoundedInteger, Fen, Id


class NotFunded(fields.Dict):
    """``Pledge.not_funded``, its reason in the request's language."""

    def _serialize(self, value, attr, obj, **kwargs):
        value = not_funded_in_language(value, i18n.response_language())
        return super()._serialize(value, attr, obj, **kwargs)


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
    not_funded = NotFunded(
        allow_none=True,
        metadata={
            "description": "Why the session's end did not fund it: reason, in the request's "
            "language, with its code and params (x-reason-codes); owed_fen, pledged_fen and "
            "shortfall_fen when the payer was owed too little."
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
