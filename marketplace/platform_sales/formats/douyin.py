"""Douyin (抖店) order export: one row per sub-order; the merchant's amount is price × quantity
less the merchant's discount (商家优惠)."""

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.layouts import Layout
from marketplace.platform_sales.rows import PlatformRefundStatus, RowStatus

DOUYIN = Layout(
    platform=Platform.douyin,
    order_id="主订单编号",
    line_id="子订单编号",
    product_key="商品ID",
    title="选购商品",
    quantity="商品数量",
    unit_price="商品单价",
    line_total=None,
    paid="订单应付金额",
    placed_at="订单提交时间",
    paid_at="支付完成时间",
    status="订单状态",
    statuses={
        "待支付": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货": RowStatus.shipped,
        "已完成": RowStatus.completed,
        "已关闭": RowStatus.closed,
    },
    refund_state="售后状态",
    refund_states={
        "退款成功": PlatformRefundStatus.refunded,
        "售后待处理": PlatformRefundStatus.pending,
        "退款中": PlatformRefundStatus.pending,
        "售后关闭": PlatformRefundStatus.none,
    },
    live="流量体裁",
    live_values=frozenset({"直播"}),
    host_account="达人ID",
    host_name="达人昵称",
    seller_discount="商家优惠",
)
