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
NOT_GBK_ENCODABLE = reason(
    "bank_file.not_gbk_encodable", "has a character the bank's GBK encoding cannot carry"
)
NOT_GBK = reason("bank_file.not_gbk", "is not GBK text")
NOT_THE_HEADER = reason("bank_file.not_the_header", f"must be the header {BANK_TXT_HEADER}")
NO_TOTAL_LINE = reason("bank_file.no_total_line", "must be the closing total line")
BAD_TRANSFER_LINE = reason("bank_file.bad_transfer_line", f"must be {BANK_TXT_HEADER}")
TOTAL_NOT_SUM = reason("bank_file.total_not_sum", "does not equal the sum of the rows")


@dataclass(frozen=True)
class BankTransfer:
    account_number: str
    payee_name: str
    amount_fen: int
    memo: str


def _field(value: str) -> str:
    # The format has no quoting: a comma or a line break inside a field would shift columns.
    return value.replace(",", "，").replace("\r", " ").replace("\n", " ").strip()


def write_bank_txt(transfers: list[BankTransfer]) -> bytes:
    """The 代发 batch: GBK, CRLF, a numbered row per transfer and the closing total."""
    lines = [BANK_TXT_HEADER]
    for number, transfer in enumerate(transfers, start=1):
        lines.append(
            f"{number},{_field(transfer.account_number)},{_field(transfer.payee_name)},"
            f"{fen_to_yuan(transfer.amount_fen)},{_field(transfer.memo)}"
        )
    total = sum(transfer.amount_fen for transfer in transfers)
    lines.append(f"{BANK_TXT_TOTAL}{fen_to_yuan(total)}")
    errors = {}
    encoded = []
    for index, line in enumerate(lines):
        try:
            encoded.append(line.encode(BANK_TXT_ENCODING))
        except UnicodeEncodeError:
            errors[f"rows.{index}"] = [NOT_GBK_ENCODABLE()]
    if errors:
        raise BankFileError(UNWRITABLE(), errors=errors)
    return b"\r\n".join(encoded)


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
