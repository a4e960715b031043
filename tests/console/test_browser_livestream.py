"""A station runs a livestream and its Douyin import from the console alone, in headless
Chromium at a phone's width and a desk's: it schedules a session, features a SKU at a live
price with a cap, goes live; a buyer orders at the live price (through the API, as the
storefront does); it ends the session, maps its Douyin products, uploads the platform's export
and watches the job finish with one row failed for a product it had not mapped, maps it from
the link on that row, imports only the failed rows again and reads the session's results.

Each page visited is checked for sideways scrolling and by axe-core. The demo county is shared
by the browser tests, so this one makes its own session, room, code and product ids.
"""

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Sku
from marketplace.clock import SHANGHAI
from marketplace.extensions import db
from marketplace.jobs import running
from tests.console.browser import DESKTOP, PHONE, api, check_page, screenshot, sign_in, token_of
from tests.orders.conftest import ADDRESS

pytestmark = pytest.mark.postgres

OPERATOR = ("station_shenyuan", "shenyuan-demo-2024")
DOUYIN_HEADER = (
    "主订单编号,子订单编号,选购商品,商品ID,商品数量,商品单价,订单应付金额,订单提交时间,"
    "支付完成时间,订单状态,售后状态,流量体裁"
)


def douyin_export(placed: datetime, rows) -> bytes:
    """The platform's export of ``(order id, title, product id, unit price)`` rows, one unit
    each, sold live at ``placed`` and paid: its BOM, its tab-prefixed ids, Beijing time."""
    at = placed.astimezone(SHANGHAI)
    lines = [DOUYIN_HEADER]
    for order_id, title, product_id, price in rows:
        lines.append(
            f"\t{order_id},\t{order_id},{title},\t{product_id},1,{price},{price},"
            f"{at:%Y-%m-%d %H:%M:%S},{at + timedelta(seconds=9):%Y-%m-%d %H:%M:%S},"
            "待发货,-,直播"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def run_queued_job(demo, page) -> int:
    """The job the page follows, run in this process (the served demo has no worker): the
    page's own script then shows it finished, without a reload."""
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    with demo.app.app_context():
        try:
            running.work(db.session, job_id, progress=lambda done, total: None)
        finally:
            db.session.remove()
    page.wait_for_selector("#job[data-state=succeeded]", timeout=15_000)
    return job_id


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_station_runs_a_livestream_and_its_douyin_import_in_the_console(browser, demo, viewport):
    mark = uuid.uuid4().hex[:8].upper()
    code, room = f"SY{mark}", f"shenyuan-{mark}"
    mapped_id, unmapped_id = f"39{int(mark, 16)}1", f"39{int(mark, 16)}2"
    with demo.session() as session:
        tea = session.execute(sa.select(Sku).where(Sku.code == "SYC-241")).scalar_one()
        tea_id = tea.id
    page = browser.new_page(viewport=viewport)
    shots = viewport is PHONE
    sign_in(page, demo, *OPERATOR)

    # Schedule the session.
    page.goto(demo.base_url + "/console/station/livestreams")
    check_page(page)
    page.click("text=新建直播")
    check_page(page)
    starts = datetime.now(SHANGHAI) + timedelta(hours=1)
    page.fill("input[name=title]", f"参园村人参节 {mark}")
    page.fill("input[name=host_name]", "韩立军")
    page.select_option("select[name=platform]", "douyin")
    page.fill("input[name=room_id]", room)
    page.fill("input[name=scheduled_start]", f"{starts:%Y-%m-%dT%H:%M}")
    page.fill("input[name=scheduled_end]", f"{starts + timedelta(hours=2):%Y-%m-%dT%H:%M}")
    page.fill("input[name=code]", code)
    page.click("#session-form button[type=submit]")
    page.wait_for_selector("#state[data-state=scheduled]")
    session_url = page.url
    session_id = int(session_url.rsplit("/", 1)[1])
    check_page(page)

    # Feature the dandelion tea at a live price with a cap, then go live.
    page.select_option("#feature select[name=sku_id]", str(tea_id))
    page.fill("#feature input[name=price]", "29.90")
    page.fill("#feature input[name=cap]", "5")
    page.click("#feature button[type=submit]")
    page.wait_for_selector(f"#featured-{tea_id}")
    assert "29.90" in page.input_value(f"#featured-{tea_id} input[name=price]")
    check_page(page)
    page.click("#move-start")
    page.wait_for_selector("#state[data-state=live]")
    went_live = datetime.now(SHANGHAI)
    check_page(page)

    # A buyer orders on air: the live price, within the cap.
    buyer = token_of(demo, "buyer_zhang", "zhangwei-demo-2024")
    order = api(
        demo,
        "POST",
        "/orders",
        {
            "lines": [{"sku_id": tea_id, "quantity": 2}],
            "shipping_address": dict(ADDRESS),
            "livestream_code": code,
        },
        token=buyer,
    )
    assert order["total_fen"] == 2 * 2990
    # Paid at the counter (the card payment is the storefront's and Stripe's).
    station = token_of(demo, *OPERATOR)
    api(
        demo,
        "POST",
        f"/orders/{order['id']}/offline-payments",
        {"method": "cash", "reference": f"LIVE-{mark}", "amount_fen": order["total_fen"]},
        token=station,
    )
    page.reload()
    assert page.inner_text(f"#featured-{tea_id} td:nth-child(4)") == "2"

    page.click("#move-end")
    page.wait_for_selector("#state[data-state=ended]")
    check_page(page)

    # Map the Douyin product sold on air by pasting it, as copied from a spreadsheet.
    page.goto(demo.base_url + "/console/station/platform-products")
    check_page(page)
    page.select_option("#paste select[name=platform]", "douyin")
    page.fill("#paste textarea[name=lines]", f"{mapped_id}\tSYC-241")
    page.click("#paste button[type=submit]")
    page.wait_for_selector("text=已保存 1 行")
    check_page(page)

    # Upload the platform's export: one product mapped, one not.
    page.goto(demo.base_url + "/console/station/imports")
    check_page(page)
    export = douyin_export(
        went_live + timedelta(seconds=5),
        [
            (f"69{int(mark, 16)}01", "【人参节】长白山蒲公英茶 100g 罐装", mapped_id, "29.90"),
            (f"69{int(mark, 16)}02", "【人参节】参花茶 人参花蕾 50g", unmapped_id, "68.00"),
        ],
    )
    page.select_option("#import select[name=platform]", "douyin")
    page.set_input_files(
        "#import input[name=file]",
        {"name": f"抖店订单_{mark}.csv", "mimeType": "text/csv", "buffer": export},
    )
    page.select_option("#import select[name=session_id]", str(session_id))
    page.uncheck("#import input[name=dry_run]")
    page.click("#import button[type=submit]")
    page.wait_for_selector("#job[data-state=queued]")
    check_page(page)
    run_queued_job(demo, page)
    assert page.inner_text("#failed-lines") == "1"
    failed_row = page.locator("#problems tr.unmapped")
    assert unmapped_id in failed_row.inner_text() and "参花茶" in failed_row.inner_text()
    check_page(page)
    if shots:
        screenshot(page, "livestream-import")
    job_url = page.url

    # Map it from the failed row's link: the form is filled in, the flower tea suggested.
    failed_row.locator("a").click()
    page.wait_for_selector("#map input[name=outside_id]")
    assert page.input_value("#map input[name=outside_id]") == unmapped_id
    check_page(page)
    suggested = page.locator("#map select[name=sku_id]")
    assert "人参花茶" in suggested.locator("option:checked").inner_text()
    if shots:
        screenshot(page, "livestream-mapping")
    page.click("#map button[type=submit]")
    page.wait_for_selector(f"text=已保存商品 {unmapped_id} 的对应")
    check_page(page)

    # Import only the failed rows again.
    page.goto(job_url)
    page.click("#again")
    page.wait_for_url(lambda url: url != job_url and "/console/station/imports/jobs/" in url)
    run_queued_job(demo, page)
    assert page.inner_text("#failed-lines") == "0"
    assert "共 1 行：新建 1" in page.inner_text("#counts")
    check_page(page)

    # The session's results: the buyer's two on air and the two Douyin sales.
    page.goto(session_url)
    assert page.inner_text("#orders") == "3"
    assert page.inner_text("#net") == f"{(2 * 2990 + 2990 + 6800) / 100:,.2f}"
    assert "人参花茶" in page.inner_text("#by-sku")
    check_page(page)
    if shots:
        screenshot(page, "livestream-session")
    page.close()
