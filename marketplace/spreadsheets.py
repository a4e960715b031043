"""Spreadsheets in and out, safely: what users upload cannot sink a worker, and what we write
cannot be turned into a formula in the county's Excel.

**In.** An XLSX file is a zip of XML. Before anything is inflated, its directory is checked
against the limits below (how many parts, how large they say they inflate to, by what ratio),
so a zip bomb is refused from its first kilobytes. Its XML is parsed with entity expansion and
external entities off (defusedxml, which openpyxl uses once it is installed: a
billion-laughs sheet or one reaching for a local file is refused). Its rows are read inside the
error handling, never trusting the size the sheet declares, at most ``MAX_ROWS`` of them and
only the columns asked for. Whatever is wrong is a ``BadSpreadsheet`` carrying its reason,
which the caller answers as a 422 naming the file.

**Out.** A text cell never becomes a formula. In CSV, text beginning with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is prefixed with a single quote, as OWASP's CSV-injection
guidance says; in XLSX, text is a string cell whatever it begins with (openpyxl would otherwise
store ``=...`` as a formula). Numbers stay numbers, negative amounts included. A workbook of
a closed month is saved dated at its close (``save_workbook``), so it is the same bytes
whenever it is downloaded.

**Long numbers stay whole.** Excel reads a cell of digits as a number: past 11 digits it shows
1.23E+17, past 15 it loses the rest for good, and it drops leading zeros. A registry number, an
ID number, an order or a bank account number is text, not a quantity. In XLSX such a cell is a
string cell formatted as text (``@``), so even retyping it keeps it text. In CSV there is no
type, so a digit string Excel would mangle (more than 11 digits, or a leading zero) is written
with a tab after it: Excel then takes the cell as text and shows every digit. The usual
alternatives are worse here: ``="0123..."`` is a formula, the very thing the quote prefix keeps
out (and other programs read it literally); a tab *before* the digits is one of the characters
a formula-injection check must treat as a formula's start (and ours quote-prefixes it). A
trailing tab leaves the cell starting with a digit, which no spreadsheet runs; a program
reading the file takes it off with ``strip()``.
"""

import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import openpyxl.xml
from defusedxml.common import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.writer.excel import ExcelWriter

from marketplace.reasons import reason

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - a broken install, refused at start
    raise RuntimeError("openpyxl must parse uploads through defusedxml (pip install defusedxml)")

#: The most parts an upload's zip may hold (a workbook has a dozen or so).
MAX_PARTS = 256
#: What all its parts together may inflate to, as their headers declare it.
MAX_INFLATED_BYTES = 32 * 1024 * 1024
#: How much smaller than its inflated self a large part may be stored (XML of a real sheet
#: compresses ten- to twenty-fold; a zip bomb, a thousandfold).
MAX_RATIO = 100
#: Parts smaller than this inflated are not held to the ratio (styles compress very well).
RATIO_FREE_BYTES = 256 * 1024
#: The most rows a sheet is read to.
MAX_ROWS = 200_000

NOT_A_ZIP = reason("spreadsheet.not_xlsx", "not an XLSX workbook: save it again as .xlsx")
TOO_MANY_PARTS = reason(
    "spreadsheet.too_many_parts", "holds {parts} parts; a workbook holds at most {limit}"
)
INFLATES_TOO_MUCH = reason(
    "spreadsheet.inflates_too_much",
    "would inflate to {inflated} bytes; at most {limit} are read",
)
COMPRESSED_TOO_FAR = reason(
    "spreadsheet.compressed_too_far",
    "part {part} inflates {ratio} times its size; no real sheet does",
)
XML_REFUSED = reason(
    "spreadsheet.xml_refused",
    "holds XML entities or references outside the file, which are not read",
)
XML_BROKEN = reason("spreadsheet.xml_broken", "its sheet is not well-formed XML: {error}")
TOO_MANY_ROWS = reason("spreadsheet.too_many_rows", "more than {limit} rows")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Excel shows more digits than this as 1.23E+17 in its default format
EXCEL_WHOLE_DIGITS = 11
#: the number format Excel calls Text: what is typed into the cell stays text
TEXT_FORMAT = "@"


class BadSpreadsheet(ValueError):
    """An upload that is no spreadsheet we read; ``reason`` says why."""

    def __init__(self, why):
        super().__init__(why)
        self.reason = why


def check_xlsx(data: bytes) -> zipfile.ZipFile:
    """The upload's zip, once its directory is within the limits (nothing inflated yet)."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise BadSpreadsheet(NOT_A_ZIP()) from None
    if len(parts) > MAX_PARTS:
        raise BadSpreadsheet(TOO_MANY_PARTS(parts=len(parts), limit=MAX_PARTS))
    inflated = sum(part.file_size for part in parts)
    if inflated > MAX_INFLATED_BYTES:
        raise BadSpreadsheet(INFLATES_TOO_MUCH(inflated=inflated, limit=MAX_INFLATED_BYTES))
    for part in parts:
        if part.file_size > RATIO_FREE_BYTES:
            ratio = part.file_size // max(part.compress_size, 1)
            if ratio > MAX_RATIO:
                raise BadSpreadsheet(COMPRESSED_TOO_FAR(part=part.filename, ratio=ratio))
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise BadSpreadsheet(NOT_A_ZIP())
    return archive


def read_sheet(data: bytes, *, prefer: str | None = None, columns: int) -> Iterator[tuple]:
    """The rows of the workbook's sheet named ``prefer`` (else its only sheet), each a tuple
    of its first ``columns`` values; every fault of the file, at any row, a BadSpreadsheet.
    Raises ``LookupError`` when the workbook has several sheets and none named ``prefer``."""
    check_xlsx(data)
    try:
        workbook = load_workbook(BytesIO(data), read_only=True, data_only=True)
        if prefer in workbook.sheetnames:
            sheet = workbook[prefer]
        elif len(workbook.sheetnames) == 1:
            sheet = workbook.active
        else:
            raise LookupError(prefer)
        # The size a sheet declares is not read: a sheet declaring A1:XFD1048576 around one
        # cell would be padded out to seventeen billion empty ones.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(max_col=columns, values_only=True)):
            if number >= MAX_ROWS + 1:  # the header, then MAX_ROWS rows
                raise BadSpreadsheet(TOO_MANY_ROWS(limit=MAX_ROWS))
            yield row
    except BadSpreadsheet:
        raise
    except (
        DefusedXmlException,
        ParseError,
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
    ) as error:
        raise BadSpreadsheet(_why_unreadable(error)) from None


def _why_unreadable(error: BaseException):
    # openpyxl wraps what its XML parser raised while loading ("Unable to read workbook"), so
    # the refusal is named by the first cause we recognise along the chain.
    while error is not None:
        if isinstance(error, DefusedXmlException):
            return XML_REFUSED()
        if isinstance(error, ParseError):
            return XML_BROKEN(error=str(error)[:200])
        error = error.__cause__ or error.__context__
    return NOT_A_ZIP()


# --- out ---------------------------------------------------------------------------------------


def csv_text(value: str) -> str:
    """Text as a CSV cell that a spreadsheet shows as text, never runs as a formula, and whose
    digits it keeps whole (a trailing tab on a long digit string: see the module's doc)."""
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    if mangled_by_excel(value):
        return value + "\t"
    return value


def mangled_by_excel(value: str) -> bool:
    """Digits Excel would turn into a rounded number or strip of their leading zeros."""
    if not (value.isascii() and value.isdigit()):
        return False
    return len(value) > EXCEL_WHOLE_DIGITS or (len(value) > 1 and value.startswith("0"))


def text_cell(cell) -> None:
    """Make an XLSX cell holding text a string cell formatted as text, whatever its text
    begins with: never a formula, and digits never a number."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        cell.number_format = TEXT_FORMAT


def write_only_text(sheet, value: str) -> WriteOnlyCell:
    """A write-only sheet's string cell holding ``value``."""
    cell = WriteOnlyCell(sheet, value=value)
    text_cell(cell)
    return cell


def attachment(ascii_name: str, name: str | None = None) -> str:
    """A download's Content-Disposition (RFC 6266): ``filename`` an ASCII name every client
    reads, and ``filename*`` the name as people read it (UTF-8, RFC 5987), which browsers
    prefer. ``ascii_name`` must be ASCII without quotes (the caller's own words)."""
    header = f'attachment; filename="{ascii_name}"'
    if name and name != ascii_name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


class _PinnedZip(zipfile.ZipFile):
    """A zip whose every part is dated ``at``: the same workbook gives the same bytes."""

    def __init__(self, file, at: datetime):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._date_time = at.timetuple()[:6]

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs):
        # A write-only sheet arrives as a temporary file: copied in as it is read.
        with (
            open(filename, "rb") as source,
            self.open(self._info(arcname or filename), "w", force_zip64=True) as target,
        ):
            shutil.copyfileobj(source, target, 1 << 16)


def save_workbook(workbook, file, *, at: datetime | None = None) -> None:
    """Save the workbook to ``file``. With ``at`` (a file of a closed month: when it was
    closed) the file's properties and its parts are dated ``at`` rather than now, so it is
    the same bytes every time it is written."""
    if at is None:
        workbook.save(file)
        return
    naive_utc = at.astimezone(UTC).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = naive_utc
    with _PinnedZip(file, naive_utc) as archive:
        ExcelWriter(workbook, archive).save()
