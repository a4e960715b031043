"""Pledges made in a livestream session, funded when it ends, approved by a second user."""

from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.ledger.pledges import funding
from marketplace.ledger.pledges import service as pledges
from marketplace.ledger.pledges.schemas import PledgeIn, PledgeOut

blp = Blueprint(
    "pledges",
    __name__,
    description="Pledges made on air to households, funded from a session's proceeds",
)

READERS = (Role.admin, Role.official, Role.station)
MANAGERS = (Role.admin, Role.station)
BEARER = [{"bearerAuth": []}]


@blp.route("/livestreams/<id:session_id>/pledges")
class SessionPledges(MethodView):
    @login_required(*READERS)
    @blp.response(200, PledgeOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """The session's pledges: what was promised, and how far it got (funded, disbursed)."""
        return pledges.list_pledges(db.session, current_actor(), session_id)

    @login_required(*MANAGERS)
    @blp.arguments(PledgeIn)
    @blp.response(201, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, data, session_id):
        """Record a pledge made in a scheduled or live session: ``per_household`` (an amount
        to each household named) or ``share_of_net`` (basis points of the session's net sales
        to a village's registered households), paid by a producer of the organiser from what
        it is owed, or by an outside payer. A producer owed less than a per-household pledge
        is a 409 with the figures. When the session ends the pledge becomes a fund."""
        return pledges.create_pledge(db.session, current_actor(), session_id, data)


@blp.route("/pledges/<id:pledge_id>")
class PledgeById(MethodView):
    @login_required(*READERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def get(self, pledge_id):
        """A pledge, its households and their amounts."""
        return pledges.get_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/fund")
class FundPledge(MethodView):
    @login_required(*MANAGERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Fund a pledge the session's end could not (its payer was owed too little then):
        the money moves into a new assistance fund and the disbursement is proposed, with you
        as its maker. 409 once funded, or while the payer is still owed too little."""
        return funding.fund_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/approve")
class ApprovePledge(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Approve a funded pledge's disbursement: the households have the money. Not by its
        maker (403); once only (409)."""
        return funding.approve_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/cancel")
class CancelPledge(MethodView):
    @login_required(*MANAGERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Withdraw a pledge not yet funded."""
        return pledges.cancel_pledge(db.session, current_actor(), pledge_id)
