"""The bank's side of an approved run: the batch files, and the answers that settle its lines.

The files carry full ID and card numbers, so only the approving official and admins may fetch
them, and each fetch is recorded. A return file is applied whole or not at all, once: the same
file again (by SHA-256) changes nothing, and a row naming a line already settled is ignored.
"""

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from marketplace import pii
from marketplace.accounts.auth import Actor
from marketplace.clock import shanghai_today
from marketplace.db import utcnow
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.households.models import Household
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import EntryKind, LedgerAccount
from marketplace.payouts import bank_files, bank_txt
from marketplace.payouts.models import (
    FileDownload,
    LineStatus,
    PayeeKind,
    PayoutLine,
    PayoutRun,
    ReturnImport,
    RunStatus,
)
from marketplace.payouts.service import get_run
from marketplace.reasons import Message, reason
from marketplace.regions.models import Region

YIKATONG = "yikatong.xlsx"
BANK_TXT = "bank.txt"
FILE_FORMATS = (YIKATONG, BANK_TXT)
#: the bank's 备注 field is short; the project name is cut to fit
_BANK_MEMO_LENGTH = 30

FILES_FOR_APPROVER = reason(
    "payout_run.files_for_approver",
    "Only the approving official and admins may download the files.",
)
NOT_APPROVED = reason(
    "payout_run.not_approved", "Payout run {run_id} is {status}; approve it first."
)
BANK_TXT_CANNOT_CARRY = reason(
    "payout_run.bank_txt_cannot_carry",
    "The bank's text format cannot carry this run; use the one-card spreadsheet.",
)
IMPORTED_FOR_OTHER_RUN = reason(
    "payout_return.imported_for_other_run",
    "This file was already imported for payout run {run_id}.",
)
NOTHING_SENT = reason(
    "payout_run.nothing_sent", "Payout run {run_id} is {status}; nothing was sent yet."
)
RETURN_UNREADABLE = reason("payout_return.unreadable", "The return file cannot be read.")
RETURN_NOT_THE_BATCH = reason(
    "payout_return.not_the_batch_sent", "The return file does not match the batch sent."
)
OTHER_BATCH_SERIAL = reason("payout_return.other_batch_serial", "is not this run's batch serial")
MATCHES_NO_LINE = reason(
    "payout_return.matches_no_line", "matches no line of this run on 身份证号 and 银行卡号"
)
#: amounts as the file writes them, in yuan with two decimals
AMOUNT_DIFFERS = reason(
    "payout_return.amount_differs", "is {amount_yuan} yuan; line {line_id} sent {sent_yuan} yuan"
)
ANSWERED_TWICE = reason("payout_return.line_answered_twice", "answers line {line_id} a second time")
NOT_A_LINE_OF_RUN = reason("payout_line.not_in_run", "is not a line of payout run {run_id}")
SETTLED_BY_BANK = reason(
    "payout_line.settled_by_bank",
    "Lines sent in the bank's batch (households', and producers' with a payout account) are "
    "settled by the bank's return file.",
)
MATCHES_NO_PRODUCER_LINE = reason(
    "payout_return.matches_no_producer_line",
    "matches no producer line of this run on 统一社会信用代码 and 收款人账号",
)
#: How a workbook (the one-card return) begins: a zip file.
XLSX_MAGIC = b"PK"
ALREADY_SETTLED = reason("payout_line.already_settled", "Line {line_id} is already {status}.")


@dataclass(frozen=True)
class ReturnResult:
    run: PayoutRun
    record: ReturnImport
    #: True when this exact file had been imported before and nothing was done now
    replayed: bool


# --- downloads -------------------------------------------------------------------------------


def _household_places(session, household_ids) -> dict[int, tuple[str, str, str]]:
    """household id -> (county, township, address) for the one-card columns, one statement."""
    village, township, county = aliased(Region), aliased(Region), aliased(Region)
    rows = session.execute(
        sa.select(Household.id, county.name, township.name, Household.address, village.name)
        .join(village, village.id == Household.village_id)
        .join(township, township.id == village.parent_id)
        .join(county, county.id == township.parent_id)
        .where(Household.id.in_(household_ids))
    ).all()
    return {row[0]: (row[1], row[2], row[3] or row[4]) for row in rows}


def batch_file(
    session, actor: Actor, run_id: int, file_format: str, *, remote_addr: str | None
) -> bytes:
    """The approved run's household lines in ``file_format``; the download is audited."""
    run = get_run(session, actor, run_id)
    if not (actor.is_admin or actor.user_id == run.approved_by_id):
        raise PermissionDenied(FILES_FOR_APPROVER())
    if run.status not in (RunStatus.approved, RunStatus.settled):
        raise Conflict(NOT_APPROVED(run_id=run.id, status=run.status.value))
    households = [line for line in run.lines if line.payee_kind is PayeeKind.household]
    cipher = pii.cipher()
    if file_format == YIKATONG:
        lines = households
        places = _household_places(session, [line.household_id for line in lines])
        content = bank_files.write_yikatong(
            [
                bank_files.DisbursementRow(
                    name=line.holder_name,
                    phone=line.phone,
                    id_number=cipher.decrypt(line.holder_id_encrypted),
                    card_number=cipher.decrypt(line.card_encrypted),
                    project_name=run.project_name,
                    amount_fen=line.amount_fen,
                    county=places[line.household_id][0],
                    township=places[line.household_id][1],
                    address=places[line.household_id][2],
                    batch_serial=run.batch_serial,
                )
                for line in lines
            ]
        )
    else:
        # The bank's batch pays organisations' accounts beside the households' cards.
        lines = [line for line in run.lines if line.card_encrypted is not None]
        memo = run.project_name[:_BANK_MEMO_LENGTH].rstrip()
        try:
            content = bank_txt.write_bank_txt(
                [
                    bank_txt.BankTransfer(
                        account_number=cipher.decrypt(line.card_encrypted),
                        payee_name=line.holder_name,
                        amount_fen=line.amount_fen,
                        memo=memo,
                    )
                    for line in lines
                ]
            )
        except bank_files.BankFileError as error:
            raise Conflict(BANK_TXT_CANNOT_CARRY(), errors=error.errors) from None
    session.add(
        FileDownload(
            run_id=run.id, user_id=actor.user_id, file_format=file_format, remote_addr=remote_addr
        )
    )
    session.flush()
    return content


# --- settling lines --------------------------------------------------------------------------


def _settle(
    line: PayoutLine, account_key: str, outcome: str, reason: str | None, actor: Actor, today
) -> Entry:
    """Mark one in-transit line paid or failed; the ledger entry that goes with it."""
    line.settled_at = utcnow()
    if outcome == "paid":
        line.status = LineStatus.paid
        counter = Leg(journal.DISBURSED, -line.amount_fen)
        kind = EntryKind.payout_paid
    else:
        line.status = LineStatus.failed
        line.failure_reason = (reason or bank_files.RECEIPT_FAILURE)[:200]
        # The money is owed to the payee again; a later run proposes it once the card is fixed.
        counter = Leg(account_key, -line.amount_fen, household_id=line.household_id)
        kind = EntryKind.payout_returned
    return Entry(
        kind=kind,
        effective_on=today,
        memo=f"payout line {line.id}: {line.failure_reason or 'paid'}",
        created_by_id=actor.user_id,
        payout_line_id=line.id,
        legs=[Leg(journal.PAYOUTS_IN_TRANSIT, line.amount_fen), counter],
    )


def _account_keys(session, lines) -> dict[int, str]:
    return dict(
        session.execute(
            sa.select(LedgerAccount.id, LedgerAccount.key).where(
                LedgerAccount.id.in_({line.account_id for line in lines})
            )
        ).all()
    )


def _finish_if_settled(run: PayoutRun) -> None:
    if all(line.status in (LineStatus.paid, LineStatus.failed) for line in run.lines):
        run.status = RunStatus.settled


def import_return(session, actor: Actor, run_id: int, content: bytes) -> ReturnResult:
    """Apply the bank's return file: 成功 pays a line, 失败 re-credits the household."""
    run = get_run(session, actor, run_id, for_update=True)
    digest = hashlib.sha256(content).hexdigest()
    earlier = session.execute(
        sa.select(ReturnImport).where(ReturnImport.file_sha256 == digest)
    ).scalar_one_or_none()
    if earlier is not None:
        if earlier.run_id != run.id:
            raise Conflict(IMPORTED_FOR_OTHER_RUN(run_id=earlier.run_id))
        return ReturnResult(run, earlier, replayed=True)
    if run.status not in (RunStatus.approved, RunStatus.settled):
        raise Conflict(NOTHING_SENT(run_id=run.id, status=run.status.value))
    try:
        if content[:2] == XLSX_MAGIC:
            answers = _answers(run, bank_files.read_yikatong_return(content))
        else:
            answers = _org_answers(run, bank_txt.read_org_return(content))
    except bank_files.BankFileError as error:
        raise ValidationFailed(error.errors, detail=RETURN_UNREADABLE()) from None

    # Lines already settled by an earlier file keep their first answer.
    fresh = [(line, row) for line, row in answers if line.status is LineStatus.in_transit]
    keys = _account_keys(session, [line for line, _ in fresh])
    today = shanghai_today()
    journal.write_entries(
        session,
        [
            _settle(line, keys[line.account_id], row.outcome, row.failure_reason, actor, today)
            for line, row in fresh
        ],
    )
    record = ReturnImport(
        run_id=run.id,
        file_sha256=digest,
        succeeded=sum(1 for _, row in fresh if row.outcome == "paid"),
        failed=sum(1 for _, row in fresh if row.outcome == "failed"),
        imported_by_id=actor.user_id,
    )
    session.add(record)
    _finish_if_settled(run)
    session.flush()
    return ReturnResult(run, record, replayed=False)


def _answers(
    run: PayoutRun, rows: list[bank_files.ReturnRow]
) -> list[tuple[PayoutLine, bank_files.ReturnRow]]:
    """Each answered row of the one-card return with the line it answers, matched on ID and
    card number; a 422 naming every row that does not match what was sent."""
    cipher = pii.cipher()
    sent = {
        (cipher.decrypt(line.holder_id_encrypted), cipher.decrypt(line.card_encrypted)): line
        for line in run.lines
        if line.payee_kind is PayeeKind.household
    }
    keys = [(row.id_number, row.card_number) for row in rows]
    return _matched(run, rows, keys, sent, MATCHES_NO_LINE(), "发放金额")


def _org_answers(run: PayoutRun, rows: list[bank_txt.OrgReturnRow]) -> list:
    """Each answered row of the return for organisations' accounts with the line it answers,
    matched on credit code and account number; a 422 naming every row that does not match."""
    cipher = pii.cipher()
    sent = {
        (line.credit_code, cipher.decrypt(line.card_encrypted)): line
        for line in run.lines
        if line.payee_kind is PayeeKind.producer and line.card_encrypted is not None
    }
    keys = [(row.credit_code, row.account_number) for row in rows]
    return _matched(run, rows, keys, sent, MATCHES_NO_PRODUCER_LINE(), "出款金额")


def _matched(run: PayoutRun, rows, keys, sent: dict, no_line: Message, amount_column: str) -> list:
    """The rows (each found in ``sent`` by its key in ``keys``) that answer a line of the run,
    with their line; every row of another batch, of no line, of another amount or answering a
    line twice is named, and then nothing is applied."""
    errors: dict[str, list[Message]] = {}
    answers: dict[int, tuple] = {}
    for row, key in zip(rows, keys, strict=True):
        place = f"rows.{row.row_number}"
        line = sent.get(key)
        if row.batch_serial != run.batch_serial:
            errors[f"{place}.流水号"] = [OTHER_BATCH_SERIAL()]
        elif line is None:
            errors[place] = [no_line]
        elif row.amount_fen != line.amount_fen:
            errors[f"{place}.{amount_column}"] = [
                AMOUNT_DIFFERS(
                    amount_yuan=str(bank_files.fen_to_yuan(row.amount_fen)),
                    line_id=line.id,
                    sent_yuan=str(bank_files.fen_to_yuan(line.amount_fen)),
                )
            ]
        elif line.id in answers:
            errors[place] = [ANSWERED_TWICE(line_id=line.id)]
        elif row.outcome is not None:
            answers[line.id] = (line, row)
    if errors:
        raise ValidationFailed(errors, detail=RETURN_NOT_THE_BATCH())
    return list(answers.values())


def record_line_outcome(
    session, actor: Actor, run_id: int, line_id: int, outcome: str, reason: str | None
) -> PayoutRun:
    """Settle a producer's line, paid by transfer outside the one-card file. Recording the
    same outcome again changes nothing; a different one is a conflict."""
    run = get_run(session, actor, run_id, for_update=True)
    line = next((line for line in run.lines if line.id == line_id), None)
    if line is None:
        raise ValidationFailed({"line_id": [NOT_A_LINE_OF_RUN(run_id=run.id)]})
    if line.payee_kind is PayeeKind.household or line.card_encrypted is not None:
        # Sent in the bank's batch: its return settles it.
        raise Conflict(SETTLED_BY_BANK())
    settled = {LineStatus.paid: "paid", LineStatus.failed: "failed"}
    if line.status in settled:
        if settled[line.status] == outcome:
            return run
        raise Conflict(ALREADY_SETTLED(line_id=line.id, status=line.status.value))
    if line.status is not LineStatus.in_transit:
        raise Conflict(NOT_APPROVED(run_id=run.id, status=run.status.value))
    key = _account_keys(session, [line])[line.account_id]
    journal.write_entries(session, [_settle(line, key, outcome, reason, actor, shanghai_today())])
    _finish_if_settled(run)
    session.flush()
    return run
