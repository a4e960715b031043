"""The files exchanged with the bank: the only interfaces through which households are paid.

Households and co-operatives are paid through the county's rural bank (Stripe cannot pay out to
mainland accounts), so these layouts are contracts. Every format lives in this module, as pure
functions from rows to bytes and back; nothing here touches the database.

Money crosses the boundary in yuan and is converted exactly: ``yuan_to_fen`` goes through
``Decimal(str(value))`` and refuses anything with more than two decimals, so a spreadsheet's
``1236.4`` is 123,640 fen and never 123,639.

One-card disbursement batch (惠民惠农财政补贴资金一卡通), xlsx, sheet ``导出``, one header row:

=============  ======================================================================
column         content
=============  ======================================================================
姓名           the card holder's name (the bank checks it against the account)
手机号          the household's phone, text
身份证号        the card holder's national ID number, in full, as a TEXT cell
银行卡号        the one-card account number, in full, as a TEXT cell
项目资金名称     the fund/project the money is paid under (the run's project name)
发放金额        the amount in yuan, a NUMBER cell formatted ``0.00`` (1236.4 = 1,236.40)
所属区县        the household's county
所属乡镇        the household's township
详细地址        the household's address (village and group)
流水号          the batch serial: one per file, matched again in the bank's return
回执状态        empty when sent
=============  ======================================================================

The bank's return (回执) is the same sheet with 回执状态 filled in (``成功`` or
``失败``) and one more column, 失败原因 (for example ``账户已销户`` or
``户名不符,账户名为[张铁*]``). Its rows are matched to what was sent on
身份证号 + 银行卡号 + 流水号. An empty 回执状态 means the bank has not answered that row yet.

Bank batch-payment text file (代发, same bank), GBK, CRLF line ends::

    序号,收款人账号,收款人姓名,出款金额,备注
    1,9999001000000000011,王桂芬,1236.40,货款
    ...
    总额：4424.00

Amounts carry exactly two decimals; the last line (full-width colon, no line end after it)
states the sum, which the bank checks against the rows.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from io import BytesIO
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

YIKATONG_SHEET = "导出"
YIKATONG_COLUMNS = (
    "姓名",
    "手机号",
    "身份证号",
    "银行卡号",
    "项目资金名称",
    "发放金额",
    "所属区县",
    "所属乡镇",
    "详细地址",
    "流水号",
    "回执状态",
)
FAILURE_REASON_COLUMN = "失败原因"
#: the columns a return must have to be matched and applied
RETURN_REQUIRED = ("姓名", "身份证号", "银行卡号", "发放金额", "流水号", "回执状态")
RECEIPT_SUCCESS = "成功"
RECEIPT_FAILURE = "失败"

BANK_TXT_ENCODING = "gbk"
BANK_TXT_HEADER = "序号,收款人账号,收款人姓名,出款金额,备注"
BANK_TXT_TOTAL = "总额："

_TEXT = "@"
_YUAN = "0.00"
_CENT = Decimal("0.01")


class BankFileError(ValueError):
    """A file or row that cannot be read or written; ``problems`` maps a place to messages,
    like ``{"rows.3.发放金额": ["..."]}``, ready for a 422 response."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in problems.items()))
        self.problems = problems


# --- money -----------------------------------------------------------------------------------


def yuan_to_fen(value) -> int:
    """An amount in yuan (int, a spreadsheet float, Decimal or text) as exact integer fen.

    A float is read through its shortest repr (``1236.4`` -> ``Decimal("1236.4")``), so the value
    the spreadsheet shows is the value taken; anything finer than a fen is refused, never rounded.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("is not an amount")
    if isinstance(value, int):
        return value * 100
    try:
        amount = Decimal(str(value).strip()) if isinstance(value, float | str) else Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError("is not a number") from None
    if not amount.is_finite():
        raise ValueError("is not a number")
    try:
        exact = amount == amount.quantize(_CENT)
    except InvalidOperation:
        raise ValueError("is out of range") from None
    if not exact:
        raise ValueError("has more than two decimals")
    return int(amount * 100)


def fen_to_yuan(fen: int) -> Decimal:
    """``123640`` -> ``Decimal("1236.40")``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fen is an integer")
    return (Decimal(fen) / 100).quantize(_CENT)


# --- the one-card spreadsheet ----------------------------------------------------------------


@dataclass(frozen=True)
class DisbursementRow:
    name: str
    phone: str | None
    id_number: str
    card_number: str
    project_name: str
    amount_fen: int
    county: str | None
    township: str | None
    address: str | None
    batch_serial: str


@dataclass(frozen=True)
class ReturnRow:
    #: the row's number in the sheet (the header is row 1), for error messages
    row_number: int
    name: str
    id_number: str
    card_number: str
    amount_fen: int
    batch_serial: str
    #: ``"paid"``, ``"failed"``, or None when the bank has not answered the row
    outcome: str | None
    failure_reason: str | None


def write_yikatong(rows: list[DisbursementRow]) -> bytes:
    """The disbursement batch as an xlsx workbook (see the module's table)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = YIKATONG_SHEET
    sheet.append(YIKATONG_COLUMNS)
    for row in rows:
        sheet.append(
            [
                row.name,
                row.phone,
                row.id_number,
                row.card_number,
                row.project_name,
                fen_to_yuan(row.amount_fen),
                row.county,
                row.township,
                row.address,
                row.batch_serial,
                None,
            ]
        )
        cells = sheet[sheet.max_row]
        # Digits stay text, or Excel shows an ID number as 2.20581E+17 and drops its last digits.
        for index in (1, 2, 3, 9):
            cells[index].number_format = _TEXT
        cells[5].number_format = _YUAN
    widths = (10, 14, 22, 24, 50, 12, 12, 12, 20, 40, 10)
    for letter, width in zip("ABCDEFGHIJK", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _open_sheet(data: bytes):
    try:
        workbook = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as error:
        problem = f"is not an xlsx workbook ({type(error).__name__})"
        raise BankFileError({"file": [problem]}) from None
    if YIKATONG_SHEET in workbook.sheetnames:
        return workbook[YIKATONG_SHEET]
    if len(workbook.sheetnames) == 1:
        return workbook.active
    raise BankFileError({"file": [f"has no sheet named {YIKATONG_SHEET}"]})


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        # A number cell holding an ID or card number has already lost digits in Excel.
        raise ValueError("must be a text cell (a number cell loses digits)")
    text = str(value).strip()
    return text or None


def _read_rows(data: bytes, required: tuple[str, ...]):
    """Rows of the sheet as ``(row_number, {column: value})``, columns found by header name."""
    sheet = _open_sheet(data)
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    names = [str(cell).strip() if cell is not None else "" for cell in header or ()]
    missing = [column for column in required if column not in names]
    if missing:
        raise BankFileError({"file": [f"has no column {column}" for column in missing]})
    columns = [(name, index) for index, name in enumerate(names) if name]
    for number, values in enumerate(rows, start=2):
        if all(value is None or str(value).strip() == "" for value in values):
            continue
        yield number, {name: values[i] if i < len(values) else None for name, i in columns}


def _cells(number: int, cells: dict, problems: dict) -> dict | None:
    """The common columns of a one-card row, parsed; problems are collected, not raised."""
    parsed = {}
    for column, key in (
        ("姓名", "name"),
        ("手机号", "phone"),
        ("身份证号", "id_number"),
        ("银行卡号", "card_number"),
        ("项目资金名称", "project_name"),
        ("所属区县", "county"),
        ("所属乡镇", "township"),
        ("详细地址", "address"),
        ("流水号", "batch_serial"),
    ):
        try:
            parsed[key] = _text(cells.get(column))
        except ValueError as error:
            problems[f"rows.{number}.{column}"] = [str(error)]
    for column, key in (("姓名", "name"), ("身份证号", "id_number"), ("银行卡号", "card_number")):
        if parsed.get(key) is None and f"rows.{number}.{column}" not in problems:
            problems[f"rows.{number}.{column}"] = ["is empty"]
    if parsed.get("id_number"):
        parsed["id_number"] = parsed["id_number"].upper()
    if parsed.get("card_number"):
        parsed["card_number"] = "".join(parsed["card_number"].split())
    try:
        parsed["amount_fen"] = yuan_to_fen(cells.get("发放金额"))
        if parsed["amount_fen"] <= 0:
            raise ValueError("must be positive")
    except ValueError as error:
        problems[f"rows.{number}.发放金额"] = [str(error)]
    if any(key.startswith(f"rows.{number}.") for key in problems):
        return None
    return parsed


def read_yikatong(data: bytes) -> list[DisbursementRow]:
    """A disbursement batch (ours, or one made by hand in the county's template)."""
    problems: dict[str, list[str]] = {}
    found = []
    for number, cells in _read_rows(data, YIKATONG_COLUMNS[:10]):
        parsed = _cells(number, cells, problems)
        if parsed is not None:
            found.append(DisbursementRow(**parsed))
    if problems:
        raise BankFileError(problems)
    return found


def read_yikatong_return(data: bytes) -> list[ReturnRow]:
    """The bank's answer to a batch: each row with its outcome. Raises BankFileError naming
    every bad row, so a file is applied whole or not at all."""
    problems: dict[str, list[str]] = {}
    found = []
    outcomes = {RECEIPT_SUCCESS: "paid", RECEIPT_FAILURE: "failed", None: None}
    for number, cells in _read_rows(data, RETURN_REQUIRED):
        parsed = _cells(number, cells, problems)
        try:
            status = _text(cells.get("回执状态"))
            reason = _text(cells.get(FAILURE_REASON_COLUMN))
        except ValueError as error:
            problems[f"rows.{number}.回执状态"] = [str(error)]
            continue
        if status not in outcomes:
            problems[f"rows.{number}.回执状态"] = [
                f"must be {RECEIPT_SUCCESS} or {RECEIPT_FAILURE}, or empty"
            ]
            continue
        if parsed is None:
            continue
        if parsed["batch_serial"] is None:
            problems[f"rows.{number}.流水号"] = ["is empty"]
            continue
        found.append(
            ReturnRow(
                row_number=number,
                name=parsed["name"],
                id_number=parsed["id_number"],
                card_number=parsed["card_number"],
                amount_fen=parsed["amount_fen"],
                batch_serial=parsed["batch_serial"],
                outcome=outcomes[status],
                failure_reason=reason,
            )
        )
    if problems:
        raise BankFileError(problems)
    return found


# --- the bank's batch-payment text file ------------------------------------------------------


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
    problems = {}
    encoded = []
    for index, line in enumerate(lines):
        try:
            encoded.append(line.encode(BANK_TXT_ENCODING))
        except UnicodeEncodeError:
            problems[f"rows.{index}"] = ["has a character the bank's GBK encoding cannot carry"]
    if problems:
        raise BankFileError(problems)
    return b"\r\n".join(encoded)


def read_bank_txt(data: bytes) -> list[BankTransfer]:
    """Parse a 代发 batch and check its closing total against its rows."""
    try:
        text = data.decode(BANK_TXT_ENCODING)
    except UnicodeDecodeError:
        raise BankFileError({"file": ["is not GBK text"]}) from None
    lines = text.split("\r\n")
    if lines[0] != BANK_TXT_HEADER:
        raise BankFileError({"rows.0": [f"must be the header {BANK_TXT_HEADER}"]})
    if not lines[-1].startswith(BANK_TXT_TOTAL):
        raise BankFileError({f"rows.{len(lines) - 1}": ["must be the closing total line"]})
    problems: dict[str, list[str]] = {}
    transfers = []
    for index, line in enumerate(lines[1:-1], start=1):
        parts = line.split(",")
        if len(parts) != 5 or parts[0] != str(index):
            problems[f"rows.{index}"] = ["must be 序号,收款人账号,收款人姓名,出款金额,备注"]
            continue
        try:
            amount = yuan_to_fen(parts[3])
        except ValueError as error:
            problems[f"rows.{index}.出款金额"] = [str(error)]
            continue
        transfers.append(BankTransfer(parts[1], parts[2], amount, parts[4]))
    try:
        stated = yuan_to_fen(lines[-1].removeprefix(BANK_TXT_TOTAL))
    except ValueError as error:
        problems["total"] = [str(error)]
    else:
        if not problems and stated != sum(t.amount_fen for t in transfers):
            problems["total"] = ["does not equal the sum of the rows"]
    if problems:
        raise BankFileError(problems)
    return transfers
