"""Files that survive Excel: numbers that name things (registry, household, order numbers) stay
whole text, amounts stay numbers, percentages show one decimal rounded half up, per-capita
income is rounded half up to the fen, and every file is named for its region, period and kind
(an ASCII ``filename`` and the UTF-8 ``filename*``)."""

import csv
import io
from decimal import Decimal
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.console.words import WORDS
from marketplace.ledger.models import EntryKind
from marketplace.livestreams.models import Platform
from marketplace.orders.models import Channel
from marketplace.reports import files
from marketplace.reports.exports import Column, Table, csv_chunks, xlsx_chunks
from marketplace.reports.figures import per_capita_fen
from marketplace.reports.files import ENTRY_KINDS
from marketplace.spreadsheets import attachment, csv_text, mangled_by_excel
from tests.console.conftest import sign_in  # noqa: F401  (shared fixture)
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.reports.test_exports import _query

ACTOR = Actor(user_id=1, username="official", role=Role.official)
LONG = "220524104200000000017"  # a registry number: 21 digits
COLUMNS = [
    Column("number", "建档立卡编号", "id"),
    Column("household_id", "户编号", "id"),
    Column("name", "户主", "text"),
    Column("phone", "电话", "text"),
    Column("net_fen", "净收入(元)", "yuan"),
    Column("completion_bp", "完成率", "percent_bp"),
    Column("members", "人口", "int"),
]
ROW = {
    "number": LONG,
    "household_id": 42,
    "name": "=HYPERLINK(1)",
    "phone": "013900001111",
    "net_fen": -12345,
    "completion_bp": 1235,
    "members": 3,
}


def _table(rows=(ROW,)) -> Table:
    return Table("t", "测试", "青松县", "2026-11", COLUMNS, list(rows))


def test_per_capita_is_rounded_half_up_to_the_fen():
    cases = [(100, 3, 33), (200, 3, 67), (150, 2, 75), (1, 2, 1), (5, 10, 1), (4, 10, 0)]
    assert [per_capita_fen(net, members) for net, members, _ in cases] == [c[2] for c in cases]
    assert per_capita_fen(-200, 3) == -67 and per_capita_fen(-100, 3) == -33
    assert per_capita_fen(500, 0) == 0


def test_excel_keeps_long_digit_strings_whole():
    assert mangled_by_excel(LONG) and mangled_by_excel("013900001111") and mangled_by_excel("07")
    assert not mangled_by_excel("12345678901") and not mangled_by_excel("0")
    assert not mangled_by_excel("4211X") and not mangled_by_excel("١٢٣٤٥٦٧٨٩٠١٢٣")
    assert csv_text(LONG) == LONG + "\t"  # text to Excel, and still no formula's start
    assert csv_text("=1+2") == "'=1+2" and csv_text("\t=1") == "'\t=1"


def test_the_csv_keeps_numbers_whole_and_shows_one_decimal():
    data = b"".join(csv_chunks(_table()))
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["建档立卡编号"] == LONG + "\t" and cells["建档立卡编号"].strip() == LONG
    assert cells["户编号"] == "42"  # short: Excel keeps it as it is
    assert cells["电话"] == "013900001111\t"  # a leading zero Excel would drop
    assert cells["户主"] == "'=HYPERLINK(1)"
    assert cells["净收入(元)"] == "-123.45"
    assert cells["完成率"] == "12.4%"  # 12.35%, half up
    assert not any(cell.startswith(("=", "+", "-@", "@", "\t")) for cell in row[:4])


def test_the_xlsx_holds_numbers_that_name_things_as_text_cells():
    data = b"".join(xlsx_chunks(_table(), ACTOR))
    sheet = load_workbook(io.BytesIO(data)).active
    header = [cell.value for cell in sheet[7]]
    cells = dict(zip(header, sheet[8], strict=True))
    for name, value in (("建档立卡编号", LONG), ("户编号", "42"), ("电话", "013900001111")):
        assert (cells[name].value, cells[name].data_type) == (value, "s")
        assert cells[name].number_format == "@"
    assert cells["户主"].data_type == "s" and cells["户主"].value == "=HYPERLINK(1)"
    assert cells["净收入(元)"].data_type == "n"
    assert Decimal(str(cells["净收入(元)"].value)) == Decimal("-123.45")
    assert cells["完成率"].number_format == "0.0%"
    assert Decimal(str(cells["完成率"].value)) == Decimal("0.124")
    assert cells["人口"].value == 3 and cells["人口"].data_type == "n"
    for label_row in range(1, 6):  # what the file is: text too
        assert sheet.cell(label_row, 2).number_format == "@"


@pytest.mark.parametrize(
    "basis_points, shown",
    [(0, "0.0%"), (4, "0.0%"), (5, "0.1%"), (10000, "100.0%"), (-1235, "-12.4%")],
)
def test_percentages_round_half_up_to_one_decimal(basis_points, shown):
    row = {**ROW, "completion_bp": basis_points}
    data = b"".join(csv_chunks(_table([row])))
    header, cells = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert cells[header.index("完成率")] == shown


def test_content_disposition_has_an_ascii_name_and_the_utf8_one():
    assert attachment("a.csv") == 'attachment; filename="a.csv"'
    assert attachment("income-county-1-2026-11.csv", "青松县-2026-11-收入.csv") == (
        'attachment; filename="income-county-1-2026-11.csv"; '
        "filename*=UTF-8''%E9%9D%92%E6%9D%BE%E5%8E%BF-2026-11-%E6%94%B6%E5%85%A5.csv"
    )
    hostile = Table(
        "t",
        "测试",
        "x",
        "2026-11",
        COLUMNS,
        [],
        filename='a"b/\\c',
        download_name='青/松:*?"<>|\u202e\r\n县',
    )
    assert hostile.file_name("csv") == "a_b_c.csv"
    assert hostile.display_name("csv") == "青_松" + "_" * 10 + "县.csv"


def _disposition(client, headers, url, query):
    response = client.get(url, query_string=query, headers=headers)
    assert response.status_code == 200 and response.get_data()  # streamed: read to its end
    return response.headers["Content-Disposition"]


def _expected(ascii_name, readable):
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(readable, safe='')}"


def test_each_file_is_named_for_its_region_period_and_kind(
    client, session, shop, money, pay, regions
):
    order = pay((shop.sku_500g, 1))
    headers = money.official_headers
    period = _query(regions.county)["period"]
    county, township, village = regions.county, regions.township_a, regions.village_a1
    for region, path in (
        (county, "青松县"),
        (township, "青松县-白山镇"),
        (village, "青松县-白山镇-蓝莓村"),
    ):
        level = region.level.value
        got = _disposition(client, headers, "/api/v1/reports/income.xlsx", _query(region))
        assert got == _expected(
            f"income-{level}-{region.id}-{period}.xlsx", f"{path}-{period}-收入.xlsx"
        )
    got = _disposition(client, headers, "/api/v1/reports/income/households.csv", _query(township))
    assert got == _expected(
        f"income-households-township-{township.id}-{period}.csv",
        f"青松县-白山镇-{period}-收入到户明细.csv",
    )
    got = _disposition(client, headers, "/api/v1/reports/channels.csv", _query(county))
    assert got == _expected(
        f"channels-county-{county.id}-{period}.csv", f"青松县-{period}-渠道与直播.csv"
    )
    year = period[:4]
    got = _disposition(
        client, headers, "/api/v1/reports/assistance.xlsx", {"region_id": county.id, "year": year}
    )
    assert got == _expected(
        f"assistance-county-{county.id}-{year}.xlsx", f"青松县-{year}-消费帮扶.xlsx"
    )

    household = money.members[0]
    got = _disposition(
        client,
        headers,
        f"/api/v1/households/{household.id}/money-trail.csv",
        {"period": period},
    )
    assert got == _expected(
        f"postings-household-{household.id}-{period}.csv",
        f"青松县-白山镇-蓝莓村-{household.head_name}-{period}-收入明细.csv",
    )
    # The postings name the order: its number is text in the workbook.
    trail = client.get(
        f"/api/v1/households/{household.id}/money-trail.xlsx",
        query_string={"period": period},
        headers=headers,
    )
    sheet = load_workbook(io.BytesIO(trail.get_data())).active
    header = [cell.value for cell in sheet[7]]
    numbers = [row[header.index("订单号")] for row in sheet.iter_rows(min_row=8)]
    assert order["number"] in [cell.value for cell in numbers]
    assert all(
        cell.data_type == "s" and cell.number_format == "@" for cell in numbers if cell.value
    )


def test_the_consoles_downloads_are_named_the_same_way(
    client, session, shop, money, pay, regions, sign_in
):
    pay((shop.sku_500g, 1))
    period = _query(regions.county)["period"]
    township = regions.township_a
    sign_in(money.official)
    response = client.get(
        f"/console/regions/{township.id}/income.xlsx", query_string={"period": period}
    )
    assert response.status_code == 200 and response.get_data()  # streamed: read to its end
    assert response.headers["Content-Disposition"] == _expected(
        f"income-township-{township.id}-{period}.xlsx", f"青松县-白山镇-{period}-收入.xlsx"
    )
    household = money.members[0]
    response = client.get(
        f"/console/households/{household.id}/postings.csv", query_string={"period": period}
    )
    assert response.status_code == 200 and response.get_data()
    assert response.headers["Content-Disposition"] == _expected(
        f"postings-household-{household.id}-{period}.csv",
        f"青松县-白山镇-蓝莓村-{household.head_name}-{period}-收入明细.csv",
    )
    registry = client.get(
        f"/console/regions/{township.id}/households.csv", query_string={"period": period}
    )
    rows = list(csv.reader(io.StringIO(registry.get_data().decode("utf-8-sig"))))
    header = rows[0]
    numbers = [row[header.index("建档立卡编号")] for row in rows[1:]]
    assert numbers and all(number.endswith("\t") and number.strip().isdigit() for number in numbers)


def test_files_speak_the_consoles_words():
    assert WORDS[EntryKind] == files.ENTRY_KINDS
    assert WORDS[Channel] == files.CHANNELS
    assert WORDS[Platform] == files.PLATFORMS


def test_the_files_name_kinds_and_channels_in_chinese(client, session, shop, money, pay, regions):
    pay((shop.sku_500g, 1))
    query = _query(regions.county)
    headers = money.official_headers
    channels = client.get("/api/v1/reports/channels.csv", query_string=query, headers=headers)
    rows = list(csv.reader(io.StringIO(channels.get_data().decode("utf-8-sig"))))
    names = [row[0] for row in rows[1:]]
    assert "网店" in names or "服务站柜台" in names, names
    assert not any(name in ("web", "station_counter", "livestream") for name in names)
    household = money.members[0]
    trail = client.get(
        f"/api/v1/households/{household.id}/money-trail.csv",
        query_string={"period": query["period"]},
        headers=money.official_headers,
    )
    rows = list(csv.reader(io.StringIO(trail.get_data().decode("utf-8-sig"))))
    kinds = {row[rows[0].index("类型")] for row in rows[1:]}
    assert kinds and kinds <= set(ENTRY_KINDS.values()), kinds
