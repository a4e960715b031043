"""Kuaishou (快手小店) order export: one row per order."""

from marketplace.livestreams.models import Platform
from marketplace.platform_sales.layouts import Layout
from marketplace.platform_sales.rows import PlatformRefundStatus, RowStatus

KUAISHOU = Layout(
    platform=Platform.kuaishou,
    order_id="订单号",
    line_id=None,
    product_key="商品ID",
    title="商品名称",
    quantity="商品数量",
    unit_price="商品单价",
    line_total=None,
    paid="实付款",
    placed_at="订单创建时间",
    paid_at="订单支付时间",
    status="订单状态",
    statuses={
        "待付款": RowStatus.unpaid,
        "待发货": RowStatus.paid,
        "已发货": RowStatus.shipped,
        "交易成功": RowStatus.completed,
        "交易关闭": RowStatus.closed,
    },
    refund_state="退款状态",
    refund_states={
        "退款成功": PlatformRefundStatus.refunded,
        "退款中": PlatformRefundStatus.pending,
    },
    refunded="退款金额",
    live="订单来源",
    live_values=frozenset({"直播"}),
    host_account="推广者ID",
    host_name="推广者昵称",
)
