"""Who sees which orders and order lines.

A buyer sees their own orders, a unit's users their organisation's; a station the orders
holding its lines, and of those only its own lines (another station's goods, prices and
shipping are not its business); an official the lines whose produce comes from their subtree,
and the orders holding them.
"""

import sqlalchemy as sa

from marketplace.accounts.scoping import ScopeRule
from marketplace.catalog.scoping import PRODUCTS
from marketplace.orders.models import Order, OrderLine


def _orders_of(condition):
    return OrderLine.order_id.in_(sa.select(Order.id).where(condition))


ORDER_LINES = ScopeRule(
    OrderLine,
    official=lambda a: OrderLine.product_id.in_(PRODUCTS.visible_ids(a)),
    station=lambda a: OrderLine.station_id == a.station_id,
    buyer=lambda a: _orders_of(Order.buyer_id == a.user_id),
    unit=lambda a: _orders_of(Order.unit_id == a.unit_id),
)


def _holding_visible_lines(actor) -> sa.ColumnElement:
    return Order.id.in_(ORDER_LINES.restrict(sa.select(OrderLine.order_id), actor))


ORDERS = ScopeRule(
    Order,
    official=_holding_visible_lines,
    station=_holding_visible_lines,
    buyer=lambda a: Order.buyer_id == a.user_id,
    unit=lambda a: Order.unit_id == a.unit_id,
)
