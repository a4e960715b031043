"""The orders endpoints: one blueprint, tagged "orders" in the API document.

This module declares the blueprint and the views orders answer alone (reading, cancelling,
shipping, confirming receipt). The views that move money on an order (placing it with its
payment, paying, recording an offline payment, refunds) are added to the same blueprint by
``payments/api.py``: payments sits above orders, so orders cannot call it.
"""

from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.orders import fulfilment, service
from marketplace.orders.schemas import (
    CancelIn,
    OrderDetailOut,
    OrderOut,
    OrderQuery,
    ShipmentIn,
)
from marketplace.paging import paged

blp = Blueprint(
    "orders",
    __name__,
    description="Orders: placing and paying them, buyers', units' and stations' views, "
    "shipping, refunds",
)
SECURITY = [{"bearerAuth": []}]
#: Officials read the orders of their region (without the buyers' addresses); they change none.
READERS = (Role.buyer, Role.unit, Role.station, Role.official, Role.admin)


@blp.route("/orders")
class Orders(MethodView):
    @login_required(*READERS)
    @blp.arguments(OrderQuery, location="query")
    @blp.response(200, OrderOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, filters, pagination_parameters):
        """Orders you may see: a buyer's own, a unit's organisation's, those holding a station's
        lines (with only its lines), those whose produce comes from an official's region (with
        only those lines, without the shipping address); filter by state, payment state,
        creation time, payment period, channel, station, the region the produce comes from,
        livestream session or code."""
        return paged(
            pagination_parameters, service.list_orders, db.session, current_actor(), filters
        )


@blp.route("/orders/<id:order_id>")
class OrderById(MethodView):
    @login_required(*READERS)
    @blp.response(200, OrderDetailOut)
    @blp.doc(security=SECURITY)
    def get(self, order_id):
        """One order with its lines and its history of states."""
        return service.order_as_seen(db.session, current_actor(), order_id)


@blp.route("/orders/<id:order_id>/cancel")
class Cancel(MethodView):
    @login_required(Role.buyer, Role.unit, Role.admin)
    @blp.arguments(CancelIn)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Cancel an unpaid order; its stock returns to the shelf."""
        return service.cancel(db.session, current_actor(), order_id, reason=data["reason"])


@blp.route("/orders/<id:order_id>/shipments")
class Shipments(MethodView):
    @login_required(Role.station, Role.admin)
    @blp.arguments(ShipmentIn)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Ship your lines of a paid order with a carrier and tracking number."""
        actor = current_actor()
        order = fulfilment.ship(db.session, actor, order_id, **data)
        return service.as_seen_by(db.session, actor, [order])[0]


@blp.route("/orders/<id:order_id>/receipt")
class Receipt(MethodView):
    @login_required(Role.buyer, Role.unit, Role.admin)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, order_id):
        """Confirm the goods arrived (确认收货)."""
        return fulfilment.confirm_receipt(db.session, current_actor(), order_id)
