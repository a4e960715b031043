"""Request and response shapes of payout runs. Card and ID numbers are masked except for
admins (``households/personal_data.py``); the downloadable files carry them in full."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from marketplace.bank_text import BankText
from marketplace.households.personal_data import ProtectedNumber
from marketplace.numbers import Id
from marketplace.payouts.models import LineStatus, PayeeKind, RunStatus
from marketplace.reasons import reason

BATCH_SERIAL_PATTERN = reason(
    "payout_run.batch_serial_pattern", "must be 8 to 64 letters, digits or hyphens"
)


class PayoutRunIn(Schema):
    region_id = Id(
        required=True, metadata={"description": "A county or township: its whole subtree."}
    )
    period_end = fields.Date(
        required=True, metadata={"description": "Income accrued up to and including this day."}
    )
    project_name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), BankText()],
        metadata={
            "description": "项目资金名称, printed on every line of the one-card file and as "
            "the memo of each transfer in the bank's file."
        },
    )
    batch_serial = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9A-Za-z-]{8,64}$", error=BATCH_SERIAL_PATTERN()),
        metadata={"description": "流水号 of the batch; a fresh UUID when not given."},
    )


class PayoutRunQuery(Schema):
    status = fields.Enum(RunStatus)
    region_id = Id(strict=False)


class PayoutLineOut(Schema):
    id = fields.Integer()
    payee_kind = fields.Enum(PayeeKind)
    household_id = fields.Integer(allow_none=True)
    producer_id = fields.Integer(allow_none=True)
    amount_fen = fields.Integer()
    currency = fields.Constant("CNY")
    status = fields.Enum(LineStatus)
    payee_name = fields.String()
    phone = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    # A producer's line carries its organisation account (number, name on it, credit code),
    # or, when it has none, no account at all: null, as the document says.
    card_number = ProtectedNumber(encrypted="card_encrypted", masked="card_masked", allow_none=True)
    holder_name = fields.String(allow_none=True)
    credit_code = fields.String(
        allow_none=True, metadata={"description": "A producer's 统一社会信用代码."}
    )
    holder_id_number = ProtectedNumber(
        encrypted="holder_id_encrypted", masked="holder_id_masked", allow_none=True
    )
    failure_reason = fields.String(
        allow_none=True, metadata={"description": "失败原因 from the bank's return file."}
    )
    settled_at = fields.DateTime(allow_none=True)


class PayoutRunOut(Schema):
    id = fields.Integer()
    region_id = Id(strict=False)
    period_end = fields.Date()
    project_name = fields.String()
    batch_serial = fields.String()
    status = fields.Enum(RunStatus)
    total_fen = fields.Integer()
    currency = fields.Constant("CNY")
    proposed_by_id = fields.Integer()
    proposed_at = fields.DateTime()
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class PayoutRunDetailOut(PayoutRunOut):
    lines = fields.List(fields.Nested(PayoutLineOut))


class SkippedPayeeOut(Schema):
    household_id = fields.Integer()
    amount_fen = fields.Integer()
    reason = fields.String(metadata={"description": "Why, in English."})
    code = fields.String(
        metadata={
            "description": "Why, for programs: payout_run.skipped_no_payout_account or "
            "payout_run.skipped_last_payout_failed (the document's x-reason-codes give their "
            "English templates)."
        }
    )
    params = fields.Dict(
        metadata={
            "description": "The values the reason's message is made of (line_id, failure_reason)."
        }
    )


class ProposalOut(Schema):
    run = fields.Nested(PayoutRunDetailOut)
    skipped = fields.List(
        fields.Nested(SkippedPayeeOut),
        metadata={"description": "Households owed money that this run leaves out, and why."},
    )


class ReturnUploadIn(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "The bank's return: the one-card return workbook (回执, xlsx) for "
            "households' lines, or the return text for organisations' accounts (GBK CSV: "
            "流水号,统一社会信用代码,收款人账号,收款人名称,出款金额,处理结果,失败原因) for "
            "producers' lines."
        },
    )


class ReturnImportOut(Schema):
    id = fields.Integer()
    run_id = fields.Integer()
    file_sha256 = fields.String()
    succeeded = fields.Integer()
    failed = fields.Integer()
    imported_by_id = fields.Integer()
    imported_at = fields.DateTime()


class ReturnResultOut(Schema):
    return_import = fields.Nested(ReturnImportOut, attribute="record")
    replayed = fields.Boolean(
        metadata={"description": "True when this file had been imported before: nothing changed."}
    )
    run = fields.Nested(PayoutRunDetailOut)


class LineOutcomeIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["paid", "failed"]))
    failure_reason = fields.String(load_default=None, validate=validate.Length(max=200))
