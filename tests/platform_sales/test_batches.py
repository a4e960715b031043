"""The import's fast path: sales are recorded a batch at a time (one INSERT per table and one
attribution batch through ``recording.record_sales``, for up to a thousand rows). The simple
path is the same export taken one row at a time. Whatever the export, both store the same rows:
orders, lines, their events, payments and their events, refunds, imported lines and postings."""

import csv
import io
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import SHANGHAI
from marketplace.ledger.models import JournalEntry, LedgerAccount, Posting
from marketplace.livestreams.models import Platform
from marketplace.orders.models import Order, OrderEvent, OrderLine
from marketplace.payments.models import Payment, PaymentEvent, Refund, RefundLine
from marketplace.platform_sales import importing
from marketplace.platform_sales.models import ImportedLine
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.platform_sales.test_imports import village  # noqa: F401  (shared fixture)

#: The columns of Douyin's export the import reads.
COLUMNS = (
    "主订单编号",
    "子订单编号",
    "选购商品",
    "商品数量",
    "商品ID",
    "商品单价",
    "订单应付金额",
    "商家优惠",
    "订单提交时间",
    "支付完成时间",
    "订单状态",
    "售后状态",
    "流量体裁",
    "达人ID",
    "达人昵称",
)
#: The village's Douyin product ids (tests/platform_sales/data/products.csv) and their prices.
PRODUCTS = (("3700000000000000101", 3990), ("3700000000000000102", 5990))
STATUSES = ("待发货", "已发货", "已完成", "已关闭", "待支付")
REFUNDS = ("", "退款成功", "售后待处理")
#: Inside the first Douyin session of the village fixture (2025-09-12 19:00 to 21:30).
PLACED = datetime(2025, 9, 12, 19, 30, tzinfo=SHANGHAI)
TIME = "%Y-%m-%d %H:%M:%S"

row = st.tuples(
    st.integers(0, len(PRODUCTS) - 1),
    st.integers(1, 4),  # units
    st.integers(0, 300),  # the merchant's discount, fen
    st.sampled_from(STATUSES),
    st.sampled_from(REFUNDS),
    st.booleans(),  # shares its order with the row before
    st.booleans(),  # sold in the live room
)


def _export(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    order = 0
    for n, (product, units, discount, status, refund, shared, live) in enumerate(rows):
        if not shared or n == 0:
            order += 1
        outside_id, price = PRODUCTS[product]
        placed = PLACED + timedelta(minutes=n)
        paid = (
            ""
            if status == "待支付"
            else (placed + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S")
        )
        writer.writerow(
            (
                f"\t69{order:08d}",
                f"\t69{order:08d}{n:03d}",
                "山货",
                units,
                f"\t{outside_id}",
                f"{price / 100:.2f}",
                f"{(price * units - discount) / 100:.2f}",
                f"{discount / 100:.2f}",
                placed.strftime(TIME),
                paid,
                status,
                refund or "-",
                "直播" if live else "视频",
                "1000000000000001" if live else "-",
                "靠山屯电商服务站" if live else "-",
            )
        )
    return out.getvalue().encode("utf-8-sig")


#: Notes that name a row's id (the upload, the refund), which differ between two runs.
_IDS = re.compile(r"(?<=\(import )\d+|(?<=refund )\d+")


def _stored(session) -> dict:
    """What the import stored, with every id replaced by the order's number and line's SKU."""
    session.expire_all()
    numbers = dict(session.execute(sa.select(Order.id, Order.number)).all())
    lines = {
        line.id: (numbers[line.order_id], line.sku_id)
        for line in session.scalars(sa.select(OrderLine))
    }
    skip = {"id", "created_at", "updated_at", "last_import_id", "completed_at"}

    def rows(model, **keyed):
        found = []
        for item in session.scalars(sa.select(model)):
            values = {c.key: getattr(item, c.key) for c in model.__table__.columns}
            for name, mapping in keyed.items():
                values[name] = mapping.get(values[name], values[name])
            for name, value in values.items():
                if isinstance(value, str):
                    values[name] = _IDS.sub("#", value)
            found.append(tuple(sorted((k, v) for k, v in values.items() if k not in skip)))
        return sorted(found, key=repr)

    payments = dict(session.execute(sa.select(Payment.id, Payment.order_id)).all())
    refunds = dict(session.execute(sa.select(Refund.id, Refund.order_id)).all())
    accounts = dict(session.execute(sa.select(LedgerAccount.id, LedgerAccount.key)).all())
    entries = dict(session.execute(sa.select(JournalEntry.id, JournalEntry.order_id)).all())
    by_payment = {k: numbers[v] for k, v in payments.items()}
    by_refund = {k: numbers[v] for k, v in refunds.items()}
    refund_lines = {
        item.id: (by_refund[item.refund_id], lines[item.order_line_id], item.amount_fen)
        for item in session.scalars(sa.select(RefundLine))
    }
    return {
        "orders": rows(Order, id=numbers),
        "lines": rows(OrderLine, order_id=numbers),
        "events": rows(OrderEvent, order_id=numbers),
        "payments": rows(Payment, order_id=numbers),
        "payment_events": rows(PaymentEvent, payment_id=by_payment),
        "refunds": rows(Refund, order_id=numbers, payment_id=by_payment),
        "refund_lines": rows(RefundLine, refund_id=by_refund, order_line_id=lines),
        "imported": rows(ImportedLine, order_id=numbers, order_line_id=lines),
        "postings": rows(
            Posting,
            order_line_id=lines,
            refund_line_id=refund_lines,
            account_id=accounts,
            entry_id={k: numbers.get(v) for k, v in entries.items()},
        ),
    }


def _import(session, village, data: bytes, batch_rows: int):
    savepoint = session.begin_nested()
    actor = Actor(user_id=None, username="test", role=Role.admin)
    report = importing.import_export(
        session,
        actor,
        village.station.id,
        importing.Upload(platform=Platform.douyin, stream=io.BytesIO(data), filename="x.csv"),
        batch_rows=batch_rows,
    )
    stored = _stored(session)
    savepoint.rollback()
    counts = {
        name: getattr(report, name)
        for name in ("rows", "created_lines", "skipped_lines", "failed_lines", "duplicate_lines")
    }
    return stored, counts


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(row, min_size=1, max_size=12))
def test_an_export_imported_in_batches_stores_what_it_stores_row_by_row(session, village, rows):
    data = _export(rows)
    fast, fast_counts = _import(session, village, data, batch_rows=1000)
    slow, slow_counts = _import(session, village, data, batch_rows=1)
    assert fast_counts == slow_counts
    assert fast == slow
    # Every paid row makes a sale (no discount here takes a whole line).
    paid = [r for r in rows if r[3] != "待支付"]
    assert (fast_counts["created_lines"] > 0) == bool(paid)
