"""Taobao (淘宝) exports come as two reports, orders and their items, joined here."""

from decimal import Decimal

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.cells import clean, fen, records, whole_number
from marketplace.platform_sales.layouts import Layout
from marketplace.platform_sales.rows import PlatformRow, Problem, RowStatus
from marketplace.reasons import reason

NOT_IN_ORDER_REPORT = reason("platform_row.not_in_order_report", "not in the order report")

#: Taobao's item report; its order report gives each order's payment (see ``taobao_rows``).
TAOBAO_ITEMS = Layout(
    platform=Platform.taobao,
    order_id="订单编号",
    line_id=None,
    product_key="商家编码",
    title="标题",
    quantity="购买数量",
    unit_price="价格",
    line_total=None,
    paid="价格",
    placed_at="订单创建时间",
    paid_at="订单付款时间",
    status="订单状态",
    statuses={
        "等待买家付款": RowStatus.unpaid,
        "买家已付款，等待卖家发货": RowStatus.paid,
        "卖家已发货，等待买家确认": RowStatus.shipped,
        "交易成功": RowStatus.completed,
        "交易关闭": RowStatus.closed,
    },
)


def taobao_rows(orders_stream, items_stream):
    """Taobao's two reports joined: each item of the item report, with its order's creation
    and payment time from the order report. An item's line id is its order number and
    merchant code (the reports have no sub-order id); its paid amount its price × quantity."""
    orders: dict[str, dict] = {}
    for _line, cells in records(orders_stream, ("订单编号", "订单创建时间", "订单付款时间")):
        number = clean(cells.get("订单编号"))
        if number is None:
            continue
        orders[number] = {
            "订单创建时间": cells.get("订单创建时间", ""),
            "订单付款时间": cells.get("订单付款时间", ""),
        }
    from_orders = ("订单创建时间", "订单付款时间")
    required = [name for name in TAOBAO_ITEMS.required_columns() if name not in from_orders]
    for line, cells in records(items_stream, required, field="items"):
        number = clean(cells.get("订单编号"))
        order = orders.get(number)
        if order is None:
            yield None, [Problem(line, "订单编号", NOT_IN_ORDER_REPORT())]
            continue
        merged = {**cells, **order}
        quantity, price = clean(cells.get("购买数量")), clean(cells.get("价格"))
        try:
            merged["价格"] = str(Decimal(fen(price) * whole_number(quantity)) / 100)
            merged["单价"] = price
        except (ValueError, TypeError):
            pass  # the layout reports the bad cell
        row, problems = TAOBAO_LINE.read(line, merged)
        if row is not None:
            key = f"{row.order_id}:{row.product_key}"
            row = PlatformRow(**{**row.__dict__, "line_id": key})
        yield row, problems


#: An item row with its order's times merged in, read as one line: its unit price, and the
#: line's price (price × quantity, computed in ``taobao_rows``) as what was paid.
TAOBAO_LINE = Layout(**{**TAOBAO_ITEMS.__dict__, "unit_price": "单价", "paid": "价格"})
