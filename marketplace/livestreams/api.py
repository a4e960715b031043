"""Livestream sessions: scheduling, going live, ending, the SKUs they feature at live prices.

Stations manage their own sessions, admins county-led ones (and any other); officials read the
sessions of their subtree. Anyone may read a scheduled or live session's public page by its
code.
"""

from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.livestreams import live_prices, service
from marketplace.livestreams.models import SessionState
from marketplace.livestreams.schemas import (
    FeaturedOut,
    FeatureIn,
    MoveIn,
    PublicSessionOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
    SessionQuery,
    SessionUpdateIn,
)
from marketplace.paging import paged

blp = Blueprint(
    "livestreams",
    __name__,
    description="Livestream sessions and the SKUs they feature at live prices",
)

READERS = (Role.admin, Role.official, Role.station)
MANAGERS = (Role.admin, Role.station)
BEARER = [{"bearerAuth": []}]


def _detail(live_session):
    return live_prices.with_featured(db.session, [live_session])[0]


@blp.route("/livestreams")
class Sessions(MethodView):
    @login_required(*READERS)
    @blp.arguments(SessionQuery, location="query")
    @blp.response(200, SessionOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Sessions you may see, latest scheduled first; filter by state, platform, organiser
        and scheduled start."""
        return paged(
            pagination_parameters, service.list_sessions, db.session, current_actor(), filters
        )

    @login_required(*MANAGERS)
    @blp.arguments(SessionIn)
    @blp.response(201, SessionDetailOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Schedule a session. A station organises its own; an admin names the station, or
        the region of a county-led session. Its code (generated unless given) is what buyers
        name at checkout."""
        return _detail(service.create_session(db.session, current_actor(), data))


@blp.route("/livestreams/<id:session_id>")
class SessionById(MethodView):
    @login_required(*READERS)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """A session with its featured SKUs and its history of states."""
        return _detail(service.get_session(db.session, current_actor(), session_id))

    @login_required(*MANAGERS)
    @blp.arguments(SessionUpdateIn)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER)
    def patch(self, data, session_id):
        """Change a session; its platform, room and schedule only while it is scheduled. Send
        the ``version`` you read (409 when it changed since)."""
        return _detail(service.update_session(db.session, current_actor(), session_id, data))


def _mover(target: SessionState, summary: str):
    @login_required(*MANAGERS)
    @blp.arguments(MoveIn)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER, summary=summary)
    def post(self, data, session_id):
        moved = service.move(db.session, current_actor(), session_id, target, reason=data["reason"])
        return _detail(moved)

    return post


@blp.route("/livestreams/<id:session_id>/start")
class StartSession(MethodView):
    post = _mover(
        SessionState.live,
        "Go live: the featured SKUs cost their live prices at checkout. Two sessions are "
        "never live in one room (409).",
    )


@blp.route("/livestreams/<id:session_id>/end")
class EndSession(MethodView):
    post = _mover(SessionState.ended, "End a live session: its live prices stop applying.")


@blp.route("/livestreams/<id:session_id>/cancel")
class CancelSession(MethodView):
    post = _mover(SessionState.cancelled, "Cancel a scheduled session.")


@blp.route("/livestreams/<id:session_id>/featured/<id:sku_id>")
class Featured(MethodView):
    @login_required(*MANAGERS)
    @blp.arguments(FeatureIn)
    @blp.response(200, FeaturedOut(many=True))
    @blp.doc(security=BEARER)
    def put(self, data, session_id, sku_id):
        """Feature a SKU at a live price (above 0, not above its catalog price), with an
        optional cap on the units sold at it; or change them (a cap below what was sold is a
        422). A station features its own SKUs; a county-led session those of its region's
        stations. Returns the session's featured SKUs."""
        return live_prices.feature(db.session, current_actor(), session_id, sku_id, data)

    @login_required(*MANAGERS)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, session_id, sku_id):
        """Stop featuring a SKU that sold nothing at its live price."""
        live_prices.unfeature(db.session, current_actor(), session_id, sku_id)


@blp.route("/live-sessions/<string:code>")
class PublicSession(MethodView):
    @blp.response(200, PublicSessionOut)
    def get(self, code):
        """A scheduled or live session's public page: what its viewers may order, at which
        price, and how many live-price units are left."""
        return live_prices.public_session(db.session, code)
