"""Pinduoduo (拼多多) order export: one row per order, only the line's total; a partial refund's
amount is written in the merchant's note."""

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.layouts import Layout
from marketplace.platform_sales.rows import PlatformRefundStatus, RowStatus

PINDUODUO = Layout(
    platform=Platform.pinduoduo,
    order_id="订单号",
    line_id=None,
    product_key="样式ID",
    title="商品",
    quantity="商品数量(件)",
    unit_price=None,
    line_total="商品总价(元)",
    paid="商家实收金额(元)",
    placed_at="订单成交时间",
    paid_at="支付时间",
    status="订单状态",
    statuses={
        "待支付": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货，待收货": RowStatus.shipped,
        "已收货": RowStatus.completed,
        "已取消": RowStatus.closed,
    },
    refund_state="售后状态",
    refund_states={
        "无售后或售后取消": PlatformRefundStatus.none,
        "退款成功": PlatformRefundStatus.refunded,
        "退款中": PlatformRefundStatus.pending,
    },
    live="是否直播间成交",
    live_values=frozenset({"是"}),
    refund_note="商家备注",
)
