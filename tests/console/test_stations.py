"""A station operator in the console: ships orders, records offline payments, changes prices
and stock, lists a product, uploads a platform export; never another station's."""

import io
from pathlib import Path

import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.orders.models import Order, OrderStatus
from tests.console.conftest import csrf_of
from tests.orders.conftest import basket
from tests.platform_sales.jobs_inline import run_inline
from tests.platform_sales.test_import_bad_input import multipart

SAMPLES = Path(__file__).parent.parent / "platform_sales" / "data"


def test_an_operator_records_the_payment_and_ships_the_order(client, session, sign_in, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 2))).json
    sign_in(shop.station_user)
    listed = client.get("/console/station/orders?view=unpaid")
    assert order["number"] in listed.text
    page = client.get(f"/console/station/orders/{order['id']}")
    token = csrf_of(page)
    # A wrong amount is refused beside the field, and nothing is paid.
    wrong = client.post(
        f"/console/station/orders/{order['id']}/payment",
        data={"csrf_token": token, "method": "cash", "reference": "R-1", "amount": "1.00"},
    )
    assert wrong.status_code == 422
    assert 'data-field="amount_fen"' in wrong.text and 'value="R-1"' in wrong.text
    assert "须等于订单金额" in wrong.text  # the service's reason, in Chinese
    assert session.get(Order, order["id"]).status is OrderStatus.pending_payment
    total = f"{order['total_fen'] / 100:.2f}"
    paid = client.post(
        f"/console/station/orders/{order['id']}/payment",
        data={"csrf_token": token, "method": "cash", "reference": "R-1", "amount": total},
    )
    assert paid.status_code == 302, paid.text
    session.expire_all()
    assert session.get(Order, order["id"]).status is OrderStatus.paid
    assert order["number"] in client.get("/console/station/orders").text  # to ship
    bad = client.post(
        f"/console/station/orders/{order['id']}/shipment",
        data={"csrf_token": token, "carrier": "中国邮政", "tracking_number": "x"},
    )
    assert bad.status_code == 422 and 'data-field="tracking_number"' in bad.text
    assert "运单号为 6–64 位字母、数字或 -" in bad.text
    shipped = client.post(
        f"/console/station/orders/{order['id']}/shipment",
        data={"csrf_token": token, "carrier": "中国邮政", "tracking_number": "9800123456789"},
    )
    assert shipped.status_code == 302
    session.expire_all()
    assert session.get(Order, order["id"]).status is OrderStatus.shipped
    assert "9800123456789" in client.get(f"/console/station/orders/{order['id']}").text


def test_an_operator_changes_a_price_and_the_stock(client, session, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/products")
    assert shop.blueberries.name in page.text and shop.ginseng.name not in page.text
    url = f"/console/station/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}"
    form = {"csrf_token": csrf_of(page), "version": "1"}
    refused = client.post(url, data={**form, "price": "12.345", "stock": "7"})
    assert refused.status_code == 422 and 'value="12.345"' in refused.text
    session.expire_all()
    assert session.get(Sku, shop.sku_500g.id).stock != 7
    changed = client.post(url, data={**form, "price": "45.50", "stock": "7"})
    assert changed.status_code == 302
    session.expire_all()
    sku = session.get(Sku, shop.sku_500g.id)
    assert (sku.price_fen, sku.stock) == (4550, 7)
    # Without the form token, nothing changes.
    forged = client.post(url, data={"price": "1.00", "stock": "1"})
    assert forged.status_code == 400
    session.expire_all()
    assert session.get(Sku, shop.sku_500g.id).price_fen == 4550


def test_an_operator_lists_a_product_as_a_draft_and_publishes_it(client, session, sign_in, shop):
    sign_in(shop.station_user)
    form = client.get("/console/station/products/new")
    fields = {
        "csrf_token": csrf_of(form),
        "name": "",
        "producer_id": str(shop.producer.id),
        "category": "fruit",
        "unit": "盒",
        "sku_code": "NEW-1",
        "sku_spec": "125g×4盒",
        "sku_price": "39.80",
        "sku_stock": "50",
    }
    refused = client.post("/console/station/products/new", data=fields)
    assert refused.status_code == 422 and 'data-field="name">必填<' in refused.text
    assert 'value="NEW-1"' in refused.text  # nothing typed is lost
    created = client.post(
        "/console/station/products/new", data={**fields, "name": "长白山冻干蓝莓"}
    )
    assert created.status_code == 302, created.text
    product = session.execute(
        sa.select(Product).where(Product.name == "长白山冻干蓝莓")
    ).scalar_one()
    assert product.status is ProductStatus.draft
    prices = session.execute(sa.select(Sku.price_fen).where(Sku.product_id == product.id))
    assert prices.scalars().all() == [3980]
    published = client.post(
        f"/console/station/products/{product.id}/publish", data={"csrf_token": csrf_of(form)}
    )
    assert published.status_code == 302
    session.expire_all()
    assert session.get(Product, product.id).status is ProductStatus.active


def test_another_stations_order_and_listing_are_not_found(client, sign_in, shop, place):
    order = place(shop.buyer_headers, basket((shop.sku_ginseng, 1))).json
    sign_in(shop.station_user)
    page = client.get("/console/station/products")
    token = csrf_of(page)
    assert client.get(f"/console/station/orders/{order['id']}").status_code == 404
    paying = client.post(
        f"/console/station/orders/{order['id']}/payment",
        data={"csrf_token": token, "method": "cash", "reference": "X", "amount": "1.00"},
    )
    assert paying.status_code == 404
    (sku,) = shop.ginseng.skus_created
    changing = client.post(
        f"/console/station/products/{shop.ginseng.id}/skus/{sku.id}",
        data={"csrf_token": token, "price": "1.00", "stock": "1", "version": "1"},
    )
    assert changing.status_code == 404
    delisting = client.post(
        f"/console/station/products/{shop.ginseng.id}/delist", data={"csrf_token": token}
    )
    assert delisting.status_code == 404
    # And the officials' pages are not theirs.
    assert client.get("/console/regions/1").status_code == 403


def test_an_upload_without_a_file_names_it_and_a_dry_run_reports_lines(client, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/imports")
    assert "抖音" in page.text
    missing = client.post(
        "/console/station/imports", data={"csrf_token": csrf_of(page), "platform": "douyin"}
    )
    assert missing.status_code == 422 and 'data-field="file"' in missing.text
    unreadable = client.post(
        "/console/station/imports",
        data={
            "csrf_token": csrf_of(page),
            "platform": "douyin",
            "file": (io.BytesIO("订单号\n1\n".encode("utf-16")), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    assert unreadable.status_code == 422 and 'data-field="file"' in unreadable.text
    with open(SAMPLES / "douyin_orders.csv", "rb") as export:
        started = client.post(
            "/console/station/imports",
            data={
                "csrf_token": csrf_of(page),
                "platform": "douyin",
                "dry_run": "1",
                "file": (export, "douyin_orders.csv"),
            },
            content_type="multipart/form-data",
        )
    assert started.status_code == 303, started.text
    job_page = started.headers["Location"]
    waiting = client.get(job_page)
    assert "排队中" in waiting.text and "data-running" in waiting.text
    panel = client.get(f"{job_page}/panel")
    assert panel.status_code == 200 and panel.text.lstrip().startswith("<section")
    run_inline(int(job_page.rsplit("/", 1)[1]))
    report = client.get(f"{job_page}/panel")
    assert "试导入结果（未写入）" in report.text and "data-running" not in report.text
    # Each problem by its line, in Chinese, and the failed rows to download.
    assert 'id="problems"' in report.text and "重复" in report.text
    failed = client.get(f"{job_page}/failed_rows.csv")
    assert failed.status_code == 200 and failed.data.decode("utf-8-sig").startswith("行号,列,问题")


def test_a_festivals_export_is_taken_by_the_upload_form(app, client, sign_in, shop):
    """Larger than anything else a form takes (MAX_CONTENT_LENGTH), up to the exports' cap."""
    sign_in(shop.station_user)
    page = client.get("/console/station/imports")
    header = "订单号,订单状态,订单创建时间,订单支付时间,商品ID,商品名称,商品单价,商品数量,实付款"
    row = (
        "\t2509120000000000,交易成功,2025-09-12 19:08:11,2025-09-12 19:08:20,\t999,人参,"
        "100.00,1,100.00"
    )
    export = ("\r\n".join([header] + [row] * 60_000) + "\r\n").encode("utf-8-sig")
    assert len(export) > app.config["MAX_CONTENT_LENGTH"]

    def post():
        # A body built here: werkzeug's test client spools a large one to a file it never
        # closes, and the warning that leaves fails a later test.
        return client.post(
            "/console/station/imports",
            data=multipart({"csrf_token": csrf_of(page), "platform": "kuaishou"}, export),
            content_type="multipart/form-data; boundary=export-boundary",
        )

    assert post().status_code == 303
    app.config["PLATFORM_IMPORT_MAX_BYTES"] = len(export) // 2
    try:
        refused = post()
    finally:
        app.config["PLATFORM_IMPORT_MAX_BYTES"] = 64 * 1024 * 1024
    assert refused.status_code == 413 and "文件太大" in refused.text
    assert refused.headers["Content-Type"].startswith("text/html")
