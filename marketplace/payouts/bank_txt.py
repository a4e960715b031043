"""The bank's batch-payment text file (代发, the same rural bank as the one-card file), GBK, CRLF
line ends::

    序号,收款人账号,收款人姓名,出款金额,备注
    1,9999001000000000011,王桂芬,1236.40,货款
    ...
    总额：4424.00

Amounts carry exactly two decimals; the last line (full-width colon, no line end after it)
states the sum, which the bank checks against the rows. Like ``bank_files``, pure functions
from rows to bytes and back.
"""

from dataclasses import dataclass

from marketplace import bank_text
from marketplace.payouts.bank_files import (
    BAD_ROWS,
    UNREADABLE,
    BadValue,
    BankFileError,
    fen_to_yuan,
    yuan_to_fen,
)
from marketplace.reasons import Message, reason

BANK_TXT_ENCODING = "gbk"
BANK_TXT_HEADER = "序号,收款人账号,收款人姓名,出款金额,备注"
BANK_TXT_TOTAL = "总额："

UNWRITABLE = reason("bank_file.unwritable", "The bank file cannot be written.")
NOT_GBK = reason("bank_file.not_gbk", "is not GBK text")
NOT_THE_HEADER = reason("bank_file.not_the_header", f"must be the header {BANK_TXT_HEADER}")
NOT_THE_RETURN_HEADER = reason(
    "bank_file.not_the_org_return_header",
    "must be the header 流水号,统一社会信用代码,收款人账号,收款人名称,出款金额,处理结果,失败原因",
)
NO_TOTAL_LINE = reason("bank_file.no_total_line", "must be the closing total line")
BAD_TRANSFER_LINE = reason("bank_file.bad_transfer_line", f"must be {BANK_TXT_HEADER}")
TOTAL_NOT_SUM = reason("bank_file.total_not_sum", "does not equal the sum of the rows")


@dataclass(frozen=True)
class BankTransfer:
    account_number: str
    payee_name: str
    amount_fen: int
    memo: str


def write_bank_txt(transfers: list[BankTransfer]) -> bytes:
    """The 代发 batch: GBK, CRLF, a numbered row per transfer and the closing total. A field
    the format cannot carry as it is (a comma or a line break: there is no quoting; a
    character GBK lacks) refuses the file, naming the row and field: a value is never changed
    on its way to the bank. (Names are refused at registration already, by the same rule:
    ``marketplace.bank_text``.)"""
    lines = [BANK_TXT_HEADER]
    errors: dict[str, list[Message]] = {}
    for number, transfer in enumerate(transfers, start=1):
        fields = {
            "收款人账号": transfer.account_number,
            "收款人姓名": transfer.payee_name,
            "备注": transfer.memo,
        }
        for name, value in fields.items():
            problem: Message | None = bank_text.problem_with(value)
            if problem is not None:
                errors[f"rows.{number}.{name}"] = [problem]
        lines.append(
            f"{number},{transfer.account_number},{transfer.payee_name},"
            f"{fen_to_yuan(transfer.amount_fen)},{transfer.memo}"
        )
    if errors:
        raise BankFileError(UNWRITABLE(), errors=errors)
    total = sum(transfer.amount_fen for transfer in transfers)
    lines.append(f"{BANK_TXT_TOTAL}{fen_to_yuan(total)}")
    return "\r\n".join(lines).encode(BANK_TXT_ENCODING)


def read_bank_txt(data: bytes) -> list[BankTransfer]:
    """Parse a 代发 batch and check its closing total against its rows."""
    try:
        text = data.decode(BANK_TXT_ENCODING)
    except UnicodeDecodeError:
        raise BankFileError(UNREADABLE(), errors={"file": [NOT_GBK()]}) from None
    lines = text.split("\r\n")
    if lines[0] != BANK_TXT_HEADER:
        raise BankFileError(UNREADABLE(), errors={"rows.0": [NOT_THE_HEADER()]})
    if not lines[-1].startswith(BANK_TXT_TOTAL):
        raise BankFileError(UNREADABLE(), errors={f"rows.{len(lines) - 1}": [NO_TOTAL_LINE()]})
    errors: dict[str, list[Message]] = {}
    transfers = []
    for index, line in enumerate(lines[1:-1], start=1):
        parts = line.split(",")
        if len(parts) != 5 or parts[0] != str(index):
            errors[f"rows.{index}"] = [BAD_TRANSFER_LINE()]
            continue
        try:
            amount = yuan_to_fen(parts[3])
        except BadValue as error:
            errors[f"rows.{index}.出款金额"] = [error.reason]
            continue
        transfers.append(BankTransfer(parts[1], parts[2], amount, parts[4]))
    try:
        stated = yuan_to_fen(lines[-1].removeprefix(BANK_TXT_TOTAL))
    except BadValue as error:
        errors["total"] = [error.reason]
    else:
        if not errors and stated != sum(t.amount_fen for t in transfers):
            errors["total"] = [TOTAL_NOT_SUM()]
    if errors:
        raise BankFileError(BAD_ROWS(), errors=errors)
    return transfers


# --- the bank's return for organisations' accounts ----------------------------------------

#: The return for a batch's lines paid to organisations' accounts (co-operatives,
#: enterprises), which have no ID number to match on: GBK, CRLF, this header, a row per line
#: of the batch, in any order. 处理结果 is 成功 or 失败, or empty while the bank has not
#: answered the row; 失败原因 says why a row failed. A row is matched to its line on
#: 统一社会信用代码 and 收款人账号, within the batch 流水号 names.
ORG_RETURN_HEADER = "流水号,统一社会信用代码,收款人账号,收款人名称,出款金额,处理结果,失败原因"
ORG_RESULTS = {"成功": "paid", "失败": "failed", "": None}

BAD_ORG_RETURN_LINE = reason("bank_file.bad_org_return_line", f"must be {ORG_RETURN_HEADER}")
BAD_ORG_RESULT = reason("bank_file.bad_org_result", "must be 成功 or 失败, or empty")


@dataclass(frozen=True)
class OrgReturnRow:
    row_number: int
    batch_serial: str
    credit_code: str
    account_number: str
    payee_name: str
    amount_fen: int
    outcome: str | None
    failure_reason: str | None


def read_org_return(data: bytes) -> list[OrgReturnRow]:
    """Parse the bank's return for organisations' accounts; BankFileError names every bad
    row, so a file is applied whole or not at all."""
    try:
        text = data.decode(BANK_TXT_ENCODING)
    except UnicodeDecodeError:
        raise BankFileError(UNREADABLE(), errors={"file": [NOT_GBK()]}) from None
    lines = [line for line in text.split("\r\n") if line.strip()]
    if not lines or lines[0].strip() != ORG_RETURN_HEADER:
        raise BankFileError(UNREADABLE(), errors={"rows.0": [NOT_THE_RETURN_HEADER()]})
    errors: dict[str, list[Message]] = {}
    rows = []
    for number, line in enumerate(lines[1:], start=1):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 7 or not all(parts[:5]):
            errors[f"rows.{number}"] = [BAD_ORG_RETURN_LINE()]
            continue
        serial, credit_code, account, name, amount, result, why = parts
        if result not in ORG_RESULTS:
            errors[f"rows.{number}.处理结果"] = [BAD_ORG_RESULT()]
            continue
        try:
            amount_fen = yuan_to_fen(amount)
        except BadValue as error:
            errors[f"rows.{number}.出款金额"] = [error.reason]
            continue
        rows.append(
            OrgReturnRow(
                number,
                serial,
                credit_code,
                account,
                name,
                amount_fen,
                ORG_RESULTS[result],
                why or None,
            )
        )
    if errors:
        raise BankFileError(BAD_ROWS(), errors=errors)
    return rows
