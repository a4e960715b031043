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
    OrderView,
    ShipmentIn,
)

blp = Blueprint("orders", __name__, description="Orders: buyers', units' and stations' views")
SECURITY = [{"bearerAuth": []}]
EVERYONE_BUT_OFFICIALS = (Role.buyer, Role.unit, Role.station, Role.admin)


def _as_seen_by(order, actor):
    """A station sees only its own lines of an order shared with other stations."""
    return OrderView(order, lines=service.lines_for(order, actor))


@blp.route("/orders")
class Orders(MethodView):
    @login_required(*EVERYONE_BUT_OFFICIALS)
    @blp.arguments(OrderQuery, location="query")
    @blp.response(200, OrderOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, filters, pagination_parameters):
        """Orders you may see: a buyer's own, a unit's organisation's, those holding a station's
        lines; filter by state, payment state, creation time, livestream code."""
        actor = current_actor()
        orders, total = service.list_orders(
            db.session,
            actor,
            filters,
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return [_as_seen_by(order, actor) for order in orders]


@blp.route("/orders/<int:order_id>")
class OrderById(MethodView):
    @login_required(*EVERYONE_BUT_OFFICIALS)
    @blp.response(200, OrderDetailOut)
    @blp.doc(security=SECURITY)
    def get(self, order_id):
        """One order with its lines and its history of states."""
        actor = current_actor()
        return _as_seen_by(service.get_order(db.session, actor, order_id), actor)


@blp.route("/orders/<int:order_id>/cancel")
class Cancel(MethodView):
    @login_required(Role.buyer, Role.unit, Role.admin)
    @blp.arguments(CancelIn)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Cancel an unpaid order; its stock returns to the shelf."""
        return service.cancel(db.session, current_actor(), order_id, reason=data["reason"])


@blp.route("/orders/<int:order_id>/shipments")
class Shipments(MethodView):
    @login_required(Role.station, Role.admin)
    @blp.arguments(ShipmentIn)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, data, order_id):
        """Ship your lines of a paid order with a carrier and tracking number."""
        actor = current_actor()
        order = fulfilment.ship(db.session, actor, order_id, **data)
        return _as_seen_by(order, actor)


@blp.route("/orders/<int:order_id>/receipt")
class Receipt(MethodView):
    @login_required(Role.buyer, Role.unit, Role.admin)
    @blp.response(200, OrderOut)
    @blp.doc(security=SECURITY)
    def post(self, order_id):
        """Confirm the goods arrived (确认收货)."""
        return fulfilment.confirm_receipt(db.session, current_actor(), order_id)
