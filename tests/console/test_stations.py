"""A station operator in the console: ships orders, records offline payments, changes prices
and stock, lists a product, uploads a platform export; never another station's."""

import io
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductImage, ProductStatus, Sku
from marketplace.clock import shanghai_today
from marketplace.console.listing import PAGE_SIZE
from marketplace.orders.models import Order, OrderStatus, PaymentStatus
from marketplace.payments.models import Refund, RefundState
from tests.catalog.conftest import png_bytes
from tests.console.conftest import csrf_of
from tests.orders.conftest import basket
from tests.payments.conftest import (  # noqa: F401  (shared fixtures)
    paid_stripe_order,
    send_event,
    stand_in_stripe,
    stripe_order,
)
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
        "skus.0.code": "NEW-1",
        "skus.0.spec": "125g×4盒",
        "skus.0.price": "0",
        "skus.0.stock": "50",
    }
    refused = client.post("/console/station/products/new", data=fields)
    assert refused.status_code == 422 and 'data-field="name">必填<' in refused.text
    # The SKU's reasons beside its own fields, a price's range in yuan.
    assert 'data-field="skus.0.price_fen">至少 0.01 元<' in refused.text
    assert 'value="NEW-1"' in refused.text and 'value="0"' in refused.text  # nothing is lost
    fields.update({"name": "长白山冻干蓝莓", "skus.0.price": "39.80", "skus.0.code": "NEW 1"})
    refused = client.post("/console/station/products/new", data=fields)
    assert refused.status_code == 422 and 'data-field="skus.0.code"' in refused.text
    created = client.post("/console/station/products/new", data={**fields, "skus.0.code": "NEW-1"})
    assert created.status_code == 302, created.text
    product = session.execute(
        sa.select(Product).where(Product.name == "长白山冻干蓝莓")
    ).scalar_one()
    assert created.headers["Location"].endswith(f"/console/station/products/{product.id}")
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


# --- finding orders -----------------------------------------------------------------------


def _order_for(place, shop, sku, phone, quantity=1):
    body = basket((sku, quantity))
    body["shipping_address"]["recipient_phone"] = phone
    return place(shop.buyer_headers, body).json


def test_an_operator_finds_an_order_by_number_phone_tail_state_and_date(
    client, sign_in, shop, place
):
    mine = _order_for(place, shop, shop.sku_500g, "13912345678")
    other = _order_for(place, shop, shop.sku_1kg, "13900009999")
    theirs = _order_for(place, shop, shop.sku_ginseng, "13912345678")
    sign_in(shop.station_user)

    def listed(query):
        page = client.get(f"/console/station/orders?{query}")
        assert page.status_code == 200, page.text
        return {o["number"] for o in (mine, other, theirs) if o["number"] in page.text}

    # A search looks in every state unless one is chosen.
    assert listed(f"number={mine['number'][-5:].lower()}") == {mine["number"]}
    assert listed("phone_tail=5678") == {mine["number"]}
    assert listed("phone_tail=5678&view=to_ship") == set()
    assert listed("view=unpaid") == {mine["number"], other["number"]}
    today = shanghai_today()
    assert listed(f"created_from={today}&created_to={today}") == {mine["number"], other["number"]}
    assert listed(f"created_to={today - timedelta(days=1)}") == set()
    # The phone is shown by its tail only.
    page = client.get("/console/station/orders?view=all").text
    assert "尾号 5678" in page and "13912345678" not in page


def test_a_bad_search_is_refused_beside_its_field(client, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/orders?phone_tail=12a4&created_from=2026-13-01")
    assert page.status_code == 422
    assert 'data-field="phone_tail">请输入手机号后 4 位数字<' in page.text
    assert 'data-field="created_from"' in page.text and 'value="12a4"' in page.text


def test_the_order_list_pages_and_keeps_its_search(client, sign_in, shop, place, make_product):
    plenty = make_product(
        shop.station, shop.producer, skus=[{"spec": "1 袋", "price_fen": 500, "stock": 100}]
    )
    (sku,) = plenty.skus_created
    for _ in range(PAGE_SIZE + 1):
        _order_for(place, shop, sku, "13911112222")
    sign_in(shop.station_user)
    first = client.get("/console/station/orders?phone_tail=2222")
    assert f"共 {PAGE_SIZE + 1} 单" in first.text
    assert 'href="/console/station/orders?phone_tail=2222&amp;page=2"' in first.text
    second = client.get("/console/station/orders?phone_tail=2222&page=2")
    assert f"第 {PAGE_SIZE + 1}–{PAGE_SIZE + 1} 单" in second.text


# --- refunds ------------------------------------------------------------------------------


def test_an_operator_refunds_part_of_a_line_paid_in_cash(client, session, sign_in, shop, pay):
    order = pay((shop.sku_500g, 2), (shop.sku_1kg, 1))
    line_500g = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)
    sign_in(shop.station_user)
    page = client.get(f"/console/station/orders/{order['id']}")
    assert 'id="refund"' in page.text
    form = {
        "csrf_token": csrf_of(page),
        "refund_key": "a" * 32,
        "lines.0.order_line_id": str(line_500g["id"]),
        "lines.0.quantity": "3",
        "reason": "买家退回一盒",
    }
    url = f"/console/station/orders/{order['id']}/refund"
    refused = client.post(url, data=form)
    assert refused.status_code == 422
    assert 'data-field="lines.0.quantity">最多可退 2 件<' in refused.text
    done = client.post(url, data={**form, "lines.0.quantity": "1"})
    assert done.status_code == 302, done.text
    # The same press again (the page's key) is the same refund, not a second one.
    assert client.post(url, data={**form, "lines.0.quantity": "1"}).status_code == 302
    session.expire_all()
    assert session.get(Order, order["id"]).payment_status is PaymentStatus.partially_refunded
    (refund,) = session.scalars(sa.select(Refund).where(Refund.order_id == order["id"])).all()
    assert (refund.amount_fen, refund.state) == (6800, RefundState.succeeded)
    shown = client.get(f"/console/station/orders/{order['id']}").text
    assert 'class="refund-state">已退款<' in shown and "买家退回一盒" in shown


def test_a_card_refund_shows_pending_until_the_provider_confirms(
    client, session, sign_in, shop, paid_stripe_order, stand_in_stripe
):
    order = paid_stripe_order((shop.sku_500g, 1))
    sign_in(shop.station_user)
    page = client.get(f"/console/station/orders/{order['id']}")
    done = client.post(
        f"/console/station/orders/{order['id']}/refund",
        data={
            "csrf_token": csrf_of(page),
            "lines.0.order_line_id": str(order["lines"][0]["id"]),
            "lines.0.quantity": "1",
            "reason": "买家不要了",
        },
    )
    assert done.status_code == 302, done.text
    assert [sent["amount_fen"] for sent in stand_in_stripe.refunds] == [6800]
    shown = client.get(f"/console/station/orders/{order['id']}").text
    assert 'class="refund-state">退款中<' in shown


def test_another_stations_line_is_not_refunded(client, sign_in, shop, pay):
    order = pay((shop.sku_ginseng, 1), headers=shop.other_station_headers)
    sign_in(shop.station_user)
    page = client.get("/console/station/orders")
    refused = client.post(
        f"/console/station/orders/{order['id']}/refund",
        data={
            "csrf_token": csrf_of(page),
            "lines.0.order_line_id": str(order["lines"][0]["id"]),
            "lines.0.quantity": "1",
            "reason": "试试",
        },
    )
    assert refused.status_code == 404


# --- listings -----------------------------------------------------------------------------


def test_an_operator_searches_the_listings_by_name_state_and_producer(
    client, sign_in, shop, make_product, make_producer
):
    second = make_producer(shop.station)
    make_product(
        shop.station, second, name="黑木耳", search_text="黑木耳", status=ProductStatus.draft
    )
    sign_in(shop.station_user)

    def listed(query):
        page = client.get(f"/console/station/products?{query}")
        assert page.status_code == 200, page.text
        return {name for name in ("野生蓝莓", "黑木耳", "林下参") if f">{name}</a>" in page.text}

    assert listed("") == {"野生蓝莓", "黑木耳"}
    assert listed("q=木耳") == {"黑木耳"}
    assert listed("status=draft") == {"黑木耳"}
    assert listed("status=active") == {"野生蓝莓"}
    assert listed(f"producer_id={shop.producer.id}") == {"野生蓝莓"}
    refused = client.get("/console/station/products?producer_id=x")
    assert refused.status_code == 422 and 'data-field="producer_id"' in refused.text


def test_the_listings_page_and_keep_their_search(client, sign_in, shop, make_product):
    for n in range(PAGE_SIZE):
        make_product(shop.station, shop.producer, name=f"木耳{n}", search_text=f"木耳{n}")
    sign_in(shop.station_user)
    first = client.get("/console/station/products?q=木耳")
    assert f"共 {PAGE_SIZE} 件" in first.text and "page=2" not in first.text
    everything = client.get("/console/station/products")
    assert f"共 {PAGE_SIZE + 1} 件" in everything.text and "page=2" in everything.text
    # A price changed on page 2 brings the operator back to page 2.
    second = client.get("/console/station/products?page=2")
    url = f"/console/station/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}?page=2"
    changed = client.post(
        url, data={"csrf_token": csrf_of(second), "version": "1", "price": "70", "stock": "9"}
    )
    assert changed.status_code == 302
    assert changed.headers["Location"].endswith(f"?page=2#sku-{shop.sku_500g.id}")


def test_a_price_out_of_range_is_said_in_yuan(client, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/products")
    url = f"/console/station/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}"
    form = {"csrf_token": csrf_of(page), "version": "1", "stock": "1"}
    low = client.post(url, data={**form, "price": "0.00"})
    assert low.status_code == 422 and 'data-field="price_fen">至少 0.01 元<' in low.text
    high = client.post(url, data={**form, "price": "1000000.01"})
    assert high.status_code == 422 and 'data-field="price_fen">最多 1000000.00 元<' in high.text


def test_an_operator_edits_a_product_and_a_stale_edit_is_refused(
    client, session, sign_in, shop, regions
):
    sign_in(shop.station_user)
    url = f"/console/station/products/{shop.blueberries.id}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="野生蓝莓"' in page.text
    # Where it may come from: the villages of the station's county, none of another's.
    assert ">木耳村</option>" in page.text and "远山村" not in page.text
    form = {
        "csrf_token": csrf_of(page),
        "version": str(shop.blueberries.version),
        "name": "长白山野生蓝莓",
        "producer_id": str(shop.producer.id),
        "origin_village_id": str(regions.village_b2.id),
        "category": "fruit",
        "unit": "盒",
        "subtitle": "",
        "description": "林下采摘，当天冷链发出。",
        "certificate.number": "JL-2026-001",
        "certificate.level": "county",
        "certificate.valid_from": "2026-01-01",
        "certificate.valid_to": "2025-01-01",
    }
    refused = client.post(url, data=form)
    assert refused.status_code == 422 and 'data-field="certificate.valid_to"' in refused.text
    saved = client.post(url, data={**form, "certificate.valid_to": ""})
    assert saved.status_code == 302, saved.text
    session.expire_all()
    product = session.get(Product, shop.blueberries.id)
    assert (product.name, product.certificate_number) == ("长白山野生蓝莓", "JL-2026-001")
    assert product.description == "林下采摘，当天冷链发出。"
    assert product.origin_village_id == regions.village_b2.id
    # The same form again names the version it was read at: someone saved since.
    stale = client.post(url, data={**form, "certificate.valid_to": "", "name": "蓝莓"})
    assert stale.status_code == 409 and "请刷新后重新修改" in stale.text
    session.expire_all()
    assert session.get(Product, shop.blueberries.id).name == "长白山野生蓝莓"


def test_an_operator_uploads_and_removes_an_image(client, session, sign_in, shop):
    sign_in(shop.station_user)
    url = f"/console/station/products/{shop.blueberries.id}"
    page = client.get(url)
    images_url = f"{url}/images"
    empty = client.post(images_url, data={"csrf_token": csrf_of(page)})
    assert empty.status_code == 422 and 'data-field="file"' in empty.text
    uploaded = client.post(
        images_url,
        data={"csrf_token": csrf_of(page), "file": (io.BytesIO(png_bytes(4, 3)), "蓝莓.png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, uploaded.text
    (image,) = session.scalars(
        sa.select(ProductImage).where(ProductImage.product_id == shop.blueberries.id)
    ).all()
    shown = client.get(url).text
    assert f'src="/api/v1/media/{image.storage_key}"' in shown
    removed = client.post(f"{images_url}/{image.id}/delete", data={"csrf_token": csrf_of(page)})
    assert removed.status_code == 302
    session.expire_all()
    assert session.get(ProductImage, image.id) is None


def test_another_stations_product_page_is_not_found(client, sign_in, shop):
    sign_in(shop.station_user)
    token = csrf_of(client.get("/console/station/products"))
    assert client.get(f"/console/station/products/{shop.ginseng.id}").status_code == 404
    edit = client.post(
        f"/console/station/products/{shop.ginseng.id}",
        data={"csrf_token": token, "version": "1", "name": "x"},
    )
    assert edit.status_code == 404
    upload = client.post(
        f"/console/station/products/{shop.ginseng.id}/images",
        data={"csrf_token": token, "file": (io.BytesIO(png_bytes()), "x.png")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 404


def test_an_operator_adds_a_sku_and_a_refused_form_leaves_the_others_as_they_are(
    client, session, sign_in, shop
):
    sign_in(shop.station_user)
    url = f"/console/station/products/{shop.blueberries.id}"
    token = csrf_of(client.get(url))
    sku = {"csrf_token": token, "code": "LM-2KG", "spec": "2kg 礼盒", "price": "0", "stock": "3"}
    refused = client.post(f"{url}/skus", data=sku)
    assert refused.status_code == 422
    assert 'data-field="price_fen">至少 0.01 元<' in refused.text
    assert 'value="LM-2KG"' in refused.text
    assert 'name="name" type="text" value="野生蓝莓"' in refused.text  # the details as they are
    added = client.post(f"{url}/skus", data={**sku, "price": "199"})
    assert added.status_code == 302, added.text
    assert session.scalars(
        sa.select(Sku.price_fen).where(Sku.product_id == shop.blueberries.id, Sku.code == "LM-2KG")
    ).all() == [19900]
    # A refused upload keeps the details form whole too.
    empty = client.post(f"{url}/images", data={"csrf_token": token})
    assert 'name="name" type="text" value="野生蓝莓"' in empty.text


def test_a_stale_price_change_is_refused_in_chinese(client, session, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get("/console/station/products")
    url = f"/console/station/products/{shop.blueberries.id}/skus/{shop.sku_500g.id}"
    form = {"csrf_token": csrf_of(page), "version": "1", "price": "70.00", "stock": "5"}
    assert client.post(url, data=form).status_code == 302
    stale = client.post(url, data={**form, "price": "1.00"})  # read before the change above
    assert stale.status_code == 409 and "请刷新后重新修改" in stale.text
    session.expire_all()
    assert session.get(Sku, shop.sku_500g.id).price_fen == 7000


def test_units_in_a_card_refund_under_way_are_not_offered_again(
    client, sign_in, shop, paid_stripe_order, stand_in_stripe
):
    order = paid_stripe_order((shop.sku_500g, 2))
    sign_in(shop.station_user)
    url = f"/console/station/orders/{order['id']}"
    form = {
        "csrf_token": csrf_of(client.get(url)),
        "lines.0.order_line_id": str(order["lines"][0]["id"]),
        "lines.0.quantity": "1",
        "reason": "少发一盒",
    }
    assert "可退 2 件" in client.get(url).text
    assert client.post(f"{url}/refund", data=form).status_code == 302
    assert "可退 1 件" in client.get(url).text
    assert client.post(f"{url}/refund", data=form).status_code == 302
    page = client.get(url).text
    assert 'id="refund"' not in page and page.count('class="refund-state">退款中<') == 2


def test_an_operator_stops_and_resumes_selling_a_sku(client, session, sign_in, shop):
    sign_in(shop.station_user)
    url = f"/console/station/products/{shop.blueberries.id}"
    page = client.get(url)
    sku_url = f"{url}/skus/{shop.sku_1kg.id}"
    form = {"csrf_token": csrf_of(page), "from": "product", "version": "1", "is_active": "false"}
    stopped = client.post(sku_url, data=form)
    assert stopped.status_code == 302 and stopped.headers["Location"].endswith(f"{url}#skus")
    session.expire_all()
    assert session.get(Sku, shop.sku_1kg.id).is_active is False
    # The last SKU on sale of a product on sale is not stopped: said beside it.
    last = client.post(
        f"{url}/skus/{shop.sku_500g.id}", data={**form, "version": str(shop.sku_500g.version)}
    )
    assert last.status_code == 422 and 'data-field="is_active"' in last.text
    assert "恢复销售" in last.text
    resumed = client.post(sku_url, data={**form, "version": "2", "is_active": "true"})
    assert resumed.status_code == 302
    session.expire_all()
    assert session.get(Sku, shop.sku_1kg.id).is_active is True
