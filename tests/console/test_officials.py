"""An official in the console: the region's month as the API reports it, the trend chart, the
drill-down to a household's postings, the files, and closing the month; only their region."""

import io
import re
from datetime import timedelta

import openpyxl

from marketplace.clock import shanghai_today
from marketplace.closes.models import MonthClose
from marketplace.console.comparison import change, previous_period
from marketplace.households.models import HouseholdStatus, MonitoringType
from marketplace.periods import parse_period
from tests.console.conftest import csrf_of
from tests.livestreams.conftest import live  # noqa: F401  (shared fixtures)

INCOME = "/api/v1/reports/income"


def this_month() -> str:
    return f"{shanghai_today():%Y-%m}"


def api_report(client, headers, region, period):
    response = client.get(
        INCOME, query_string={"region_id": region.id, "period": period}, headers=headers
    )
    assert response.status_code == 200, response.json
    return response.json


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def test_the_county_page_shows_the_reports_figures_and_a_bar_per_month(
    client, sign_in, money, pay, shop, regions
):
    pay((shop.sku_500g, 2))
    period = this_month()
    expected = api_report(client, money.official_headers, regions.county, period)
    assert expected["totals"]["net_fen"] > 0

    sign_in(money.official)
    page = client.get(f"/console/regions/{regions.county.id}?period={period}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert f'id="net">{yuan(expected["totals"]["net_fen"])}<' in html
    bars = re.findall(r'data-month="([\d-]+)" data-net-fen="(-?\d+)"', html)
    assert len(bars) == 12 and bars[-1] == (period, str(expected["totals"]["net_fen"]))
    # Each bar is that month's report, to the fen.
    for month, net in bars[-3:]:
        report = api_report(client, money.official_headers, regions.county, month)
        assert int(net) == report["totals"]["net_fen"]
    # The townships, ranked, link one level down.
    for row in expected["rows"]:
        assert f"/console/regions/{row['region_id']}?period={period}" in html


def test_an_official_drills_down_to_a_household_and_its_order_lines(
    client, sign_in, money, pay, shop, regions
):
    order = pay((shop.sku_500g, 1))
    period = this_month()
    sign_in(money.official)
    township = client.get(f"/console/regions/{regions.township_a.id}?period={period}")
    assert f"/console/regions/{regions.village_a1.id}?period={period}" in township.text
    village = client.get(f"/console/regions/{regions.village_a1.id}?period={period}")
    household = money.members[0]
    assert f"/console/households/{household.id}?period={period}" in village.text
    trail = client.get(f"/console/households/{household.id}?period={period}")
    assert trail.status_code == 200
    assert order["number"] in trail.text and "销售分配" in trail.text
    file = client.get(f"/console/households/{household.id}/postings.csv?period={period}")
    assert file.status_code == 200 and order["number"] in file.get_data(as_text=True)


def test_the_downloaded_xlsx_holds_the_apis_figure(client, sign_in, money, pay, shop, regions):
    pay((shop.sku_500g, 3))
    period = this_month()
    expected = api_report(client, money.official_headers, regions.county, period)
    sign_in(money.official)
    response = client.get(f"/console/regions/{regions.county.id}/income.xlsx?period={period}")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    totals = next(row for row in sheet.iter_rows(values_only=True) if row[1] == "合计")
    header = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "区划编号")
    net = totals[header.index("净收入(元)")]
    assert round(net * 100) == expected["totals"]["net_fen"]


def test_closing_names_the_figures_that_freeze_and_needs_the_form_token(
    client, session, sign_in, money, pay, shop, regions
):
    pay((shop.sku_500g, 1))
    last_month = f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    sign_in(money.official)
    confirmation = client.get(f"/console/regions/{regions.county.id}/close?month={last_month}")
    assert confirmation.status_code == 200 and "确认关账" in confirmation.text
    # A form posted from another site carries the cookie but not the token.
    forged = client.post(f"/console/regions/{regions.county.id}/close", data={"month": last_month})
    assert forged.status_code == 400
    assert session.query(MonthClose).count() == 0
    closed = client.post(
        f"/console/regions/{regions.county.id}/close",
        data={"month": last_month, "csrf_token": csrf_of(confirmation)},
    )
    assert closed.status_code == 302
    page = client.get(closed.headers["Location"])
    assert "已关账" in page.text
    # Closing again is refused on the form, with the service's reason, and nothing changes.
    again = client.post(
        f"/console/regions/{regions.county.id}/close",
        data={"month": last_month, "csrf_token": csrf_of(confirmation)},
    )
    assert again.status_code == 409 and "这个月已经关账" in again.text
    assert session.query(MonthClose).count() == 1


def test_an_official_sees_only_their_region(client, sign_in, money, regions):
    sign_in(money.official_b)
    assert client.get(f"/console/regions/{regions.township_b.id}").status_code == 200
    for outside in (regions.county, regions.township_a, regions.village_a1, regions.other_county):
        assert client.get(f"/console/regions/{outside.id}").status_code == 404
        assert client.get(f"/console/regions/{outside.id}/income.xlsx").status_code == 404
    assert client.get(f"/console/households/{money.members[0].id}").status_code == 404
    # Their home is their own region, and the path above it is not offered.
    home = client.get("/console/")
    assert home.headers["Location"].endswith(f"/console/regions/{regions.township_b.id}")


def test_the_county_page_takes_the_same_statements_however_big_the_county(
    client, sign_in, money, pay, shop, regions, make_region, make_household, count_queries
):
    period = this_month()
    sign_in(money.official)
    client.get(f"/console/regions/{regions.county.id}?period={period}")  # warm the caches
    with count_queries() as small:
        assert (
            client.get(f"/console/regions/{regions.county.id}?period={period}").status_code == 200
        )
    for n in range(3):
        village = make_region(regions.township_b, name=f"新村{n}")
        for _ in range(4):
            make_household(village)
    pay((shop.sku_500g, 2))
    pay((shop.sku_500g, 1))
    with count_queries() as big:
        assert (
            client.get(f"/console/regions/{regions.county.id}?period={period}").status_code == 200
        )
    assert big.count == small.count, "\n".join(big.statements)


def test_signing_in_is_throttled_like_the_api_and_a_wrong_password_keeps_the_username(
    client, money
):
    page = client.get("/console/login")
    token = csrf_of(page)
    statuses = []
    for _ in range(7):
        response = client.post(
            "/console/login",
            data={"csrf_token": token, "username": money.official.username, "password": "nope"},
        )
        statuses.append(response.status_code)
    assert statuses[0] == 401 and 'value="' + money.official.username + '"' in response.text
    assert statuses[-1] == 429


def test_a_sign_in_form_without_its_token_is_refused(client, money):
    response = client.post(
        "/console/login",
        data={"username": money.official.username, "password": "correct horse battery"},
    )
    assert response.status_code == 400


def test_signing_out_revokes_the_token(client, sign_in, money, regions):
    sign_in(money.official)
    home = client.get(f"/console/regions/{regions.county.id}")
    client.post("/console/logout", data={"csrf_token": csrf_of(home)})
    after = client.get(f"/console/regions/{regions.county.id}")
    assert after.status_code == 302 and "/console/login" in after.headers["Location"]


def test_pages_need_a_sign_in_and_come_back_after_it(client, money, regions):
    response = client.get(f"/console/regions/{regions.county.id}?period=2026-01")
    assert response.status_code == 302
    assert "/console/login?next=" in response.headers["Location"]


def test_an_admin_chooses_a_county_and_sees_the_path_above_a_village(
    client, sign_in, shop, regions
):
    sign_in(shop.admin)
    home = client.get("/console/")
    assert home.status_code == 200
    for county in (regions.county, regions.other_county):
        assert f"/console/regions/{county.id}" in home.text
    village = client.get(f"/console/regions/{regions.village_a1.id}?period=2026-01")
    crumbs = village.text.split('<nav class="crumbs">')[1].split("</nav>")[0]
    assert crumbs.index(regions.county.name) < crumbs.index(regions.township_a.name)


# --- periods beside the one before, households, closes' history, the region's sessions -------


def test_previous_periods_and_changes_rounded_half_up():
    assert previous_period(parse_period("2026-01")).label == "2025-12"
    assert previous_period(parse_period("2026-11")).label == "2026-10"
    assert previous_period(parse_period("2026-Q1")).label == "2025-Q4"
    assert previous_period(parse_period("2026-Q3")).label == "2026-Q2"
    assert previous_period(parse_period("2026")).label == "2025"
    assert change(1125, 1000).percent == "+12.5"
    assert change(10005, 10000).percent == "+0.1"  # 0.05% rounds half up
    assert change(9995, 10000).percent == "-0.1"  # and a fall as a rise would
    assert change(1000, 3000).percent == "-66.7"
    assert change(500, 0).percent is None and change(500, 0).difference == 500
    assert change(-200, -400).percent == "+50.0"  # against the previous figure's size


def test_a_quarter_and_a_year_stand_beside_the_one_before_each_row_too(
    client, sign_in, money, pay, shop, regions
):
    pay((shop.sku_500g, 2))
    today = shanghai_today()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    sign_in(money.official)
    for period in (quarter, str(today.year), this_month()):
        expected = api_report(client, money.official_headers, regions.county, period)
        before = previous_period(parse_period(period)).label
        earlier = api_report(client, money.official_headers, regions.county, before)
        page = client.get(f"/console/regions/{regions.county.id}?period={period}")
        assert page.status_code == 200
        html = page.text
        net, previous = expected["totals"]["net_fen"], earlier["totals"]["net_fen"]
        assert f'id="net">{yuan(net)}<' in html
        assert f"上期 {yuan(previous)}，环比 +{yuan(net - previous)}元" in html
        assert f"上期为 {before}" in html
        # Each township's row: its net, the previous period's, and the change.
        rows = html.split('id="rows"')[1].split("</table>")[0]
        for row in expected["rows"]:
            old = next(r["net_fen"] for r in earlier["rows"] if r["region_id"] == row["region_id"])
            cells = rows.split(f"/console/regions/{row['region_id']}?period={period}")[1]
            assert yuan(row["net_fen"]) in cells and yuan(old) in cells
        # The picker offers the month, its quarter and its year, and the period before.
        assert f"period={quarter}" in html and f"period={today.year}" in html
        assert f"period={before}" in html


def test_the_region_page_lists_its_own_livestreams_only(
    client, sign_in, money, shop, regions, live
):
    ours = live.schedule(title="蓝莓村直播")
    theirs = live.schedule(title="人参村直播", room_id="room-2", headers=shop.other_station_headers)
    sign_in(money.official)
    township_a = client.get(f"/console/regions/{regions.township_a.id}").text
    assert ours["title"] in township_a and theirs["title"] not in township_a
    assert "抖音" in township_a
    county = client.get(f"/console/regions/{regions.county.id}").text
    assert ours["title"] in county and theirs["title"] in county


def test_a_regions_households_are_searched_by_name_or_number_and_status(
    client, sign_in, money, regions, make_household
):
    zhang = make_household(
        regions.village_a1,
        head_name="张秀英",
        status=HouseholdStatus.monitoring,
        monitoring_type=MonitoringType.marginal,
    )
    make_household(regions.village_a2, head_name="张德明")
    far = make_household(regions.village_b1, head_name="张远")
    sign_in(money.official)
    url = f"/console/regions/{regions.township_a.id}/households"
    by_name = client.get(url, query_string={"search": "张"}).text
    assert "张秀英" in by_name and "张德明" in by_name and "张远" not in by_name
    assert f"/console/households/{zhang.id}" in by_name and "监测对象" in by_name
    by_number = client.get(url, query_string={"search": zhang.registry_number}).text
    assert "张秀英" in by_number and "张德明" not in by_number
    by_status = client.get(url, query_string={"status": "monitoring", "search": "张"}).text
    assert "张秀英" in by_status and "张德明" not in by_status
    assert 'class="pager"' in by_status
    refused = client.get(url, query_string={"status": "rich"})
    assert refused.status_code == 422 and 'data-field="status"' in refused.text
    # Another township's official sees neither this list nor its households.
    sign_in(money.official_b)
    assert client.get(url).status_code == 404
    own = client.get(f"/console/regions/{regions.township_b.id}/households").text
    assert far.head_name in own and "张秀英" not in own


def test_the_close_page_shows_every_close_and_reopening_with_who_and_why(
    client, session, sign_in, money, shop, regions
):
    last_month = f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    sign_in(money.official)
    page = client.get(f"/console/regions/{regions.township_a.id}/close")
    assert page.status_code == 200 and "还没有关账记录" in page.text
    assert f'value="{last_month}"' in page.text  # last month, unless another is asked for
    closed = client.post(
        f"/console/regions/{regions.county.id}/close",
        data={"month": last_month, "csrf_token": csrf_of(page)},
    )
    assert closed.status_code == 302
    close_id = session.query(MonthClose).one().id
    reopened = client.post(
        f"/api/v1/reports/closes/{close_id}/reopen",
        json={"reason": "县里更正了一笔退款"},
        headers=shop.admin_headers,
    )
    assert reopened.status_code == 200, reopened.json
    # A township's page shows its county's close: it froze the township's month too.
    history = client.get(f"/console/regions/{regions.township_a.id}/close").text
    table = history.split('id="history"')[1]
    assert table.count("<tr>") == 3  # the heading, the close, the reopening
    assert "关账" in table and "重新打开" in table and "县里更正了一笔退款" in table
    assert money.official.display_name in table and shop.admin.display_name in table
    assert regions.county.name in table
    sign_in(money.official_far)
    assert client.get(f"/console/regions/{regions.township_a.id}/close").status_code == 404


def test_a_closed_previous_month_is_compared_from_what_its_close_froze(
    client, sign_in, money, pay, shop, regions
):
    pay((shop.sku_500g, 1))
    last_month = f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    sign_in(money.official)
    page = client.get(f"/console/regions/{regions.county.id}/close?month={last_month}")
    client.post(
        f"/console/regions/{regions.county.id}/close",
        data={"month": last_month, "csrf_token": csrf_of(page)},
    )
    for region in (regions.county, regions.village_a1):
        expected = api_report(client, money.official_headers, region, this_month())
        net = expected["totals"]["net_fen"]
        html = client.get(f"/console/regions/{region.id}?period={this_month()}").text
        assert f"上期 0.00，环比 +{yuan(net)}元" in html


def test_a_period_that_is_none_is_refused_in_chinese(client, sign_in, money, regions):
    sign_in(money.official)
    refused = client.get(f"/console/regions/{regions.county.id}?period=2026-13")
    assert refused.status_code == 400 and "季度（如 2025-Q3）" in refused.text
    assert "a month" not in refused.text
    quarter = client.get(f"/console/regions/{regions.county.id}/close?month=2026-Q3")
    assert quarter.status_code == 400 and "a month" not in quarter.text
