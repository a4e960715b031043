"""Reports as files people open in a spreadsheet: CSV (UTF-8 with a BOM, so Excel shows the
Chinese text) and XLSX (amounts as numbers in yuan with two decimals, Chinese headers, the
header row frozen, columns sized, and what the file is on top: the report, the scope, the
period, who generated it and when; for a closed month, who closed it and when, and then the file
is the same bytes at every download).

Both are written row by row from an iterator, so a county's hundred thousand households export
in flat memory: CSV streams as it is written; XLSX is written by openpyxl's write-only mode to
a spooled temporary file (on disk past a few megabytes), then streamed out. A file that names
households is personal data: its download is recorded (``ExportDownload``).
"""

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

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
    #: text, int, or yuan (an amount in fen, written as yuan with two decimals)
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


def _cell_value(column: Column, value):
    if value is None:
        return None
    if column.kind == "yuan":
        return Decimal(value) / 100
    if column.kind == "text":
        return str(value)
    return value


def _csv_cell(column: Column, value) -> str:
    """A CSV cell: amounts with two decimals, numbers as numbers, and text that a spreadsheet
    cannot mistake for a formula (``spreadsheets.csv_text``)."""
    value = _cell_value(column, value)
    if value is None:
        return ""
    if column.kind == "yuan":
        return f"{value:.2f}"
    if column.kind == "text":
        return spreadsheets.csv_text(value)
    return value


def _xlsx_cell(sheet, column: Column, value) -> WriteOnlyCell:
    """An XLSX cell: amounts as numbers in yuan, text always a string cell."""
    cell = WriteOnlyCell(sheet, value=_cell_value(column, value))
    if column.kind == "yuan":
        cell.number_format = "#,##0.00"
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
    name = f"{table.name}-{table.period}.{file_format}"
    response = Response(stream_with_context(chunks), mimetype=FILE_TYPES[file_format])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(table.title)}-{name}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
