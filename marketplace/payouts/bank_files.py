"""The files exchanged with the bank: the only interfaces through which households are paid.

Households and co-operatives are paid through the county's rural bank (Stripe cannot pay out to
mainland accounts), so these layouts are contracts. The one-card spreadsheet lives in this
module, the bank's batch-payment text file in ``bank_txt``, both as pure functions from rows to
bytes and back; nothing here touches the database. What cannot be read or written is a
``BankFileError`` naming each place and its reason.

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
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from io import BytesIO

from openpyxl import Workbook

from marketplace import spreadsheets
from marketplace.reasons import Message, reason

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

_TEXT = "@"
_YUAN = "0.00"
_CENT = Decimal("0.01")

# Why a file as a whole cannot be read or written (``BankFileError.detail``).
UNREADABLE = reason("bank_file.unreadable", "The bank file cannot be read.")
BAD_ROWS = reason("bank_file.bad_rows", "Some rows of the bank file cannot be read.")
# Why a place in it (the file, a row, a cell) is refused (``BankFileError.errors``).
NO_SHEET = reason("bank_file.no_sheet", f"has no sheet named {YIKATONG_SHEET}")
NO_COLUMN = reason("bank_file.no_column", "has no column {column}")
NUMBER_CELL = reason("bank_file.number_cell", "must be a text cell (a number cell loses digits)")
EMPTY_CELL = reason("bank_file.empty_cell", "is empty")
BAD_RECEIPT_STATUS = reason(
    "bank_file.bad_receipt_status", f"must be {RECEIPT_SUCCESS} or {RECEIPT_FAILURE}, or empty"
)
NOT_AN_AMOUNT = reason("bank_file.not_an_amount", "is not an amount")
NOT_A_NUMBER = reason("bank_file.not_a_number", "is not a number")
AMOUNT_OUT_OF_RANGE = reason("bank_file.amount_out_of_range", "is out of range")
FINER_THAN_FEN = reason("bank_file.more_than_two_decimals", "has more than two decimals")
AMOUNT_NOT_POSITIVE = reason("bank_file.amount_not_positive", "must be positive")


class BankFileError(ValueError):
    """A file or row that cannot be read or written: ``detail`` says so of the file, ``errors``
    maps each place to its reasons, like ``{"rows.3.发放金额": [...]}``, ready for a 422."""

    def __init__(self, detail: Message, *, errors: dict[str, list[Message]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.detail, self.errors = detail, errors


class BadValue(ValueError):
    """A value that cannot be read; ``reason`` says why (a ``Message``)."""

    def __init__(self, reason: Message):
        super().__init__(reason)
        self.reason = reason


# --- money -----------------------------------------------------------------------------------


def yuan_to_fen(value) -> int:
    """An amount in yuan (int, a spreadsheet float, Decimal or text) as exact integer fen.

    A float is read through its shortest repr (``1236.4`` -> ``Decimal("1236.4")``), so the value
    the spreadsheet shows is the value taken; anything finer than a fen is refused, never rounded.
    """
    if isinstance(value, bool) or value is None:
        raise BadValue(NOT_AN_AMOUNT())
    if isinstance(value, int):
        return value * 100
    try:
        amount = Decimal(str(value).strip()) if isinstance(value, float | str) else Decimal(value)
    except (InvalidOperation, TypeError):
        raise BadValue(NOT_A_NUMBER()) from None
    if not amount.is_finite():
        raise BadValue(NOT_A_NUMBER())
    try:
        exact = amount == amount.quantize(_CENT)
    except InvalidOperation:
        raise BadValue(AMOUNT_OUT_OF_RANGE()) from None
    if not exact:
        raise BadValue(FINER_THAN_FEN())
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
        # Text stays text, never a formula (a name beginning with "="), and digits stay text,
        # or Excel shows an ID number as 2.20581E+17 and drops its last digits.
        for cell in cells:
            spreadsheets.text_cell(cell)
        for index in (1, 2, 3, 9):
            cells[index].number_format = _TEXT
        cells[5].number_format = _YUAN
    widths = (10, 14, 22, 24, 50, 12, 12, 12, 20, 40, 10)
    for letter, width in zip("ABCDEFGHIJK", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        # A number cell holding an ID or card number has already lost digits in Excel.
        raise BadValue(NUMBER_CELL())
    text = str(value).strip()
    return text or None


#: The columns a one-card sheet is read to: ours has eleven, a county's template a few more.
_COLUMNS_READ = 32


def _read_rows(data: bytes, required: tuple[str, ...]):
    """Rows of the sheet as ``(row_number, {column: value})``, columns found by header name.
    The file is read safely (``spreadsheets.read_sheet``): whatever is wrong with it, at any
    row, is a BankFileError naming the file."""
    try:
        yield from _named_rows(
            spreadsheets.read_sheet(data, prefer=YIKATONG_SHEET, columns=_COLUMNS_READ), required
        )
    except spreadsheets.BadSpreadsheet as error:
        raise BankFileError(UNREADABLE(), errors={"file": [error.reason]}) from None
    except LookupError:
        raise BankFileError(UNREADABLE(), errors={"file": [NO_SHEET()]}) from None


def _named_rows(rows, required: tuple[str, ...]):
    header = next(rows, None)
    names = [str(cell).strip() if cell is not None else "" for cell in header or ()]
    missing = [column for column in required if column not in names]
    if missing:
        raise BankFileError(
            UNREADABLE(), errors={"file": [NO_COLUMN(column=column) for column in missing]}
        )
    columns = [(name, index) for index, name in enumerate(names) if name]
    for number, values in enumerate(rows, start=2):
        if all(value is None or str(value).strip() == "" for value in values):
            continue
        yield number, {name: values[i] if i < len(values) else None for name, i in columns}


def _cells(number: int, cells: dict, errors: dict) -> dict | None:
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
        except BadValue as error:
            errors[f"rows.{number}.{column}"] = [error.reason]
    for column, key in (("姓名", "name"), ("身份证号", "id_number"), ("银行卡号", "card_number")):
        if parsed.get(key) is None and f"rows.{number}.{column}" not in errors:
            errors[f"rows.{number}.{column}"] = [EMPTY_CELL()]
    if parsed.get("id_number"):
        parsed["id_number"] = parsed["id_number"].upper()
    if parsed.get("card_number"):
        parsed["card_number"] = "".join(parsed["card_number"].split())
    try:
        parsed["amount_fen"] = yuan_to_fen(cells.get("发放金额"))
        if parsed["amount_fen"] <= 0:
            raise BadValue(AMOUNT_NOT_POSITIVE())
    except BadValue as error:
        errors[f"rows.{number}.发放金额"] = [error.reason]
    if any(key.startswith(f"rows.{number}.") for key in errors):
        return None
    return parsed


def read_yikatong(data: bytes) -> list[DisbursementRow]:
    """A disbursement batch (ours, or one made by hand in the county's template)."""
    errors: dict[str, list[Message]] = {}
    found = []
    for number, cells in _read_rows(data, YIKATONG_COLUMNS[:10]):
        parsed = _cells(number, cells, errors)
        if parsed is not None:
            found.append(DisbursementRow(**parsed))
    if errors:
        raise BankFileError(BAD_ROWS(), errors=errors)
    return found


def read_yikatong_return(data: bytes) -> list[ReturnRow]:
    """The bank's answer to a batch: each row with its outcome. Raises BankFileError naming
    every bad row, so a file is applied whole or not at all."""
    errors: dict[str, list[Message]] = {}
    found = []
    outcomes = {RECEIPT_SUCCESS: "paid", RECEIPT_FAILURE: "failed", None: None}
    for number, cells in _read_rows(data, RETURN_REQUIRED):
        parsed = _cells(number, cells, errors)
        try:
            status = _text(cells.get("回执状态"))
            failure_reason = _text(cells.get(FAILURE_REASON_COLUMN))
        except BadValue as error:
            errors[f"rows.{number}.回执状态"] = [error.reason]
            continue
        if status not in outcomes:
            errors[f"rows.{number}.回执状态"] = [BAD_RECEIPT_STATUS()]
            continue
        if parsed is None:
            continue
        if parsed["batch_serial"] is None:
            errors[f"rows.{number}.流水号"] = [EMPTY_CELL()]
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
                failure_reason=failure_reason,
            )
        )
    if errors:
        raise BankFileError(BAD_ROWS(), errors=errors)
    return found
