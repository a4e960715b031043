"""Reports as files people open in a spreadsheet: CSV (UTF-8 with a BOM, so Excel shows the
Chinese text) and XLSX (amounts as numbers in yuan with two decimals, Chinese headers, the
header row frozen, columns sized, and what the file is on top: the report, the scope, the
period, who generated it and when; for a closed month, who closed it and when, and then the file
is the same bytes at every download).

Numbers that are names, not quantities (a household's, an order's, a registry number) are
``id`` columns: text cells in XLSX, whole in CSV however Excel opens it (``spreadsheets``).
Percentages (``percent_bp`` columns, basis points) are shown to one decimal, half up. A file's
name says what it is, where and when (``青松县-白山镇-2026-11-收入.xlsx``), with an ASCII name
beside it for clients that cannot read the UTF-8 one (RFC 6266).

Both are written row by row from an iterator, so a county's hundred thousand households export
in flat memory: CSV streams as it is written; XLSX is written by openpyxl's write-only mode to
a spooled temporary file (on disk past a few megabytes), then streamed out. A file that names
households is personal data: its download is recorded (``ExportDownload``).
"""

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from marketplace import spreadsheets
from marketplace.accounts.auth import Actor
from marketplace.clock import SHANGHAI
from marketplace.db import utcnow
from marketplace.reports.models import ExportDownload

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    #: text; id (a number that names something: kept text, every digit); int; yuan (an
    #: amount in fen, written as yuan with two decimals); percent_bp (basis points, written
    #: as a percentage to one decimal)
    kind: str = "text"
    width: int = 14


@dataclass
class Table:
    """A report flattened into rows, with what it is."""

    name: str
    title: str
    scope: str
    period: str
    columns: list[Column]
    rows: Iterable[dict]
    #: the rows name households: downloads are recorded
    personal: bool = False
    parameters: dict = field(default_factory=dict)
    #: the close that froze a closed month's report: who closed it, and when. Its file says
    #: so in place of who generated it and when, and is the same bytes at every download.
    closed_by: str | None = None
    closed_at: datetime | None = None
    #: the file's name without its extension: ASCII (``income-township-12-2026-11``), and as
    #: people read it (``青松县-白山镇-2026-11-收入``); both default to name and period
    filename: str = ""
    download_name: str = ""

    def file_name(self, file_format: str) -> str:
        return f"{_ascii_name(self.filename or f'{self.name}-{self.period}')}.{file_format}"

    def display_name(self, file_format: str) -> str:
        name = self.download_name or f"{self.title}-{self.period}"
        return f"{_readable_name(name)}.{file_format}"


def _cell_value(column: Column, value):
    if value is None:
        return None
    if column.kind == "yuan":
        return Decimal(value) / 100
    if column.kind == "percent_bp":
        return Decimal(_tenths_of_percent(value)) / 1000
    if column.kind in ("text", "id"):
        return str(value)
    return value


def _tenths_of_percent(basis_points: int) -> int:
    """Basis points to tenths of a percent, half up (away from zero): 1235 -> 124."""
    tenths = (abs(basis_points) + 5) // 10
    return -tenths if basis_points < 0 else tenths


def _csv_cell(column: Column, value) -> str:
    """A CSV cell: amounts with two decimals, numbers as numbers, and text that a spreadsheet
    cannot mistake for a formula (``spreadsheets.csv_text``)."""
    value = _cell_value(column, value)
    if value is None:
        return ""
    if column.kind == "yuan":
        return f"{value:.2f}"
    if column.kind == "percent_bp":
        return f"{value * 100:.1f}%"
    if column.kind in ("text", "id"):
        return spreadsheets.csv_text(value)
    return value


def _xlsx_cell(sheet, column: Column, value) -> WriteOnlyCell:
    """An XLSX cell: amounts as numbers in yuan, percentages as percentages, text (and
    numbers that name things) always a string cell formatted as text."""
    cell = WriteOnlyCell(sheet, value=_cell_value(column, value))
    if column.kind == "yuan":
        cell.number_format = "#,##0.00"
    elif column.kind == "percent_bp":
        cell.number_format = "0.0%"
    elif column.kind in ("text", "id"):
        cell.number_format = spreadsheets.TEXT_FORMAT
    spreadsheets.text_cell(cell)
    return cell


def csv_chunks(table: Table) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([column.header for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(column, row.get(column.key)) for column in table.columns])
        if buffer.tell() > _CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(table: Table, actor: Actor) -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.title[:31])
    header_row = 7
    # Rows above the first data row stay in view: the header and what the file is. (A
    # write-only sheet takes this before its first row.)
    sheet.freeze_panes = f"A{header_row + 1}"
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    if table.closed_at is None:
        made = (("生成人", actor.username), ("生成时间", _shanghai(utcnow())))
    else:
        made = (("结账人", table.closed_by or ""), ("结账时间", _shanghai(table.closed_at)))
    for label, value in (
        ("报表", table.title),
        ("范围", table.scope),
        ("期间", table.period),
        *made,
    ):
        title = WriteOnlyCell(sheet, value=label)
        title.font = bold
        # The scope names a region, the generator a user: their text, never a formula.
        sheet.append([title, spreadsheets.write_only_text(sheet, value)])
    sheet.append([])
    headers = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        headers.append(cell)
    sheet.append(headers)
    for row in table.rows:
        sheet.append([_xlsx_cell(sheet, column, row.get(column.key)) for column in table.columns])
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spooled:
        spreadsheets.save_workbook(workbook, spooled, at=table.closed_at)
        spooled.seek(0)
        while chunk := spooled.read(_CHUNK):
            yield chunk


def _shanghai(moment: datetime) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (北京时间)"


def record_download(session, actor: Actor, table: Table, file_format: str, remote_addr) -> None:
    if not table.personal:
        return
    record_job_download(
        session,
        actor,
        report=table.name,
        parameters=table.parameters,
        file_format=file_format,
        remote_addr=remote_addr,
    )


def record_job_download(
    session, actor: Actor, *, report: str, parameters: dict, file_format: str, remote_addr
) -> None:
    """A download of a file naming households (streamed, or made by a job), recorded."""
    session.add(
        ExportDownload(
            user_id=actor.user_id,
            report=report,
            parameters=parameters,
            file_format=file_format,
            remote_addr=(remote_addr or "")[:64] or None,
        )
    )
    session.flush()


FILE_TYPES = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}


def file_response(session, actor: Actor, table: Table, file_format: str, remote_addr) -> Response:
    """The table as a streamed download (the API's and the console's); a file naming
    households has its download recorded first."""
    record_download(session, actor, table, file_format, remote_addr)
    chunks = csv_chunks(table) if file_format == "csv" else xlsx_chunks(table, actor)
    response = Response(stream_with_context(chunks), mimetype=FILE_TYPES[file_format])
    response.headers["Content-Disposition"] = spreadsheets.attachment(
        table.file_name(file_format), table.display_name(file_format)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- file names -------------------------------------------------------------------------------

#: what a file name may not hold on Windows, the commonest place these files land
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|]')
#: what an ASCII fallback name keeps
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")
#: characters a file name is cut to (a path's component holds 255 bytes; Chinese is 3 each)
MAX_NAME = 80


def _readable_name(name: str) -> str:
    """A name as people read it, safe on every disk: the characters Windows refuses, control,
    format (bidi) and separator characters become ``_``."""
    kept = "".join(
        "_" if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in name
    )
    return _NOT_IN_FILE_NAMES.sub("_", kept).strip(" .")[:MAX_NAME] or "report"


def _ascii_name(name: str) -> str:
    return _NOT_ASCII_NAME.sub("_", name).strip("._")[:MAX_NAME] or "report"
