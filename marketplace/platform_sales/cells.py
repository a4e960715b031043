"""The traps of the files as stations download them, read once for every platform.

Files come as UTF-8 (with a BOM or not) or as GBK/GB18030; ids are prefixed with a tab, or
written ``="…"``, or prefixed with ``'`` so that spreadsheets keep them as text; amounts carry
``¥``/``￥`` or ``元``; ``-`` means empty; some header names keep trailing spaces. Every cell is
read as text, amounts become fen exactly (through Decimal, never a float), times are the
platform's local time (Asia/Shanghai). Rows are read one at a time, so a file of any size is
read in flat memory. A cell that cannot be read raises ``BadCell``, a file that cannot be read
``FileProblem``, each with its declared reason.
"""

import codecs
import csv
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation

from marketplace.clock import SHANGHAI
from marketplace.numbers import MAX_FEN
from marketplace.platform_sales.rows import FileProblem
from marketplace.reasons import Message, reason

# Why a cell cannot be read: the cell is quoted (``{cell!r}``), cut short (``cut``).
CELL_MISSING = reason("platform_cell.missing", "missing")
NOT_YUAN = reason("platform_cell.not_yuan", "not an amount of yuan: {cell!r}")
BEYOND_ANY_ORDER = reason("platform_cell.beyond_any_order", "beyond any order: {cell!r}")
NEGATIVE_AMOUNT = reason("platform_cell.negative_amount", "negative: {cell!r}")
FINER_THAN_FEN = reason("platform_cell.more_than_two_decimals", "more than two decimals: {cell!r}")
NOT_A_SALES_YEAR = reason("platform_cell.not_a_sales_year", "not a year of sales: {cell!r}")
NOT_A_TIME = reason("platform_cell.not_a_time", "not a date and time: {cell!r}")
NOT_A_WHOLE_NUMBER = reason("platform_cell.not_a_whole_number", "not a whole number: {cell!r}")
QUANTITY_OUT_OF_RANGE = reason("platform_cell.quantity_out_of_range", "out of range: {cell}")
# Why a file cannot be read at all.
UNKNOWN_ENCODING = reason(
    "platform_file.unknown_encoding",
    "neither UTF-8 nor GBK/GB18030: export the file again as CSV",
)
MIXED_ENCODINGS = reason(
    "platform_file.mixed_encodings", "line {line}: not {encoding} text; the file mixes encodings"
)
EMPTY_FILE = reason("platform_file.empty", "the file is empty")
NOT_CSV = reason("platform_file.not_csv", "not a CSV file: {error}")
MISSING_COLUMNS = reason(
    "platform_file.missing_columns",
    "the header lacks the column(s) {columns}: is this the right platform's export?",
)
BAD_CSV_LINE = reason("platform_file.bad_csv_line", "line {line}: {error}")


class BadCell(ValueError):
    """A cell that cannot be read; ``reason`` says why (a declared reason's ``Message``)."""

    def __init__(self, reason: Message):
        super().__init__(reason)
        self.reason = reason


_SPREADSHEET_TEXT = re.compile(r'^="(.*)"$')
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_MONEY = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def clean(cell: str | None) -> str | None:
    """A cell as text: the spreadsheet tricks removed, None when empty or ``-``."""
    if cell is None:
        return None
    if (
        cell
        and cell != "-"
        and cell[0] not in "'="
        and not cell[0].isspace()
        and not cell[-1].isspace()
    ):
        # Most cells need nothing done (a row's every cell is cleaned for its fingerprint).
        return cell
    # A failed rows file marks a cell as text with a quote (``spreadsheets.csv_text``), so
    # Taobao's ="…" id comes back as '="…": the quote is taken off before the wrapping.
    text = cell.strip().removeprefix("'").strip()
    quoted = _SPREADSHEET_TEXT.match(text)
    if quoted:
        text = quoted.group(1)
    if text.startswith("'"):
        text = text[1:]
    text = text.strip()
    return None if text in ("", "-") else text


def fen(text: str | None) -> int:
    """Yuan with at most two decimals, as fen exactly. BadCell says what is wrong."""
    if text is None:
        raise BadCell(CELL_MISSING())
    amount = text.replace("¥", "").replace("￥", "").replace("元", "").replace(",", "").strip()
    if not _MONEY.match(amount):
        raise BadCell(NOT_YUAN(cell=cut(text)))
    if len(amount.split(".")[0].lstrip("-")) > 12:
        raise BadCell(BEYOND_ANY_ORDER(cell=cut(text)))
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise BadCell(NOT_YUAN(cell=cut(text))) from None
    if value < 0:
        raise BadCell(NEGATIVE_AMOUNT(cell=cut(text)))
    if value != value.quantize(Decimal("0.01")):
        raise BadCell(FINER_THAN_FEN(cell=cut(text)))
    result = int(value * 100)
    if result > MAX_FEN:
        raise BadCell(BEYOND_ANY_ORDER(cell=cut(text)))
    return result


#: The years an export's times may fall in: anything else is a typing error, not a sale.
_YEARS = range(2000, 2100)


def local_time(text: str | None) -> datetime:
    if text is None:
        raise BadCell(CELL_MISSING())
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            moment = datetime.strptime(text, pattern).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
        if moment.year not in _YEARS:
            raise BadCell(NOT_A_SALES_YEAR(cell=cut(text)))
        return moment
    raise BadCell(NOT_A_TIME(cell=cut(text)))


def cut(text: str, limit: int = 40) -> str:
    """A cell as a problem quotes it, cut short: a problem names the cell, it does not copy it."""
    return text if len(text) <= limit else text[:limit] + "…"


def whole_number(text: str | None) -> int:
    if text is None or not text.isdigit():
        raise BadCell(NOT_A_WHOLE_NUMBER(cell=text))
    try:
        value = int(text)
    except ValueError:  # digits int() does not read, like ²
        raise BadCell(NOT_A_WHOLE_NUMBER(cell=text)) from None
    if not 1 <= value <= 1_000_000:
        raise BadCell(QUANTITY_OUT_OF_RANGE(cell=text))
    return value


# --- files ------------------------------------------------------------------------------------


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GBK/GB18030"}


def text_lines(stream, *, chunk: int = 1 << 16) -> Iterator[str]:
    """The stream's text, decoded as UTF-8 (BOM or not) or else GB18030, read incrementally.
    An encoding that fails later in the file is a FileProblem naming the line."""
    head = stream.read(chunk)
    encoding = None
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            # The head may end inside a character: a failure only in its last bytes is not one.
            codecs.getincrementaldecoder(candidate)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        encoding = candidate
        break
    if encoding is None:
        raise FileProblem(UNKNOWN_ENCODING())
    decoder = codecs.getincrementaldecoder(encoding)()
    pending, number, data = "", 0, head
    while True:
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            # A line feed is the same byte in both encodings: count them up to the fault.
            line = number + pending.count("\n") + data[: error.start].count(b"\n") + 1
            raise FileProblem(
                MIXED_ENCODINGS(line=line, encoding=_ENCODING_NAMES[encoding])
            ) from None
        pending += text
        *complete, pending = pending.split("\n")
        for line in complete:
            number += 1
            yield line + "\n"
        if not data:
            break
        data = stream.read(chunk)
    if pending:
        yield pending


def records(stream, required=(), *, field: str = "file") -> Iterator[tuple[int, dict]]:
    """(line number, {trimmed header: raw cell}) for each row after the header. A header
    without the ``required`` columns is a FileProblem naming them."""
    reader = csv.reader(text_lines(stream))
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem(EMPTY_FILE(), field=field) from None
    except csv.Error as error:
        raise FileProblem(NOT_CSV(error=str(error)), field=field) from None
    names = [name.strip() for name in header]
    missing = [name for name in required if name not in names]
    if missing:
        raise FileProblem(MISSING_COLUMNS(columns=", ".join(missing)), field=field)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem(
                BAD_CSV_LINE(line=reader.line_num, error=str(error)), field=field
            ) from None
        if not any(cell.strip() for cell in cells):
            continue
        yield reader.line_num, dict(zip(names, cells, strict=False))


def count_records(stream) -> int | None:
    """How many rows ``records`` would yield (the non-blank rows after the header), or None
    when the file cannot be read to its end (its import says where)."""
    try:
        reader = csv.reader(text_lines(stream))
        next(reader, None)
        return sum(1 for cells in reader if any(cell.strip() for cell in cells))
    except (FileProblem, csv.Error):
        return None
