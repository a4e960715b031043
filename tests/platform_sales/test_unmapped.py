"""What a station's map is missing, read from its uploads' problems and failed rows, and the
failed rows of an upload imported again on their own once the map is fixed (Taobao's beside
the order report first uploaded)."""

import pytest

from marketplace.accounts.auth import actor_for_user_id
from marketplace.errors import NotFound
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import import_jobs, importing, mapping, unmapped
from marketplace.platform_sales.models import PlatformImport
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.platform_sales.jobs_inline import run_inline
from tests.platform_sales.test_imports import imported, upload, village  # noqa: F401


def test_an_unmapped_taobao_product_is_listed_then_its_rows_imported_again(
    client, session, village, shop
):
    actor = actor_for_user_id(session, shop.station_user.id)
    mapping.unmap_product(session, actor, shop.station.id, Platform.taobao, "KST-RS-5")
    before = upload(client, village, "taobao", "taobao_orders.csv", items="taobao_order_items.csv")
    assert before.status_code == 201, before.json
    assert before.json["failed_lines"] == 3
    imported_before = len(imported(session, Platform.taobao))

    # The sample's own unmapped product (not on the station's list) comes after it.
    missing, never_listed = unmapped.unmapped_products(session, actor, shop.station.id)
    assert never_listed["outside_id"] == "KST-TDF-500"
    assert (missing["platform"], missing["outside_id"]) == ("taobao", "KST-RS-5")
    assert "人参" in missing["title"]  # as Taobao's item report names it
    assert missing["job_id"] == before.job["id"]
    other = actor_for_user_id(session, shop.other_station_user.id)
    assert unmapped.unmapped_products(session, other, shop.other_station.id) == []

    skus = unmapped.station_skus(session, actor, shop.station.id)
    best = unmapped.suggestions(skus, missing["title"])[0]
    assert best["code"] == "KST-RS"
    mapping.map_products(
        session,
        actor,
        shop.station.id,
        [{"platform": Platform.taobao, "outside_id": "KST-RS-5", "sku_id": best["sku_id"]}],
    )
    assert unmapped.unmapped_products(session, actor, shop.station.id) == [never_listed]

    again = import_jobs.import_failed_rows_again(session, actor, before.job["id"])
    assert again.parameters["session_id"] is None and again.parameters["platform"] == "taobao"
    assert run_inline(again.id).state.value == "succeeded"
    record = session.get(PlatformImport, again.result["platform_import_id"])
    # Only the failed rows were read: the ginseng now mapped is taken (its other row is an
    # order still unpaid), the product never listed fails again, the duplicate is one again.
    counts = (record.rows, record.created_lines, record.skipped_lines, record.failed_lines)
    assert counts == (4, 1, 1, 1)
    assert len(imported(session, Platform.taobao)) == imported_before + 1
    problems, total = importing.list_problems(
        session, actor, before.json["id"], page=1, page_size=2
    )
    assert total == 4 and [p.line for p in problems] == [4, 8]
    left, _ = importing.list_problems(session, actor, record.id, page=1, page_size=10)
    assert [p.reason["params"]["product_key"] for p in left] == ["KST-TDF-500"]


def test_only_the_uploaders_own_failed_rows_are_imported_again(client, session, village, shop):
    actor = actor_for_user_id(session, shop.station_user.id)
    mapping.unmap_product(session, actor, shop.station.id, Platform.douyin, "3700000000000000101")
    before = upload(client, village, "douyin", "douyin_orders.csv")
    assert before.json["failed_lines"] >= 1
    other = actor_for_user_id(session, shop.other_station_user.id)
    with pytest.raises(NotFound):
        import_jobs.import_failed_rows_again(session, other, before.job["id"])
    with pytest.raises(NotFound):
        import_jobs.import_failed_rows_again(session, actor, before.job["id"] + 1000)


def test_a_dry_runs_unmapped_product_is_listed_too(client, session, village, shop):
    actor = actor_for_user_id(session, shop.station_user.id)
    mapping.unmap_product(session, actor, shop.station.id, Platform.douyin, "3700000000000000102")
    tried = upload(client, village, "douyin", "douyin_orders.csv", dry_run=True)
    assert tried.status_code == 200 and tried.json["dry_run"]
    listed = {
        product["outside_id"]: product
        for product in unmapped.unmapped_products(session, actor, shop.station.id)
    }
    assert listed["3700000000000000102"]["title"] == "长白山开口红松子"
    assert listed["3700000000000000102"]["job_id"] == tried.job["id"]
