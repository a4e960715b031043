"""Taobao (淘宝) exports come as two reports, orders and their items, joined here."""

import io
from decimal import Decimal

from marketplace.ledger.allocation import largest_remainder
from marketplace.livestreams.models import Platform
from marketplace.platform_sales.cells import clean, fen, records, whole_number
from marketplace.platform_sales.layouts import Layout
from marketplace.platform_sales.rows import PlatformRow, Problem, RowStatus
from marketplace.reasons import reason

#: The order report's column of what the buyer owed for the goods, its discounts deducted.
GOODS = "买家应付货款"

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
    merchant code (the reports have no sub-order id); its paid amount its price × quantity,
    less its share of the order's own discounts (``_order_discounts``)."""
    orders: dict[str, dict] = {}
    for _line, cells in records(orders_stream, ("订单编号", "订单创建时间", "订单付款时间")):
        number = clean(cells.get("订单编号"))
        if number is None:
            continue
        orders[number] = {
            "订单创建时间": cells.get("订单创建时间", ""),
            "订单付款时间": cells.get("订单付款时间", ""),
            GOODS: cells.get(GOODS),
        }
    from_orders = ("订单创建时间", "订单付款时间")
    required = [name for name in TAOBAO_ITEMS.required_columns() if name not in from_orders]
    # Read twice: once for each order's discount, once for its items.
    items = items_stream.read()
    discounts = _order_discounts(orders, io.BytesIO(items), required)
    for line, cells in records(io.BytesIO(items), required, field="items"):
        number = clean(cells.get("订单编号"))
        order = orders.get(number)
        if order is None:
            yield None, [Problem(line, "订单编号", NOT_IN_ORDER_REPORT())]
            continue
        merged = {**cells, **order}
        quantity, price = clean(cells.get("购买数量")), clean(cells.get("价格"))
        try:
            share = discounts.get((number, clean(cells.get("商家编码"))), 0)
            merged["价格"] = str(Decimal(fen(price) * whole_number(quantity) - share) / 100)
            merged["单价"] = price
        except (ValueError, TypeError):
            pass  # the layout reports the bad cell
        row, problems = TAOBAO_LINE.read(line, merged)
        if row is not None:
            key = f"{row.order_id}:{row.product_key}"
            row = PlatformRow(**{**row.__dict__, "line_id": key})
        yield row, problems


def _order_discounts(orders: dict, items, required) -> dict[tuple[str, str], int]:
    """Each item's share of its order's own discounts (a shop coupon, a full-reduction): what
    its items cost (price × quantity) less what the buyer owed for the goods (``买家应付货款``),
    spread over the items in proportion to their amounts by largest remainder, as Taobao's
    settlement does, so that the order's lines add up to what was paid. An item listed twice
    counts once (the second is a duplicate row); an order whose items cost less than it (a
    price changed after the order) is left as its items say."""
    lines: dict[str, dict[str, int]] = {}
    for _line, cells in records(items, required, field="items"):
        number, code = clean(cells.get("订单编号")), clean(cells.get("商家编码"))
        try:
            amount = fen(clean(cells.get("价格"))) * whole_number(clean(cells.get("购买数量")))
        except (ValueError, TypeError):
            continue  # the item's own row reports it
        if number in orders and code is not None and amount > 0:
            lines.setdefault(number, {}).setdefault(code, amount)
    shares: dict[tuple[str, str], int] = {}
    for number, amounts in lines.items():
        try:
            goods = fen(clean(orders[number][GOODS]))
        except (ValueError, TypeError):
            continue  # no such column, or nothing readable in it: no discount known
        discount = sum(amounts.values()) - goods
        if 0 < discount < sum(amounts.values()):
            for code, share in largest_remainder(discount, amounts.items()).items():
                shares[number, code] = share
    return shares


#: An item row with its order's times merged in, read as one line: its unit price, and the
#: line's price (price × quantity, computed in ``taobao_rows``) as what was paid.
TAOBAO_LINE = Layout(**{**TAOBAO_ITEMS.__dict__, "unit_price": "单价", "paid": "价格"})
