"""The failed rows of an upload as a CSV file a station opens in a spreadsheet: each problem
with its line, column and reason (in the uploader's language), beside the row as the export had
it under the export's own header, so the rows can be fixed and uploaded again on their own (the
extra columns are ignored on reading). Problems are read in line order and the export beside
them, a row at a time, so memory stays flat however many rows failed."""

import csv
import io

import sqlalchemy as sa

from marketplace import i18n, spreadsheets
from marketplace.platform_sales.cells import text_lines
from marketplace.platform_sales.models import ImportProblem

CSV_TYPE = "text/csv; charset=utf-8"
#: What the file's own columns are preceded by.
LEADING = ("行号", "列", "问题")


def failed_rows_csv(session, import_id: int, source, language: str) -> bytes:
    """``source``: the export (or Taobao's item report) as a binary stream, from its start."""
    problems = session.execute(
        sa.select(ImportProblem.line, ImportProblem.column, ImportProblem.reason)
        .where(ImportProblem.import_id == import_id)
        .order_by(ImportProblem.line, ImportProblem.id)
        .execution_options(yield_per=1000)
    )
    reader = csv.reader(text_lines(source))
    header = next(reader, [])
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([*LEADING, *header])
    row: list[str] = []
    for line, column, kept in problems:
        while reader.line_num < line:
            row = next(reader, None)
            if row is None:
                break
        cells = row if row is not None and reader.line_num == line else []
        writer.writerow(
            [
                line,
                spreadsheets.csv_text(column or ""),
                spreadsheets.csv_text(i18n.kept_in_language(kept, language)),
                *(spreadsheets.csv_text(cell) for cell in cells),
            ]
        )
    return buffer.getvalue().encode("utf-8")
