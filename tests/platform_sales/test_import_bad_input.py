"""Bad exports and bad rows: the file as a whole refused with a 4xx naming the field, a bad
row reported by its line and column while the others import, and nothing half-written."""

import csv
import io

import pytest
import sqlalchemy as sa

from marketplace.livestreams.models import Platform
from marketplace.orders.models import Order
from marketplace.platform_sales.models import ImportedLine, PlatformImport
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.platform_sales.data_files import read_bytes
from tests.platform_sales.jobs_inline import imported_through_job
from tests.platform_sales.test_imports import imported, village  # noqa: F401  (shared fixture)

URL = "/api/v1/stations/{}/platform-imports"


def douyin_rows() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(read_bytes("douyin_orders.csv").decode("utf-8-sig"))))
    return rows[0], rows[1:]


def douyin_file(changes: list[dict], *, encoding="utf-8-sig") -> bytes:
    """The first Douyin row once per item of ``changes``, with those columns changed."""
    header, rows = douyin_rows()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for number, change in enumerate(changes):
        row = dict(zip(header, rows[0], strict=True))
        row["子订单编号"] = f"\t69209999{number:011d}"
        row["主订单编号"] = row["子订单编号"]
        row.update(change)
        writer.writerow([row[name] for name in header])
    return out.getvalue().encode(encoding)


def multipart(fields: dict, content: bytes, boundary: str = "export-boundary") -> bytes:
    """A multipart body built here: werkzeug's test client spools a large one to a temporary
    file it never closes."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="export.csv"'
        "\r\nContent-Type: text/csv\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts)


def post(client, village, content: bytes, *, headers=None, station_id=None, **form):
    fields = {"platform": "douyin", **{key: str(value) for key, value in form.items()}}
    fields["platform"] = str(fields["platform"])
    response = client.post(
        URL.format(station_id or village.station.id),
        data=multipart(fields, content),
        headers=headers or village.headers,
        content_type="multipart/form-data; boundary=export-boundary",
    )
    return imported_through_job(client, response, headers or village.headers)


def nothing_written(session):
    assert session.execute(sa.select(sa.func.count()).select_from(ImportedLine)).scalar() == 0
    assert session.execute(sa.select(sa.func.count()).select_from(PlatformImport)).scalar() == 0
    assert session.execute(sa.select(sa.func.count()).select_from(Order)).scalar() == 0


def test_bad_rows_are_reported_by_line_and_column_and_the_others_import(
    client,
    session,
    village,
):
    content = douyin_file(
        [
            {},
            {"订单应付金额": "79.805"},
            {"订单应付金额": "-79.80"},
            {"商品单价": "¥abc"},
            {"订单提交时间": "2025-13-45 19:06:12"},
            {"商品数量": "0"},
            {"订单状态": "已吃掉"},
            # Sold live two days after the sessions the station had.
            {"订单提交时间": "2025-09-20 20:00:00", "支付完成时间": "2025-09-20 20:00:09"},
            {"商家优惠": "79.80"},  # the merchant's discount takes the whole 39.90 × 2
        ]
    )
    response = post(client, village, content)
    assert response.status_code == 201, response.json
    report = response.json
    assert (report["rows"], report["created_lines"], report["failed_lines"]) == (9, 1, 8)
    by_line = {problem["line"]: problem for problem in report["problems"]}
    assert by_line[3]["column"] == "订单应付金额" and "two decimals" in by_line[3]["reason"]
    assert by_line[4]["column"] == "订单应付金额" and "negative" in by_line[4]["reason"]
    assert by_line[5]["column"] == "商品单价"
    assert by_line[6]["column"] == "订单提交时间"
    assert by_line[7]["column"] == "商品数量"
    assert by_line[8]["column"] == "订单状态" and "已吃掉" in by_line[8]["reason"]
    assert by_line[9]["column"] == "订单提交时间"
    assert "outside any douyin session" in by_line[9]["reason"]
    assert by_line[10]["column"] == "商家优惠"
    assert len(imported(session, Platform.douyin)) == 1


def test_a_sub_order_twice_with_other_values_is_refused(client, session, village):
    header, rows = douyin_rows()
    first = dict(zip(header, rows[0], strict=True))
    content = douyin_file(
        [
            {"子订单编号": first["子订单编号"]},
            {"子订单编号": first["子订单编号"], "订单应付金额": "39.90", "商品数量": "1"},
        ]
    )
    report = post(client, village, content).json
    assert (report["created_lines"], report["failed_lines"]) == (1, 1)
    assert report["problems"][0]["line"] == 3
    assert "same sub-order as line 2, with other values" in report["problems"][0]["reason"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("订单号,金额\n1,2\n".encode("utf-16"), "neither UTF-8 nor GBK"),
        (b"", "the file is empty"),
        (read_bytes("kuaishou_orders.csv"), "the header lacks the column(s) 主订单编号"),
    ],
    ids=["utf-16", "empty", "another platform's export"],
)
def test_a_file_that_cannot_be_read_is_a_422_on_file(
    client,
    session,
    village,
    content,
    reason,
):
    response = post(client, village, content)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert reason in response.json["errors"]["file"][0]
    nothing_written(session)


def test_a_file_whose_encoding_breaks_late_keeps_the_batches_before_it(client, session, village):
    # 2,000 good rows (two batches, each committed), then a line that is not UTF-8.
    good = douyin_file([{}] * 2000)
    broken = good + "\t坏,".encode("gbk") * 3 + b"\r\n"
    response = post(client, village, broken)
    assert response.status_code == 422, response.json
    assert "line 2002" in response.json["errors"]["file"][0]
    record = session.execute(sa.select(PlatformImport)).scalar_one()
    # The first batch was committed; the second stopped at the line that cannot be read.
    assert (record.rows, record.created_lines, record.complete) == (1000, 1000, False)
    assert session.execute(sa.select(sa.func.count()).select_from(ImportedLine)).scalar() == 1000
    # The fixed file, uploaded again, reads to its end; nothing is imported twice.
    again = post(client, village, good)
    assert again.status_code == 201, again.json
    counted = (again.json["unchanged_lines"], again.json["created_lines"], again.json["complete"])
    assert counted == (1000, 1000, True)
    assert session.execute(sa.select(sa.func.count()).select_from(Order)).scalar() == 2000


def test_a_file_larger_than_the_limit_is_a_413(app, client, session, village):
    app.config["PLATFORM_IMPORT_MAX_BYTES"] = 10_000
    try:
        response = post(client, village, douyin_file([{}] * 300))
    finally:
        app.config["PLATFORM_IMPORT_MAX_BYTES"] = 64 * 1024 * 1024
    assert response.status_code == 413, response.json
    assert response.json["errors"] == {"file": ["larger than 10000 bytes"]}
    nothing_written(session)


def test_a_chosen_session_takes_its_window_only(client, session, village):
    guest = village.sessions["douyin", 1]
    content = read_bytes("douyin_orders.csv")
    report = post(client, village, content, session_id=guest.id).json
    # The rows of the 12 September session are not of the session chosen.
    outside = [p for p in report["problems"] if "outside session" in p["reason"]]
    assert len(outside) == 11
    lines = imported(session, Platform.douyin)
    assert {order.livestream_session_id for order, _ in lines.values()} == {guest.id, None}


def test_who_may_import(client, session, shop, village, money):
    content = douyin_file([{}])
    assert post(client, village, content, headers=shop.other_station_headers).status_code == 404
    assert post(client, village, content, headers=money.official_headers).status_code == 403
    assert post(client, village, content, headers=shop.buyer_headers).status_code == 403
    assert post(client, village, content, headers=shop.admin_headers).status_code == 201
    # Officials of the county read the station's uploads.
    listed = client.get(URL.format(village.station.id), headers=money.official_headers)
    assert listed.status_code == 200 and len(listed.json) == 1
    far = client.get(URL.format(village.station.id), headers=money.official_far_headers)
    assert far.status_code == 404


def test_a_station_maps_only_its_own_skus(client, shop, village):
    response = client.post(
        f"/api/v1/stations/{shop.station.id}/platform-products",
        json={
            "products": [{"platform": "douyin", "outside_id": "1", "sku_id": shop.sku_ginseng.id}]
        },
        headers=shop.station_headers,
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"products.0.sku_id": ["not a SKU of this station"]}


def test_a_layout_the_station_describes(client, session, shop, village):
    layout = {
        "platform": "wechat_channels",
        "columns": {
            "order_id": "订单号",
            "product_key": "商品编码",
            "quantity": "数量",
            "unit_price": "单价",
            "paid": "实收",
            "placed_at": "下单时间",
            "paid_at": "付款时间",
            "status": "状态",
            "live": "来源",
        },
        "values": {
            "statuses": {"paid": ["已付款"], "completed": ["已完成"], "unpaid": ["待付款"]},
            "live": ["直播间"],
        },
    }
    saved = client.put(
        f"/api/v1/stations/{shop.station.id}/import-layouts/视频号",
        json=layout,
        headers=shop.station_headers,
    )
    assert saved.status_code == 200, saved.json
    client.post(
        f"/api/v1/stations/{shop.station.id}/platform-products",
        json={
            "products": [
                {
                    "platform": "wechat_channels",
                    "outside_id": "SPH-LM",
                    "sku_id": village.skus["KST-LM"].id,
                }
            ]
        },
        headers=shop.station_headers,
    )
    content = (
        "订单号,商品编码,数量,单价,实收,下单时间,付款时间,状态,来源\n"
        "WX1,SPH-LM,2,39.90,79.80,2025-09-13 10:00:00,2025-09-13 10:00:05,已完成,商品橱窗\n"
        "WX2,SPH-LM,1,39.90,39.90,2025-09-13 10:01:00,-,待付款,商品橱窗\n"
    ).encode("gbk")
    response = client.post(
        URL.format(shop.station.id),
        data={
            "platform": "wechat_channels",
            "layout": "视频号",
            "file": (io.BytesIO(content), "wx.csv"),
        },
        headers=shop.station_headers,
        content_type="multipart/form-data",
    )
    response = imported_through_job(client, response, shop.station_headers)
    assert response.status_code == 201, response.json
    assert (response.json["created_lines"], response.json["skipped_lines"]) == (1, 1)
    order, line = imported(session, Platform.wechat_channels)["WX1"]
    assert line.line_total_fen == 7980 and order.livestream_session_id is None


def test_a_layout_missing_our_fields_is_refused(client, shop):
    response = client.put(
        f"/api/v1/stations/{shop.station.id}/import-layouts/x",
        json={"platform": "douyin", "columns": {"order_id": "单号"}, "values": {"statuses": {}}},
        headers=shop.station_headers,
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "columns.product_key" in errors and "values.statuses.paid" in errors


def test_a_sale_seconds_before_the_session_went_live_is_of_it(client, session, village):
    # The platform's clock and ours differ, and exports give times to the second.
    content = douyin_file(
        [
            {"订单提交时间": "2025-09-12 18:59:30", "支付完成时间": "2025-09-12 18:59:40"},
            {"订单提交时间": "2025-09-12 21:45:00", "支付完成时间": "2025-09-12 21:45:09"},
        ]
    )
    report = post(client, village, content).json
    assert (report["created_lines"], report["failed_lines"]) == (1, 1)
    assert report["problems"][0]["line"] == 3
    (order, _line) = imported(session, Platform.douyin)["6920999900000000000"]
    assert order.livestream_session_id == village.sessions["douyin", 0].id


def test_cells_no_sale_can_hold_are_row_problems_not_failures_of_the_upload(
    client,
    session,
    village,
):
    content = douyin_file(
        [
            {"订单应付金额": "1234567890123456789012345678"},
            {"订单提交时间": "0001-01-01 00:00:00"},
            {"商品ID": "37000\x0000101"},
            {},
        ]
    )
    response = post(client, village, content)
    assert response.status_code == 201, response.json
    by_line = {p["line"]: p for p in response.json["problems"]}
    assert "beyond any order" in by_line[2]["reason"]
    # Each reason with its code and the values it is made of: the cell quoted, cut short.
    assert (by_line[2]["code"], by_line[2]["params"]) == (
        "platform_cell.beyond_any_order",
        {"cell": "1234567890123456789012345678"},
    )
    assert "not a year of sales" in by_line[3]["reason"]
    assert by_line[3]["code"] == "platform_cell.not_a_sales_year"
    assert by_line[4] == {
        "line": 4,
        "column": "商品ID",
        "reason": "holds control characters",
        "code": "platform_cell.control_characters",
        "params": {},
    }
    assert response.json["created_lines"] == 1


def test_a_huge_partial_refund_in_a_note_is_a_row_problem(client, session, village):
    rows = read_bytes("pinduoduo_orders.csv").decode("utf-8-sig")
    content = rows.replace("一瓶漏蜜，部分退款45元", "部分退款99999999999999元").encode("utf-8-sig")
    response = client.post(
        URL.format(village.station.id),
        data=multipart({"platform": "pinduoduo"}, content),
        headers=village.headers,
        content_type="multipart/form-data; boundary=export-boundary",
    )
    response = imported_through_job(client, response, village.headers)
    assert response.status_code == 201, response.json
    noted = [p for p in response.json["problems"] if p["column"] == "商家备注"]
    assert len(noted) == 1 and "beyond any order" in noted[0]["reason"]


def test_an_order_closed_before_payment_is_skipped(client, session, village):
    content = douyin_file([{"订单状态": "已关闭", "支付完成时间": "-", "售后状态": "-"}])
    report = post(client, village, content).json
    assert (report["skipped_lines"], report["failed_lines"], report["created_lines"]) == (1, 0, 0)


def test_our_own_checkout_is_not_imported(client, village):
    response = post(client, village, douyin_file([{}]), platform="own")
    assert response.status_code == 422
    assert response.json["errors"] == {"platform": ["our own checkout is not imported"]}


def test_a_station_may_name_its_countys_session(client, session, shop, village, regions):
    from marketplace.livestreams.models import (
        HostKind,
        LivestreamSession,
        SessionState,
    )
    from tests.platform_sales.test_imports import _at

    county_led = LivestreamSession(
        code="COUNTY1",
        title="县长来了",
        host_name="王县长",
        host_kind=HostKind.official,
        region_id=regions.county.id,
        platform=Platform.douyin,
        room_id="county-room",
        scheduled_start=_at("2025-09-12 18:00"),
        scheduled_end=_at("2025-09-12 23:00"),
        actual_start=_at("2025-09-12 18:00"),
        actual_end=_at("2025-09-12 23:00"),
        state=SessionState.ended,
    )
    session.add(county_led)
    session.flush()
    report = post(client, village, douyin_file([{}]), session_id=county_led.id)
    assert report.status_code == 201, report.json
    (order, _line) = imported(session, Platform.douyin)["6920999900000000000"]
    assert order.livestream_session_id == county_led.id
