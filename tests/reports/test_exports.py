"""Reports as CSV and XLSX: what the JSON says, in yuan, with Chinese headers and what the file
is on top; every household of a region streamed; downloads that name households recorded."""

import csv
import io
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import load_workbook

from marketplace.clock import shanghai_today
from marketplace.reports.models import ExportDownload
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)


def _query(region):
    return {"region_id": region.id, "period": shanghai_today().strftime("%Y-%m")}


def test_the_income_report_as_csv_and_xlsx(client, session, shop, money, pay, regions):
    pay((shop.sku_500g, 2))
    report = client.get(
        "/api/v1/reports/income",
        query_string=_query(regions.county),
        headers=money.official_headers,
    ).json
    as_csv = client.get(
        "/api/v1/reports/income.csv",
        query_string=_query(regions.county),
        headers=money.official_headers,
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["Content-Disposition"]
    text = as_csv.get_data()
    assert text.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert rows[0][:3] == ["区划编号", "区划", "建档户数"]
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert total["区划"] == "合计"
    assert Decimal(total["净收入(元)"]) * 100 == report["totals"]["net_fen"] > 0
    # Not personal at county level: no download recorded.
    assert session.execute(sa.select(sa.func.count()).select_from(ExportDownload)).scalar() == 0

    as_xlsx = client.get(
        "/api/v1/reports/income.xlsx",
        query_string=_query(regions.county),
        headers=money.official_headers,
    )
    assert as_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(as_xlsx.get_data())).active
    assert [sheet.cell(row, 1).value for row in range(1, 6)] == [
        "报表",
        "范围",
        "期间",
        "生成人",
        "生成时间",
    ]
    assert sheet.cell(2, 2).value.startswith(regions.county.name)
    assert sheet.cell(4, 2).value == money.official.username
    assert sheet.freeze_panes == "A8"
    headers = [cell.value for cell in sheet[7]]
    net = headers.index("净收入(元)") + 1
    last = sheet.max_row
    assert sheet.cell(last, 2).value == "合计"
    assert Decimal(str(sheet.cell(last, net).value)) * 100 == report["totals"]["net_fen"]
    assert sheet.cell(last, net).number_format == "#,##0.00"


def test_every_household_of_a_region_streams_and_is_recorded(
    client,
    session,
    shop,
    money,
    pay,
    regions,
):
    pay((shop.sku_500g, 1))
    report = client.get(
        "/api/v1/reports/income",
        query_string=_query(regions.village_a1),
        headers=money.official_headers,
    ).json
    response = client.get(
        "/api/v1/reports/income/households.csv",
        query_string=_query(regions.county),
        headers=money.official_headers,
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert {row["户编号"] for row in rows} >= {str(m.id) for m in money.members}
    net = sum(Decimal(row["净收入(元)"]) for row in rows) * 100
    assert net == report["totals"]["net_fen"] > 0
    downloads = session.execute(sa.select(ExportDownload)).scalars().all()
    assert [(d.report, d.file_format, d.user_id) for d in downloads] == [
        ("income_households", "csv", money.official.id)
    ]


def test_files_keep_to_the_readers_scope(client, shop, money, regions):
    for path in ("income.csv", "income/households.xlsx", "channels.csv"):
        url = f"/api/v1/reports/{path}"
        assert (
            client.get(
                url, query_string=_query(regions.township_a), headers=money.official_b_headers
            ).status_code
            == 404
        )
        assert (
            client.get(
                url, query_string=_query(regions.county), headers=shop.station_headers
            ).status_code
            == 403
        )
    bad = client.get(
        "/api/v1/reports/income.csv",
        query_string={"region_id": regions.county.id, "period": "x"},
        headers=money.official_headers,
    )
    assert bad.status_code == 422 and "period" in bad.json["errors"]


def test_a_households_postings_as_a_file(client, session, shop, money, pay):
    pay((shop.sku_500g, 1))
    member = money.members[1]
    response = client.get(
        f"/api/v1/households/{member.id}/money-trail.xlsx",
        query_string={"period": shanghai_today().strftime("%Y-%m")},
        headers=money.official_headers,
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    headers = [cell.value for cell in sheet[7]]
    assert headers[:3] == ["日期", "类型", "收入(元)"]
    assert sheet.cell(8, 2).value == "销售分配" and sheet.cell(8, 3).value > 0
    recorded = session.execute(sa.select(ExportDownload.report)).scalars().all()
    assert recorded == ["household_trail"]
