"""A station uploads a platform export from the console in a real browser, a real worker
imports it, and the job's page follows it without a reload: queued, a progress bar that moves,
then the counts, each problem in Chinese, and the failed rows to download."""

import time

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.accounts.service import hash_password
from tests.jobs.test_platform_import_jobs import Shop, counts, kuaishou

PASSWORD = "station-upload-2026"


def test_an_upload_from_the_console_shows_its_progress_and_its_failures(
    jobs,
    browser,
    tmp_path,
):
    shop = Shop(jobs, 39)
    with jobs.served.session() as session:
        session.execute(
            sa.update(User)
            .where(User.username == "station-39")
            .values(password_hash=hash_password(PASSWORD))
        )
    rows = 12_000
    export = tmp_path / "kuaishou-festival.csv"
    export.write_bytes(kuaishou(rows, unmapped=(5, 11_500)))

    page = browser.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page.goto(jobs.served.base_url + "/console/login")
    page.fill("input[name=username]", "station-39")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.goto(jobs.served.base_url + "/console/station/imports")
    page.select_option("select[name=platform]", "kuaishou")
    page.set_input_files("input[name=file]", str(export))
    page.uncheck("input[name=dry_run]")
    page.click("#import button[type=submit]")
    page.wait_for_selector("#job[data-state=queued]")
    landed = page.url
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    jobs.start_worker()
    seen = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = page.get_attribute("#job", "data-state")
        value = page.evaluate(
            "() => { const bar = document.querySelector('#job progress[value]');"
            " return bar ? [bar.value, bar.max] : null; }"
        )
        if value:
            seen.add(tuple(value))
        if state == "succeeded":
            break
        time.sleep(0.2)
    assert page.get_attribute("#job", "data-state") == "succeeded"
    assert navigations == [] and page.url == landed  # followed in place, never reloaded
    # The bar moved along the file: seen part way, and full at the end.
    assert any(0 < done < total for done, total in seen), seen
    assert (rows, rows) in seen
    text = page.inner_text("#job")
    assert f"共 {rows} 行：新建 {rows - 2}" in text and "失败 2" in text
    assert "没有" in page.inner_text("#problems")  # the reason, in Chinese
    with page.expect_download() as download:
        page.click("text=下载失败的行（CSV）")
    failed = download.value.path().read_bytes().decode("utf-8-sig").splitlines()
    assert len(failed) == 3 and failed[0].startswith("行号,列,问题,订单号")
    assert counts(jobs, shop.station_id)["orders"] == rows - 2
    page.close()
