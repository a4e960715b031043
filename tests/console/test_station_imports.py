"""A station's platform export as a job in the console: a product with no map is named on its
failed row, with a link that prefills its map; once mapped, one button imports only the failed
rows again. Taobao's missing item report is said beside its field, and the past uploads page."""

import io

import sqlalchemy as sa

from marketplace.orders.models import Order
from marketplace.platform_sales.models import PlatformProduct
from tests.console.conftest import csrf_of
from tests.platform_sales.jobs_inline import run_inline

DOUYIN_HEADER = [
    "主订单编号",
    "子订单编号",
    "选购商品",
    "商品数量",
    "商品ID",
    "商品单价",
    "订单应付金额",
    "订单提交时间",
    "支付完成时间",
    "订单状态",
]


def douyin_export(rows) -> bytes:
    """A Douyin order export of ``(order id, title, product id, quantity, unit price)``
    rows, paid and waiting to ship, as the platform writes it (BOM, tab-prefixed ids)."""
    lines = [",".join(DOUYIN_HEADER)]
    for order_id, title, product_id, quantity, price in rows:
        paid = f"{quantity * float(price):.2f}"
        lines.append(
            f'"\t{order_id}","\t{order_id}",{title},{quantity},"\t{product_id}",{price},{paid},'
            "2026-11-20 10:00:00,2026-11-20 10:00:09,待发货"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def upload(client, token, data: bytes, **fields):
    return client.post(
        "/console/station/imports",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "file": (io.BytesIO(data), "douyin.csv"),
            **fields,
        },
        content_type="multipart/form-data",
    )


def test_an_unmapped_product_is_named_mapped_and_its_rows_imported_again(
    client, session, sign_in, shop
):
    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/imports"))
    mapped = client.post(
        "/console/station/platform-products",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "outside_id": "3700000000000000501",
            "sku_id": shop.sku_500g.id,
        },
    )
    assert mapped.status_code == 303
    export = douyin_export(
        [
            ("6920261120000000001", "野生蓝莓 500g 礼盒", "3700000000000000501", 1, "68.00"),
            (
                "6920261120000000002",
                "【直播专享】野生蓝莓 1kg 礼盒装",
                "3700000000000000502",
                2,
                "128.00",
            ),
        ]
    )
    started = upload(client, token, export)
    assert started.status_code == 303, started.text
    job_page = started.headers["Location"]
    run_inline(int(job_page.rsplit("/", 1)[1]))
    page = client.get(job_page)
    assert '<strong id="failed-lines">1</strong>' in page.text
    # The reason in Chinese beside the line, the product as the export names it, a link to map it.
    assert "本站没有规格映射到这个平台的商品 3700000000000000502" in page.text
    assert "【直播专享】野生蓝莓 1kg 礼盒装" in page.text
    assert "outside_id=3700000000000000502" in page.text and "platform=douyin" in page.text
    assert "platform_row" not in page.text and "douyin ·" not in page.text

    mappings = client.get(
        "/console/station/platform-products?platform=douyin&outside_id=3700000000000000502"
    )
    assert 'value="3700000000000000502"' in mappings.text
    # Seen in the upload, with the SKU whose name best matches offered first.
    unmapped = mappings.text.split('id="unmapped"')[1].split("</section>")[0]
    assert "3700000000000000502" in unmapped
    assert unmapped.index("1kg 礼盒") < unmapped.index("500g 礼盒")
    client.post(
        "/console/station/platform-products",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "outside_id": "3700000000000000502",
            "sku_id": shop.sku_1kg.id,
        },
    )
    assert 'id="unmapped"' not in client.get("/console/station/platform-products").text

    again = client.post(f"{job_page}/again", data={"csrf_token": token})
    assert again.status_code == 303, again.text
    second_page = again.headers["Location"]
    assert second_page != job_page
    run_inline(int(second_page.rsplit("/", 1)[1]))
    done = client.get(second_page)
    assert "共 1 行：新建 1" in done.text and '<strong id="failed-lines">0</strong>' in done.text
    assert session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one() == 2

    uploads = client.get("/console/station/imports")
    assert uploads.text.count("/console/station/imports/jobs/") >= 2
    assert 'class="pager"' in uploads.text


def test_taobaos_missing_item_report_is_said_beside_its_field(client, sign_in, shop):
    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/imports"))
    refused = upload(client, token, b"x", platform="taobao")
    assert refused.status_code == 422
    assert 'data-field="items"' in refused.text and "淘宝订单还须同时上传宝贝报表" in refused.text


def test_another_stations_job_cannot_be_imported_again(client, session, sign_in, shop):
    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/imports"))
    export = douyin_export([("6920261120000000009", "人参", "999", 1, "10.00")])
    job_page = upload(client, token, export).headers["Location"]
    run_inline(int(job_page.rsplit("/", 1)[1]))
    sign_in(shop.other_station_user)
    token = csrf_of(client.get("/console/station/imports"))
    assert client.get(job_page).status_code == 404
    assert client.post(f"{job_page}/again", data={"csrf_token": token}).status_code == 404
    assert session.execute(sa.select(PlatformProduct)).first() is None


def test_a_jobs_problems_page_through_the_job_page(client, sign_in, shop):
    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/imports"))
    rows = [(f"69202611200001{n:02d}", "人参", f"9{n:02d}", 1, "10.00") for n in range(25)]
    job_page = upload(client, token, douyin_export(rows)).headers["Location"]
    run_inline(int(job_page.rsplit("/", 1)[1]))
    # The panel alone (what the page fetches) links its pages to the job's page.
    panel = client.get(f"{job_page}/panel")
    assert f'href="{job_page}?page=2"' in panel.text
    second = client.get(f"{job_page}?page=2")
    assert "第 21–25 个问题，共 25 个问题" in second.text
    assert "商品 924" in second.text
