"""An official reads the trend chart on a phone and at a desk: every month's value is written on
the chart (there is no hover on a phone), the y-axis has its figures, the same months are in a
table beside it, and the page neither scrolls sideways nor fails axe-core."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.console.charts import short_yuan
from marketplace.regions.models import Region
from tests.console.browser import WIDTHS, check_page, open_page, screenshot, sign_in

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_an_official_reads_every_months_income_on_the_chart(browser, demo, width):
    month = f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    with demo.session() as session:
        township_id = session.execute(
            sa.select(Region.id).where(Region.name == "白山镇")
        ).scalar_one()

    page = open_page(browser, WIDTHS[width])
    sign_in(page, demo, "official_county", "county-demo-2024")
    check_page(page)
    page.goto(f"{demo.base_url}/console/regions/{township_id}?period={month}")
    check_page(page)

    bars = page.locator("svg.chart g.bar")
    assert bars.count() == 12
    for index in range(12):
        bar = bars.nth(index)
        value = bar.locator("text.value")
        assert value.is_visible()  # written on the chart, not in a tooltip
        assert value.text_content() == short_yuan(int(bar.get_attribute("data-net-fen")))
        box = value.bounding_box()
        assert box["height"] >= 8  # upright and legible: about a character's height
    ticks = page.locator("svg.chart g.tick text")
    assert ticks.count() >= 2 and ticks.first.is_visible()
    # The chart fits its box: no wider than the screen.
    chart_box = page.locator("svg.chart").bounding_box()
    assert chart_box["x"] >= 0 and chart_box["x"] + chart_box["width"] <= WIDTHS[width]["width"]

    table = page.locator("#trend-table")
    assert table.is_visible() and "净收入" in table.locator("caption").inner_text()
    rows = table.locator("tbody tr")
    assert rows.count() == 12
    selected = page.locator("svg.chart g.bar.selected").get_attribute("data-net-fen")
    assert page.locator("#trend-table tr.selected td").get_attribute("data-net-fen") == selected

    # A month in the table opens that month's page.
    earlier = rows.nth(10).locator("a")
    earlier_month = rows.nth(10).get_attribute("data-month")
    earlier.click()
    page.wait_for_url(f"**/console/regions/{township_id}?period={earlier_month}")
    assert page.locator("svg.chart g.bar.selected").get_attribute("data-month") == earlier_month
    check_page(page)
    if width == "phone":
        screenshot(page, "official-chart")
    page.close()
