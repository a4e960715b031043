"""Uploaded spreadsheets that try to sink a worker: each is refused with a 422 naming the file,
at once, whatever the trick (marketplace/spreadsheets.py)."""

import io
import zipfile

import pytest
from openpyxl import Workbook

from marketplace import spreadsheets
from marketplace.payouts import bank_files
from tests.payouts.conftest import accrue, give_card, people  # noqa: F401  (shared fixtures)
from tests.payouts.test_settlement import approved_run, sample_households, upload  # noqa: F401

SHEET = "xl/worksheets/sheet1.xml"


def _workbook() -> bytes:
    """A real one-card return, whose sheet the tests below replace."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = bank_files.YIKATONG_SHEET
    sheet.append([*bank_files.YIKATONG_COLUMNS, bank_files.FAILURE_REASON_COLUMN])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _with_sheet(sheet_xml: bytes, *, compress=zipfile.ZIP_DEFLATED) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as target:
        for item in source.infolist():
            data = sheet_xml if item.filename == SHEET else source.read(item.filename)
            target.writestr(item.filename, data)
    return out.getvalue()


_OPEN = b'<?xml version="1.0"?>'
_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'

MALFORMED = _with_sheet(_OPEN + b"<worksheet " + _NS + b"><sheetData><row r='1'><c>")
BILLION_LAUGHS = _with_sheet(
    _OPEN
    + b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    + b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    + b"<worksheet "
    + _NS
    + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
    + b"</sheetData></worksheet>"
)
EXTERNAL_ENTITY = _with_sheet(
    _OPEN
    + b'<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]><worksheet '
    + _NS
    + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row>'
    + b"</sheetData></worksheet>"
)
#: A few hundred kilobytes that inflate to far more than any sheet.
ZIP_BOMB = _with_sheet(
    _OPEN + b"<worksheet " + _NS + b"><sheetData>" + b" " * (40 * 1024 * 1024) + b"</sheetData>"
    b"</worksheet>"
)
#: Small and within the limits, but declaring the whole grid and a cell at its last row.
HUGE_DIMENSION = _with_sheet(
    _OPEN
    + b"<worksheet "
    + _NS
    + b'><dimension ref="A1:XFD1048576"/><sheetData><row r="1">'
    + b"".join(
        b'<c t="inlineStr"><is><t>' + title.encode() + b"</t></is></c>"
        for title in bank_files.YIKATONG_COLUMNS
    )
    + b"</row>"
    + b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    + b"</sheetData></worksheet>"
)
NOT_A_ZIP = b"PK\x03\x04 this is no workbook"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (MALFORMED, "spreadsheet.xml_broken"),
        (BILLION_LAUGHS, "spreadsheet.xml_refused"),
        (EXTERNAL_ENTITY, "spreadsheet.xml_refused"),
        (ZIP_BOMB, "spreadsheet.inflates_too_much"),
        (HUGE_DIMENSION, "spreadsheet.too_many_rows"),
        (NOT_A_ZIP, "spreadsheet.not_xlsx"),
    ],
    ids=["malformed", "billion-laughs", "external-entity", "zip-bomb", "huge-dimension", "junk"],
)
def test_a_hostile_bank_return_is_a_422_naming_the_file_at_once(
    client, people, regions, sample_households, content, code
):
    run = approved_run(client, people, regions)
    answer = upload(client, run["id"], content, people.approver_headers)
    assert answer.status_code == 422, answer.json
    assert [r["code"] for r in answer.json["reasons"]["file"]] == [code]


def test_the_limits_hold_before_anything_is_inflated():
    ratio_bomb = io.BytesIO()
    with zipfile.ZipFile(ratio_bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr(SHEET, b"0" * (8 * 1024 * 1024))
    with pytest.raises(spreadsheets.BadSpreadsheet) as refused:
        spreadsheets.check_xlsx(ratio_bomb.getvalue())
    assert refused.value.reason.code == "spreadsheet.compressed_too_far"
