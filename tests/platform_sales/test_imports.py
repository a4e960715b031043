"""Importing the platforms' order exports (tests/platform_sales/data, copied from the sample
exports): every file with its traps, nothing twice, later states and refunds applied exactly,
the ledger consistent afterwards, and each bad row reported by its line."""

import csv
import io
from datetime import datetime

import pytest
import sqlalchemy as sa

from marketplace.clock import SHANGHAI
from marketplace.ledger.models import Posting
from marketplace.livestreams.models import HostKind, LivestreamSession, Platform, SessionState
from marketplace.orders.models import Channel, Order, OrderLine, OrderStatus, PaymentStatus
from marketplace.payments.models import Payment
from marketplace.platform_sales.models import ImportedLine
from marketplace.reports import reconciliation
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.platform_sales.data_files import DATA, read_bytes
from tests.platform_sales.jobs_inline import imported_through_job

#: products.csv's column of each platform's product id
MAP_COLUMNS = {
    "douyin": "抖店商品ID",
    "kuaishou": "快手商品ID",
    "pinduoduo": "拼多多样式ID",
    "taobao": "淘宝商家编码",
}
#: the host account each platform's exports carry, for the two sessions they cover
HOSTS = {
    "douyin": ("1000000000000001", "1000000000000002"),
    "kuaishou": ("3000000001", "3000000002"),
    "pinduoduo": (None, None),
    "taobao": (None, None),
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def village(client, session, shop, money):
    """The station of the sample exports: its nine products (the co-op of ``money``, whose
    members gain), their platform ids mapped, and the two sessions the exports cover on each
    platform (ended)."""
    rows = list(csv.DictReader(io.StringIO(read_bytes("products.csv").decode("utf-8-sig"))))

    class Village:
        station = shop.station
        headers = shop.station_headers
        skus = {}
        sessions = {}

    from marketplace.catalog.models import Category, Product, ProductStatus, Sku

    category = session.execute(sa.select(Category).limit(1)).scalar_one()
    for row in rows:
        product = Product(
            station_id=shop.station.id,
            producer_id=shop.producer.id,
            origin_village_id=shop.producer.region_id,
            category_id=category.id,
            name=row["商品名称"],
            unit="件",
            status=ProductStatus.active,
            search_text=row["商品名称"],
        )
        session.add(product)
        session.flush()
        price = round(float(row["参考单价(元)"]) * 100)
        sku = Sku(
            product_id=product.id,
            station_id=shop.station.id,
            code=row["内部商品编码"],
            spec=row["规格"],
            price_fen=price,
            stock=50,
        )
        session.add(sku)
        session.flush()
        Village.skus[row["内部商品编码"]] = sku
    mapped = client.post(
        f"/api/v1/stations/{shop.station.id}/platform-products",
        json={
            "products": [
                {
                    "platform": platform,
                    "outside_id": row[column],
                    "sku_id": Village.skus[row["内部商品编码"]].id,
                }
                for platform, column in MAP_COLUMNS.items()
                for row in rows
            ]
        },
        headers=shop.station_headers,
    )
    assert mapped.status_code == 200, mapped.json
    assert mapped.json == {"created": 36, "changed": 0, "unchanged": 0}
    windows = (
        ("2025-09-12 19:00", "2025-09-12 21:30", "靠山屯电商服务站", HostKind.station_operator),
        ("2025-09-14 10:00", "2025-09-14 12:00", "助农主播小满", HostKind.guest),
    )
    for platform, hosts in HOSTS.items():
        for index, ((start, end, host, kind), account) in enumerate(
            zip(windows, hosts, strict=True)
        ):
            live_session = LivestreamSession(
                code=f"{platform[:4].upper()}{index}",
                title=f"{host}的直播",
                host_name=host,
                host_kind=kind,
                host_account=account,
                station_id=shop.station.id,
                platform=Platform(platform),
                room_id=f"{platform}-room",
                scheduled_start=_at(start),
                scheduled_end=_at(end),
                actual_start=_at(start),
                actual_end=_at(end),
                state=SessionState.ended,
            )
            session.add(live_session)
            session.flush()
            Village.sessions[platform, index] = live_session
    return Village


def upload(client, village, platform, name, *, items=None, headers=None, **form):
    data = {"platform": platform, "file": (io.BytesIO(read_bytes(name)), name)}
    if items:
        data["items"] = (io.BytesIO(read_bytes(items)), items)
    data.update({key: str(value).lower() for key, value in form.items()})
    response = client.post(
        f"/api/v1/stations/{village.station.id}/platform-imports",
        data=data,
        headers=headers or village.headers,
        content_type="multipart/form-data",
    )
    return imported_through_job(client, response, headers or village.headers)


def imported(session, platform):
    """outside line id -> (order, its one line), for a platform's imported lines."""
    rows = session.execute(
        sa.select(ImportedLine.outside_line_id, Order, OrderLine)
        .join(Order, Order.id == ImportedLine.order_id)
        .join(OrderLine, OrderLine.id == ImportedLine.order_line_id)
        .where(ImportedLine.platform == platform)
        .execution_options(populate_existing=True)
    ).all()
    return {line_id: (order, line) for line_id, order, line in rows}


def attributed(session, order_line_id) -> int:
    """What the line's postings owe households (credits), refunds included."""
    return -session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Posting.amount_fen), 0)).where(
            Posting.order_line_id == order_line_id, Posting.household_id.is_not(None)
        )
    ).scalar_one()


def assert_ledger_consistent(session):
    report = reconciliation.run(session)
    assert report.differences == [], report.differences


# --- Douyin: the same file twice, then the overlapping later export ---------------------------


def test_douyin_twice_then_the_later_export(client, session, village):
    first = upload(client, village, "douyin", "douyin_orders.csv")
    assert first.status_code == 201, first.json
    report = first.json
    assert report["rows"] == 22
    assert (report["created_lines"], report["duplicate_lines"], report["failed_lines"]) == (
        20,
        1,
        1,
    )
    assert {k: v for k, v in report["problems"][0].items() if k != "reason"} == {
        "line": 11,
        "column": "商品ID",
        "code": "platform_row.product_not_mapped",
        "params": {"platform": "douyin", "product_key": "3700000000000000999"},
    }
    assert "3700000000000000999" in report["problems"][0]["reason"]
    assert (
        report["problems"][1]["line"] == 13
        and "duplicate of line 12" in (report["problems"][1]["reason"])
    )
    assert report["problems"][1]["code"] == "platform_row.duplicate"
    assert report["problems"][1]["params"] == {"line": 12}
    lines = imported(session, Platform.douyin)
    assert len(lines) == 20
    order, line = lines["6920250912000000103"]
    # 128.00 less the shop's 10.00 off: what the merchant got is what counts.
    assert (line.unit_price_fen, line.quantity, line.line_total_fen) == (12800, 1, 11800)
    assert line.discount_fen == 1000 and order.total_fen == 11800
    assert order.channel is Channel.imported and order.buyer_id is None
    assert order.payment_status is PaymentStatus.paid and order.status is OrderStatus.completed
    assert order.livestream_session_id == village.sessions["douyin", 0].id
    guest = lines["6920250914000000303"][0]
    assert guest.livestream_session_id == village.sessions["douyin", 1].id
    # Sold from a product card, not in the live room: a sale, of no session.
    assert lines["6920250913000000201"][0].livestream_session_id is None
    # Closed after payment: recorded, and refunded in full.
    closed_order, closed_line = lines["6920250912000000198"]
    assert closed_order.refunded_fen == closed_line.line_total_fen == 4990
    assert attributed(session, closed_line.id) == 0
    payment = session.execute(sa.select(Payment).where(Payment.order_id == order.id)).scalar_one()
    assert (payment.method, payment.provider_reference) == ("douyin", "douyin:6920250912000000103")
    assert attributed(session, line.id) == 9440  # 80% of 118.00 to the co-op's members
    assert_ledger_consistent(session)

    again = upload(client, village, "douyin", "douyin_orders.csv")
    assert again.status_code == 201, again.json
    assert (again.json["created_lines"], again.json["unchanged_lines"]) == (0, 20)
    assert (again.json["duplicate_lines"], again.json["failed_lines"]) == (1, 1)
    assert len(imported(session, Platform.douyin)) == 20

    late_line = lines["6920250912000000102"][1]
    before = attributed(session, late_line.id)
    assert before > 0
    later = upload(client, village, "douyin", "douyin_orders_2.csv")
    assert later.status_code == 201, later.json
    assert (later.json["rows"], later.json["created_lines"], later.json["updated_lines"]) == (
        13,
        3,
        10,
    )
    lines = imported(session, Platform.douyin)
    assert len(lines) == 23
    late_order, late_line = lines["6920250912000000102"]
    # The late refund of a completed order reverses exactly what the line attributed.
    assert late_order.refunded_fen == 5990 and late_order.status is OrderStatus.refunded
    assert attributed(session, late_line.id) == 0
    assert lines["6920250912000000104"][0].status is OrderStatus.completed
    assert lines["6920250914000000301"][0].status is OrderStatus.shipped
    assert lines["6920250914000000306"][0].payment_status is PaymentStatus.refunded
    assert lines["6920250915000000401"][0].livestream_session_id is None  # a short video
    assert_ledger_consistent(session)

    # The later export again: nothing moves.
    last = upload(client, village, "douyin", "douyin_orders_2.csv")
    assert (last.json["created_lines"], last.json["updated_lines"]) == (0, 0)
    assert last.json["unchanged_lines"] == 13
    assert_ledger_consistent(session)

    # The station's own evening session, as its results show it: eleven orders sold live (the
    # unmapped product's row was not taken), three refunded in the end. A line counts what the
    # merchant gets: price × quantity less its own discount (the platform pays its subsidies
    # back; the shipping fee is no sale of produce).
    results = client.get(
        f"/api/v1/livestreams/{village.sessions['douyin', 0].id}/results",
        headers=village.headers,
    ).json
    assert (results["gross_fen"], results["refunds_fen"], results["net_fen"]) == (
        76090,
        15180,
        60910,
    )
    # Sub-orders 105 and 198 are one buyer's order: ten buyers.
    assert (results["orders"], results["buyers"]) == (11, 10)
    assert [row["source"] for row in results["by_source"]] == ["douyin"]
    households = sum(h["attributed_fen"] for h in results["households"])
    assert households + results["other_households_fen"] == sum(
        attributed(session, line.id)
        for order, line in lines.values()
        if order.livestream_session_id == village.sessions["douyin", 0].id
    )


def test_the_command_line_imports_with_a_dry_run_first(app, session, village):
    runner = app.test_cli_runner()
    path = str(DATA / "douyin_orders.csv")
    station = str(village.station.id)
    dry = runner.invoke(
        args=[
            "livestreams",
            "import",
            path,
            "--platform",
            "douyin",
            "--station",
            station,
            "--dry-run",
        ]
    )
    assert dry.exit_code == 0, (dry.output, dry.stderr, dry.exception)
    assert "Dry run: nothing written. 22 rows: 20 created" in dry.output
    assert "line 11, 商品ID" in dry.output
    assert imported(session, Platform.douyin) == {}
    done = runner.invoke(
        args=["livestreams", "import", path, "--platform", "douyin", "--station", station]
    )
    assert done.exit_code == 0, done.output
    assert "22 rows: 20 created" in done.output
    assert len(imported(session, Platform.douyin)) == 20


def test_a_dry_run_reports_the_same_and_writes_nothing(client, session, village):
    dry = upload(client, village, "douyin", "douyin_orders.csv", dry_run=True)
    assert dry.status_code == 200, dry.json
    assert dry.json["dry_run"] is True and dry.json["id"] is None
    assert imported(session, Platform.douyin) == {}
    real = upload(client, village, "douyin", "douyin_orders.csv")
    for name in ("rows", "created_lines", "duplicate_lines", "failed_lines", "problems"):
        assert real.json[name] == dry.json[name]
    stored = client.get(f"/api/v1/platform-imports/{real.json['id']}", headers=village.headers)
    assert stored.status_code == 200
    assert stored.json["problems"] == real.json["problems"]


# --- every other sample -----------------------------------------------------------------------


def test_kuaishou(client, session, village):
    response = upload(client, village, "kuaishou", "kuaishou_orders.csv")
    assert response.status_code == 201, response.json
    report = response.json
    assert report["rows"] == 16
    assert report["duplicate_lines"] == 1 and report["failed_lines"] == 1
    lines = imported(session, Platform.kuaishou)
    assert len(lines) == 14
    # ¥-prefixed amounts; the refund amount column says how much went back.
    closed = [o for o, _ in lines.values() if o.payment_status is PaymentStatus.refunded]
    partial = [o for o, _ in lines.values() if o.payment_status is PaymentStatus.partially_refunded]
    assert [o.refunded_fen for o in closed] == [8400]
    assert [o.refunded_fen for o in partial] == [1990]
    hosts = {o.livestream_session_id for o, _ in lines.values()}
    assert hosts == {
        village.sessions["kuaishou", 0].id,
        village.sessions["kuaishou", 1].id,
        None,
    }
    assert_ledger_consistent(session)


def test_pinduoduo(client, session, village):
    response = upload(client, village, "pinduoduo", "pinduoduo_orders.csv")
    assert response.status_code == 201, response.json
    report = response.json
    assert report["rows"] == 16
    assert report["duplicate_lines"] == 1 and report["failed_lines"] == 1
    lines = imported(session, Platform.pinduoduo)
    _order, line = lines["250912-000000000000102"]
    # The platform's discount is the platform's: the merchant receives the full 59.90.
    assert line.line_total_fen == 5990
    # "一瓶漏蜜，部分退款45元": the merchant's note says how much of the line went back.
    honey, _honey_line = lines["250912-000000000000105"]
    assert honey.refunded_fen == 4500 and honey.payment_status is PaymentStatus.partially_refunded
    assert lines["250913-000000000000201"][0].livestream_session_id is None  # 是否直播间成交: 否
    assert lines["250914-000000000000301"][0].livestream_session_id == (
        village.sessions["pinduoduo", 1].id
    )
    assert_ledger_consistent(session)


def test_taobao_joins_its_two_gbk_reports(client, session, village):
    response = upload(
        client, village, "taobao", "taobao_orders.csv", items="taobao_order_items.csv"
    )
    assert response.status_code == 201, response.json
    report = response.json
    assert report["rows"] == 15
    # 204 is unpaid; 106's merchant code is not mapped; 107's item is there twice.
    assert report["skipped_lines"] == 1
    assert report["failed_lines"] == 1 and report["duplicate_lines"] == 1
    lines = imported(session, Platform.taobao)
    assert len(lines) == 12
    ginseng, tea = lines["4000000000000000103:KST-RS-5"], lines["4000000000000000103:KST-PGY-100"]
    assert ginseng[0].payment_status is PaymentStatus.paid
    assert tea[0].payment_status is PaymentStatus.refunded and tea[0].refunded_fen == 1990
    # Matched by time alone: the export says nothing of livestreams.
    assert ginseng[0].livestream_session_id == village.sessions["taobao", 0].id
    assert lines["4000000000000000201:KST-MR-250"][0].livestream_session_id == (
        village.sessions["taobao", 1].id
    )
    assert_ledger_consistent(session)


def test_a_taobao_orders_own_discount_is_spread_over_its_lines(client, session, village):
    """A 10-yuan shop coupon on an order of 79.80 + 59.90: the buyer owed 129.70 for the
    goods, and the lines say so, split by largest remainder in proportion to their amounts."""
    orders = (
        "订单编号,买家应付货款,买家应付邮费,买家实际支付金额,订单状态,订单创建时间,订单付款时间\n"
        '="4000000000000000901",129.70,0.00,129.70,交易成功,2025-09-13 10:00:00,'
        "2025-09-13 10:00:09\n"
    ).encode("gb18030")
    items = (
        "订单编号,标题,价格,购买数量,订单状态,商家编码\n"
        '="4000000000000000901",靠山屯野生蓝莓鲜果,39.90,2,交易成功,KST-LM-125x4\n'
        '="4000000000000000901",长白山开口红松子,59.90,1,交易成功,KST-SZ-500\n'
    ).encode("gb18030")
    response = client.post(
        f"/api/v1/stations/{village.station.id}/platform-imports",
        data={
            "platform": "taobao",
            "file": (io.BytesIO(orders), "orders.csv"),
            "items": (io.BytesIO(items), "items.csv"),
        },
        headers=village.headers,
        content_type="multipart/form-data",
    )
    report = imported_through_job(client, response, village.headers)
    assert report.status_code == 201, report.json
    assert report.json["created_lines"] == 2, report.json
    lines = imported(session, Platform.taobao)
    blueberries = lines["4000000000000000901:KST-LM-125x4"][1]
    pine_nuts = lines["4000000000000000901:KST-SZ-500"][1]
    # 1000 fen of coupon: 571.2 and 428.8 by amount; the one fen left goes to the larger
    # remainder.
    assert (blueberries.line_total_fen, pine_nuts.line_total_fen) == (7980 - 571, 5990 - 429)
    assert blueberries.line_total_fen + pine_nuts.line_total_fen == 12970
    assert blueberries.unit_price_fen == 3990 and blueberries.quantity == 2
    assert_ledger_consistent(session)


def test_taobao_without_its_item_report_is_refused(client, village):
    response = upload(client, village, "taobao", "taobao_orders.csv")
    assert response.status_code == 422
    assert response.json["errors"] == {"items": ["Taobao needs its item report too"]}


def test_a_line_imported_before_takes_its_refund_after_its_map_is_gone(client, session, village):
    assert upload(client, village, "douyin", "douyin_orders.csv").status_code == 201
    forgotten = client.delete(
        f"/api/v1/stations/{village.station.id}/platform-products/douyin/3700000000000000102",
        headers=village.headers,
    )
    assert forgotten.status_code == 204
    later = upload(client, village, "douyin", "douyin_orders_2.csv")
    assert later.status_code == 201, later.json
    order, _line = imported(session, Platform.douyin)["6920250912000000102"]
    assert order.refunded_fen == 5990
    assert_ledger_consistent(session)
