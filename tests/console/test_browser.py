"""The console end to end in headless Chromium (Debian's ``chromium``, driven by Playwright's
Python package; no browser is downloaded), on a served app with the demo county loaded.

An official signs in, opens a township, sees the chart's bars, drills to a household, downloads
the XLSX and finds the API's figure in it. A station operator changes a price, records an
offline payment and ships an order. The two screenshots in the README come from here.

They run in the PostgreSQL suite (fixtures in ``tests/conftest.py``, helpers in ``browser.py``).
"""

from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Sku
from marketplace.clock import shanghai_today
from marketplace.orders.models import Order, OrderStatus
from marketplace.regions.models import Region
from tests.console.browser import SCREENSHOTS, api, sign_in, token_of
from tests.orders.conftest import ADDRESS

pytestmark = pytest.mark.postgres


def test_an_official_reads_a_township_drills_to_a_household_and_downloads_the_xlsx(
    browser, demo, tmp_path
):
    month = f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    with demo.session() as session:
        county_id, township_id = (
            session.execute(sa.select(Region.id).where(Region.name == name)).scalar_one()
            for name in ("青松县", "白山镇")
        )
    official = token_of(demo, "official_county", "county-demo-2024")
    expected = api(
        demo, "GET", f"/reports/income?region_id={township_id}&period={month}", token=official
    )

    page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    sign_in(page, demo, "official_county", "county-demo-2024")
    page.wait_for_url(f"**/console/regions/{county_id}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "official-county.png"), full_page=True)

    page.click("#rows a:text('白山镇')")
    page.wait_for_url(f"**/console/regions/{township_id}?period={month}")
    # The chart drew a bar per month, the period's own highlighted with the report's figure.
    bars = page.locator("svg.chart g.bar")
    assert bars.count() == 12
    selected = page.locator("svg.chart g.bar.selected")
    assert selected.get_attribute("data-net-fen") == str(expected["totals"]["net_fen"])
    assert float(selected.locator("rect").get_attribute("height")) > 0

    with page.expect_download() as download:
        page.click("text=本报表 XLSX")
    path = tmp_path / "township.xlsx"
    download.value.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(row for row in rows if row[0] == "区划编号")
    totals = next(row for row in rows if row[1] == "合计")
    assert round(totals[header.index("净收入(元)")] * 100) == expected["totals"]["net_fen"]

    page.click("#rows a >> nth=0")  # the village that earned most
    page.click("#rows a >> nth=0")  # its household that earned most
    page.wait_for_url("**/console/households/*")
    assert page.locator("#postings tbody tr").count() > 0
    assert "订单" in page.locator("#postings").inner_text()
    page.close()


def test_an_operator_changes_a_price_records_a_payment_and_ships(browser, demo):
    buyer = token_of(demo, "buyer_zhang", "zhangwei-demo-2024")
    with demo.session() as session:
        rice = session.execute(sa.select(Sku).where(Sku.code == "SYC-272")).scalar_one()
        rice_id = rice.id
    order = api(
        demo,
        "POST",
        "/orders",
        {
            "lines": [{"sku_id": rice_id, "quantity": 2}],
            "shipping_address": ADDRESS,
        },
        token=buyer,
    )

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, demo, "station_shenyuan", "shenyuan-demo-2024")
    page.wait_for_url("**/console/station/orders")

    page.goto(demo.base_url + "/console/station/products")
    row = page.locator(f"#sku-{rice_id}")
    row.locator("input[name=price]").fill("118.00")
    row.locator("button").click()
    page.wait_for_load_state()
    with demo.session() as session:
        assert session.get(Sku, rice_id).price_fen == 11800

    page.goto(demo.base_url + "/console/station/orders?view=unpaid")
    page.click(f"text={order['number']}")
    page.fill("#payment input[name=reference]", "收据-0001")
    page.click("#payment button")
    page.wait_for_selector("#shipment")
    page.fill("#shipment input[name=carrier]", "中国邮政")
    page.fill("#shipment input[name=tracking_number]", "9800123456789")
    page.click("#shipment button")
    page.wait_for_selector("text=9800123456789")
    with demo.session() as session:
        assert session.get(Order, order["id"]).status is OrderStatus.shipped

    page.goto(demo.base_url + "/console/station/orders?view=all")
    page.screenshot(path=str(SCREENSHOTS / "station-orders.png"))
    page.close()
