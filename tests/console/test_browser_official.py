"""An official's whole job in the browser, on a phone and at a desk, as the demo county's
official does it: the month, then the quarter and the year beside the period before; down to a
village's households and one found by name; the close page with its history, and closing last
month; then a payout run proposed, approved by a second official, its bank batch downloaded,
the bank's return uploaded, and the lines paid. Every page is checked (no sideways scroll,
axe-core clean).

Each width works on its own village and township, so the two runs share nothing they change.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role, User
from marketplace.accounts.service import create_user
from marketplace.clock import shanghai_today
from marketplace.payouts.models import LineStatus, PayeeKind, PayoutLine
from marketplace.regions.models import Region, RegionLevel
from tests.console.browser import DESKTOP, PHONE, check_page, screenshot, sign_in
from tests.payouts.conftest import actor_for, return_file

pytestmark = pytest.mark.postgres

OFFICIAL = ("official_county", "county-demo-2024")
#: a second official of the county, made by the test: the checker of a run
CHECKER = ("official_checker", "checker-demo-2024")
#: each width's own village (by rank on its township's page) and own township (by name order)
WIDTHS = [pytest.param(PHONE, 0, id="phone"), pytest.param(DESKTOP, 1, id="desktop")]


def last_month() -> str:
    return f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"


def ensure_checker(demo) -> None:
    """A second county official, made through the accounts service (the demo has one)."""
    with demo.session() as session:
        if session.execute(sa.select(User.id).where(User.username == CHECKER[0])).first():
            return
        admin = session.execute(sa.select(User).where(User.role == Role.admin)).scalars().first()
        county = session.execute(
            sa.select(Region).where(Region.level == RegionLevel.county, Region.name == "青松县")
        ).scalar_one()
        create_user(
            session,
            actor_for(admin),
            {
                "username": CHECKER[0],
                "password": CHECKER[1],
                "display_name": "复核员",
                "role": Role.official,
                "region_id": county.id,
            },
        )


def townships(demo) -> list[str]:
    with demo.session() as session:
        county = session.execute(sa.select(Region).where(Region.name == "青松县")).scalar_one()
        return list(
            session.execute(
                sa.select(Region.name).where(Region.parent_id == county.id).order_by(Region.id)
            ).scalars()
        )


def go(page, selector: str):
    """Click a link or button that loads a page, and check the page it loads."""
    with page.expect_navigation():
        page.click(selector)
    check_page(page)


@pytest.mark.parametrize(("viewport", "mine"), WIDTHS)
def test_an_official_reviews_compares_drills_to_households_and_closes_last_month(
    browser, demo, viewport, mine
):
    page = browser.new_page(viewport=viewport)
    sign_in(page, demo, *OFFICIAL)
    page.wait_for_url("**/console/regions/*")
    check_page(page)
    assert page.locator("#figures .compare").count() == 6  # every figure beside last period's

    go(page, "#periods a:has-text('按季')")
    assert "-Q" in page.url and "上期" in page.locator("#figures").inner_text()
    go(page, "#periods a:has-text('按年')")
    year = page.url.rsplit("period=", 1)[1]
    assert len(year) == 4
    assert f"上期为 {int(year) - 1}" in page.inner_text("main")
    if viewport is PHONE:
        screenshot(page, "official-year")
    # Rows carry last period's figure and the change beside each township.
    assert page.locator("#rows tbody tr").first.locator("td.change").count() == 1

    go(page, "#rows a >> nth=0")  # the township that earned most this year
    assert f"period={year}" in page.url  # drilling keeps the period
    go(page, f"#rows a >> nth={mine}")  # this width's village
    village_url = page.url
    go(page, "a:has-text('建档户名单')")
    first = page.locator("#households tbody tr").first.locator("td").first.inner_text()
    page.fill("input[name=search]", first)
    go(page, "form.filters button")
    names = page.locator("#households tbody tr td:first-child").all_inner_texts()
    assert names and all(first in name for name in names)
    if viewport is PHONE:
        screenshot(page, "official-households")
    go(page, f"#households a:has-text('{first}')")
    assert "/console/households/" in page.url

    page.goto(village_url)
    go(page, "a:has-text('关账与历史')")
    month = last_month()
    assert page.input_value("input[name=month]") == month
    go(page, f"button:has-text('确认关账 {month}')")
    assert f"period={month}" in page.url and "已关账" in page.inner_text("main")
    go(page, "a:has-text('关账与历史')")
    history = page.locator("#history tbody").inner_text()
    assert month in history and "关账" in history
    if viewport is PHONE:
        screenshot(page, "official-close")
    page.close()


@pytest.mark.parametrize(("viewport", "mine"), WIDTHS)
def test_a_run_is_proposed_approved_by_another_official_sent_and_paid(
    browser, demo, viewport, mine, tmp_path
):
    ensure_checker(demo)
    township = townships(demo)[mine]
    page = browser.new_page(viewport=viewport, accept_downloads=True)
    sign_in(page, demo, *OFFICIAL)
    go(page, "header a:has-text('发放')")
    page.select_option("select[name=region_id]", label=f"{township}（乡镇）")
    go(page, "#propose button")
    run_id = int(page.url.split("/console/payouts/")[1].split("?")[0])
    assert "批次已提出" in page.inner_text("main")

    # The proposer is refused, in Chinese, and the run still waits.
    go(page, "#approve")
    assert "提出发放批次的人不能批准" in page.inner_text("main")
    assert page.inner_text("#run-status") == "待审批"
    go(page, "header button:has-text('退出')")

    sign_in(page, demo, *CHECKER)
    check_page(page)
    page.goto(f"{demo.base_url}/console/approvals")
    check_page(page)
    go(page, f"#runs a:has-text('#{run_id}')")
    go(page, "#approve")
    assert page.inner_text("#run-status") == "已审批"

    with page.expect_download() as download:
        page.click("text=一卡通批量文件 XLSX")
    sent = tmp_path / "batch.xlsx"
    download.value.save_as(sent)
    answer = return_file(sent.read_bytes())
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "回执.xlsx", "mimeType": "application/octet-stream", "buffer": answer}],
    )
    go(page, "#return button")
    assert "回执已导入" in page.inner_text("main")
    with demo.session() as session:
        households = session.execute(
            sa.select(PayoutLine.status).where(
                PayoutLine.run_id == run_id, PayoutLine.payee_kind == PayeeKind.household
            )
        ).scalars()
        statuses = set(households)
    assert statuses == {LineStatus.paid}
    go(page, "#lines a:has-text('已到账')")
    assert page.locator("#lines tbody tr td.status").first.inner_text().startswith("已到账")
    if viewport is PHONE:
        screenshot(page, "official-payout-run")
    page.close()
