"""A station operator's day in headless Chromium, on a phone and at a desk, on the served demo
county: finding orders among hundreds (by number, by the phone's last four digits, by date, page
after page), recording a payment, shipping and refunding a line; listing a product with a
mistake and fixing it beside the field, editing it, adding its picture, putting it on sale and
taking it off, and finding it again. Every page is checked for sideways scrolling and by
axe-core. Each test makes its own order and product: the demo is shared."""

import uuid

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.clock import shanghai_today
from marketplace.orders.models import Order, OrderStatus, PaymentStatus
from marketplace.producers.models import Station
from tests.catalog.conftest import png_bytes
from tests.console.browser import WIDTHS, api, check_page, open_page, screenshot, sign_in, token_of
from tests.orders.conftest import ADDRESS

pytestmark = pytest.mark.postgres

OPERATOR = ("station_shenyuan", "shenyuan-demo-2024")


def _shenyuan_sku_id(demo) -> int:
    """The station's active SKU with the most on hand: room for every test's order."""
    with demo.session() as session:
        station_id = session.execute(
            sa.select(Station.id)
            .join(Sku, Sku.station_id == Station.id)
            .where(Sku.code == "SYC-272")
        ).scalar_one()
        return session.execute(
            sa.select(Sku.id)
            .join(Product, Product.id == Sku.product_id)
            .where(
                Sku.station_id == station_id,
                Sku.is_active,
                Product.status == ProductStatus.active,
            )
            .order_by(Sku.stock.desc())
            .limit(1)
        ).scalar_one()


def _placed_order(demo, phone: str) -> dict:
    buyer = token_of(demo, "buyer_zhang", "zhangwei-demo-2024")
    body = {
        "lines": [{"sku_id": _shenyuan_sku_id(demo), "quantity": 2}],
        "shipping_address": {**ADDRESS, "recipient_phone": phone},
    }
    return api(demo, "POST", "/orders", body, token=buyer)


def _search(page, **fields):
    form = page.locator("#order-search")
    for name in ("number", "phone_tail", "created_from", "created_to"):
        form.locator(f"input[name={name}]").fill(fields.get(name, ""))
    form.locator("select[name=view]").select_option(fields.get("view", "all"))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    check_page(page)


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_an_operator_finds_pays_ships_and_refunds_an_order(browser, demo, width):
    tail = f"{uuid.uuid4().int % 10000:04d}"
    order = _placed_order(demo, f"139{uuid.uuid4().int % 10000:04d}{tail}")
    page = open_page(browser, WIDTHS[width])
    sign_in(page, demo, *OPERATOR)
    page.wait_for_url("**/console/station/orders")
    check_page(page)

    # By part of its number, as read off a slip.
    _search(page, number=order["number"][-6:].lower())
    assert page.locator("#orders tbody tr").count() == 1
    assert order["number"] in page.locator("#orders").inner_text()
    # By the phone's last four digits and today's date: the list shows the tail, not the phone.
    today = f"{shanghai_today():%Y-%m-%d}"
    _search(page, phone_tail=tail, created_from=today, created_to=today, view="unpaid")
    assert order["number"] in page.locator("#orders").inner_text()
    assert ADDRESS["recipient_phone"] not in page.content()
    # A phone tail that is no four digits is refused beside its field.
    _search(page, phone_tail="12a")
    assert "请输入手机号后 4 位数字" in page.locator('[data-field="phone_tail"]').inner_text()
    # Every order, page after page, the search kept in the links.
    _search(page, view="all")
    assert "共" in page.locator("nav.pager").inner_text()
    page.locator("nav.pager a[rel=next]").click()
    page.wait_for_url("**page=2**")
    assert "view=all" in page.url
    check_page(page)

    page.goto(f"{demo.base_url}/console/station/orders?number={order['number']}")
    page.click(f"#orders a:text('{order['number']}')")
    page.wait_for_selector("#payment")
    check_page(page)
    page.fill("#payment input[name=reference]", f"收据-{uuid.uuid4().hex[:6]}")
    page.click("#payment button")
    page.wait_for_selector("#shipment")
    check_page(page)
    page.fill("#shipment input[name=carrier]", "中国邮政")
    page.fill("#shipment input[name=tracking_number]", "9800123456789")
    page.click("#shipment button")
    page.wait_for_selector("text=9800123456789")
    check_page(page)

    # One of the two units back: more than was bought is refused beside the quantity first.
    page.fill("#refund input[name='lines.0.quantity']", "3")
    page.fill("#refund input[name=reason]", "买家退回一件")
    page.click("#refund button")
    page.wait_for_selector("[data-field='lines.0.quantity']")
    assert "最多可退 2 件" in page.locator("[data-field='lines.0.quantity']").inner_text()
    check_page(page)
    page.fill("#refund input[name='lines.0.quantity']", "1")
    page.click("#refund button")
    page.wait_for_selector("#refunds .refund-state")
    assert page.locator("#refunds .refund-state").inner_text() == "已退款"
    check_page(page)
    with demo.session() as session:
        paid = session.get(Order, order["id"])
        assert paid.status is OrderStatus.shipped
        assert paid.payment_status is PaymentStatus.partially_refunded
    if width == "phone":
        screenshot(page, "station-order-refund")
    page.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_an_operator_lists_edits_pictures_publishes_and_delists_a_product(
    browser, demo, width, tmp_path
):
    name = f"秋木耳{uuid.uuid4().hex[:6]}"
    page = open_page(browser, WIDTHS[width])
    sign_in(page, demo, *OPERATOR)
    page.goto(f"{demo.base_url}/console/station/products/new")
    check_page(page)

    form = page.locator("#new-product")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=unit]").fill("袋")
    form.locator("input[name='skus.0.code']").fill(f"MU-{uuid.uuid4().hex[:8]}")
    form.locator("input[name='skus.0.spec']").fill("250g×2 袋")
    form.locator("input[name='skus.0.price']").fill("0")
    form.locator("input[name='skus.0.stock']").fill("40")
    form.locator("button[type=submit]").click()
    # The mistake is said beside the price, in yuan; nothing typed is lost.
    reason = page.locator("[data-field='skus.0.price_fen']")
    assert reason.inner_text() == "至少 0.01 元"
    assert page.locator("#new-product input[name=name]").input_value() == name
    check_page(page)
    page.locator("#new-product input[name='skus.0.price']").fill("36.50")
    page.locator("#new-product button[type=submit]").click()
    page.wait_for_selector("#product")
    assert page.locator("#status").inner_text() == "草稿"
    check_page(page)

    # Its details edited.
    page.fill("#product input[name=subtitle]", "长白山椴木秋耳")
    page.fill("#product textarea[name=description]", "肉厚无根，泡发率高。")
    page.click("#product button[type=submit]")
    page.wait_for_selector("p.notice")
    assert page.locator("#product input[name=subtitle]").input_value() == "长白山椴木秋耳"
    check_page(page)

    # Its picture.
    picture = tmp_path / "muer.png"
    picture.write_bytes(png_bytes(40, 30))
    page.set_input_files("#upload-image input[type=file]", str(picture))
    page.click("#upload-image button")
    page.wait_for_selector("#images img")
    assert page.locator("#images img").evaluate("image => image.naturalWidth") == 40
    check_page(page)

    page.click("#listing button")
    page.wait_for_function("document.querySelector('#status').textContent === '在售'")
    check_page(page)
    if width == "phone":
        screenshot(page, "station-product-edit")
    page.click("#listing button")
    page.wait_for_function("document.querySelector('#status').textContent === '已下架'")
    check_page(page)

    # Found again in the list by its name and state.
    page.goto(f"{demo.base_url}/console/station/products")
    check_page(page)
    search = page.locator("#product-search")
    search.locator("input[name=q]").fill(name[:4])
    search.locator("select[name=status]").select_option("delisted")
    search.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert name in page.locator("main").inner_text()
    check_page(page)
    with demo.session() as session:
        product = session.execute(sa.select(Product).where(Product.name == name)).scalar_one()
        assert product.status is ProductStatus.delisted
        assert product.subtitle == "长白山椴木秋耳"
    page.close()
