"""Who sees which refunds: whoever sees the order for a buyer or a unit; a station only the
refunds of its own lines, and of each only those lines (a refund an admin made across two
stations shows each station its part)."""

import sqlalchemy as sa

from marketplace.accounts.scoping import ScopeRule
from marketplace.orders.scoping import ORDER_LINES, ORDERS
from marketplace.payments.models import Refund, RefundLine

REFUND_LINES = ScopeRule.through(RefundLine, RefundLine.order_line_id, ORDER_LINES)


def _with_visible_lines(actor) -> sa.ColumnElement:
    return Refund.id.in_(REFUND_LINES.restrict(sa.select(RefundLine.refund_id), actor))


REFUNDS = ScopeRule(
    Refund,
    official=_with_visible_lines,
    station=_with_visible_lines,
    buyer=lambda a: Refund.order_id.in_(ORDERS.visible_ids(a)),
    unit=lambda a: Refund.order_id.in_(ORDERS.visible_ids(a)),
)
