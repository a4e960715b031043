"""Benefit-linking rules, station fees, assistance funds and money trails.

Admins manage; officials read their region subtree and approve rule versions; stations read
their own producers' rules and their households' trails. Outside one's scope is a 404.
"""

import functools

from flask import request
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.households.schemas import personal_numbers_revealed
from marketplace.households.service import may_see_personal_numbers
from marketplace.http_api import Blueprint
from marketplace.idempotency import HEADER as IDEMPOTENCY_HEADER
from marketplace.ledger import funds, preview, service, trails
from marketplace.ledger.schemas import (
    ContributionIn,
    ContributionOut,
    DisbursementIn,
    DisbursementOut,
    FundDetailOut,
    FundIn,
    FundOut,
    FundQuery,
    HouseholdTrailOut,
    OrderTrailOut,
    PeriodQuery,
    PreviewOut,
    RuleIn,
    RuleOut,
    RuleUpdateIn,
    StationFeeIn,
    StationFeeOut,
    TrailQuery,
)
from marketplace.paging import paged

blp = Blueprint(
    "ledger",
    __name__,
    description="The money ledger: benefit-linking rules, station fees, assistance funds and "
    "money trails. Amounts are integer fen; amounts owed are shown positive.",
)

STAFF = (Role.admin, Role.official, Role.station)
FUND_READERS = (Role.admin, Role.official)
BEARER = [{"bearerAuth": []}]


def _numbers_as_the_registry_shows_them(view):
    """Serialize the response with ID numbers in full only for whom the registry allows."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with personal_numbers_revealed(may_see_personal_numbers(current_actor())):
            return view(*args, **kwargs)

    return wrapper


def _replayed(flag: bool) -> dict:
    return {"Idempotent-Replayed": "true" if flag else "false"}


# --- benefit-linking rules -------------------------------------------------------------------


@blp.route("/producers/<int:producer_id>/rules")
class ProducerRules(MethodView):
    @login_required(*STAFF)
    @blp.response(200, RuleOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, producer_id, pagination_parameters):
        """Every version of the producer's benefit-linking rule, newest first."""
        return paged(pagination_parameters, service.list_rules, producer_id)

    @login_required(Role.admin)
    @blp.arguments(RuleIn)
    @blp.response(201, RuleOut)
    @blp.doc(security=BEARER)
    def post(self, data, producer_id):
        """Draft a new rule version (admins). Its kind must match the producer's: a household
        sells as ``household_seller``, a co-operative keeps ``retained_bp``, an enterprise
        passes ``enterprise_bp`` or ``premium_per_unit_fen`` to ``beneficiaries``."""
        return service.create_rule(db.session, current_actor(), producer_id, data)


@blp.route("/rules/<int:rule_id>")
class RuleById(MethodView):
    @login_required(*STAFF)
    @blp.response(200, RuleOut)
    @blp.doc(security=BEARER)
    def get(self, rule_id):
        return service.get_rule(db.session, current_actor(), rule_id)

    @login_required(Role.admin)
    @blp.arguments(RuleUpdateIn)
    @blp.response(200, RuleOut)
    @blp.doc(security=BEARER)
    def patch(self, data, rule_id):
        """Change a draft (admins); an approved version is a 409."""
        return service.update_rule(db.session, current_actor(), rule_id, data)

    @login_required(Role.admin)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, rule_id):
        """Throw a draft away (admins); an approved version is a 409."""
        service.delete_rule(db.session, current_actor(), rule_id)


@blp.route("/rules/<int:rule_id>/approve")
class RuleApproval(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.response(200, RuleOut)
    @blp.doc(security=BEARER)
    def post(self, rule_id):
        """Approve a draft (an admin or an official of the producer's region, never its author):
        it applies to sales paid from its ``effective_from``; the version before it ends the
        day before."""
        return service.approve_rule(db.session, current_actor(), rule_id)


@blp.route("/rules/<int:rule_id>/preview")
class RulePreview(MethodView):
    @login_required(*STAFF)
    @blp.arguments(PeriodQuery, location="query")
    @blp.response(200, PreviewOut)
    @blp.doc(security=BEARER)
    def post(self, period, rule_id):
        """A dry run: what this version would have given each household for the producer's
        sales paid between ``from`` and ``to``, beside what they actually got. Writes nothing."""
        return preview.preview_rule(
            db.session, current_actor(), rule_id, period["from_"], period["to"]
        )


# --- station fees ----------------------------------------------------------------------------


@blp.route("/stations/<int:station_id>/fee")
class StationFee(MethodView):
    @login_required(Role.admin)
    @blp.arguments(StationFeeIn)
    @blp.response(200, StationFeeOut)
    @blp.doc(security=BEARER)
    def put(self, data, station_id):
        """Set the station's service fee (basis points of its lines' revenue) for sales paid
        from ``effective_from`` on (today at the earliest). Admins."""
        return service.set_station_fee(db.session, current_actor(), station_id, data)


@blp.route("/stations/<int:station_id>/fees")
class StationFees(MethodView):
    @login_required(*STAFF)
    @blp.response(200, StationFeeOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, station_id, pagination_parameters):
        """The station's fee history, latest first (no row: no fee)."""
        return paged(pagination_parameters, service.list_station_fees, station_id)


# --- assistance funds ------------------------------------------------------------------------


@blp.route("/funds")
class Funds(MethodView):
    @login_required(*FUND_READERS)
    @blp.arguments(FundQuery, location="query")
    @blp.response(200, FundOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Assistance funds: admins all, officials those of their subtree."""
        return paged(pagination_parameters, funds.list_funds, filters)

    @login_required(Role.admin)
    @blp.arguments(FundIn)
    @blp.response(201, FundOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Open an assistance fund for a region's households (admins)."""
        return funds.create_fund(db.session, current_actor(), data)


@blp.route("/funds/<int:fund_id>")
class FundById(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, FundDetailOut)
    @blp.doc(security=BEARER)
    def get(self, fund_id):
        """A fund with what it received, gave and still holds."""
        return funds.get_fund(db.session, current_actor(), fund_id)


@blp.route("/funds/<int:fund_id>/contributions")
class FundContributions(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, ContributionOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, fund_id, pagination_parameters):
        return paged(pagination_parameters, funds.list_contributions, fund_id)

    @login_required(Role.admin)
    @blp.arguments(ContributionIn)
    @blp.response(201, ContributionOut)
    @blp.doc(security=BEARER)
    def post(self, data, fund_id):
        """Record money received (admins). The same reference sent again returns the first
        contribution; with another amount or contributor it is a 409."""
        contribution, replayed = funds.contribute(db.session, current_actor(), fund_id, data)
        return contribution, 201, _replayed(replayed)


@blp.route("/funds/<int:fund_id>/disbursements")
class FundDisbursements(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, DisbursementOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, fund_id, pagination_parameters):
        return paged(pagination_parameters, funds.list_disbursements, fund_id)

    @login_required(Role.admin)
    @blp.arguments(DisbursementIn)
    @blp.response(201, DisbursementOut)
    @blp.doc(
        security=BEARER,
        parameters=[
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
                "description": "Retrying with the same key and body returns the same disbursement.",
            }
        ],
    )
    def post(self, data, fund_id):
        """Give fund money to households of the fund's region (admins): ``fixed`` gives
        ``amount_each_fen`` to each of ``household_ids``; ``weights`` splits ``total_fen`` by
        weight to the fen. More than the fund holds is a 409 naming the shortfall."""
        disbursement, replayed = funds.disburse_once(
            db.session,
            current_actor(),
            fund_id,
            data,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )
        return disbursement, 201, _replayed(replayed)


# --- money trails ----------------------------------------------------------------------------


@blp.route("/orders/<int:order_id>/money-trail")
class OrderMoneyTrail(MethodView):
    @login_required(*STAFF)
    @blp.response(200, OrderTrailOut)
    @blp.doc(security=BEARER)
    def get(self, order_id):
        """Every posting the order and its refunds caused, line by line (a station: its lines;
        an official: the lines whose produce comes from their subtree), and the totals with
        attributed + retained + fees = captured − refunded."""
        return trails.order_trail(db.session, current_actor(), order_id)


@blp.route("/households/<int:household_id>/money-trail")
class HouseholdMoneyTrail(MethodView):
    @login_required(*STAFF)
    @_numbers_as_the_registry_shows_them
    @blp.arguments(TrailQuery, location="query")
    @blp.response(200, HouseholdTrailOut)
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, period, household_id, pagination_parameters):
        """Each posting to the household's income, oldest first, with its cause and what was
        owed after it; totals accrued, in transit, paid and owed. ``from``/``to`` cut the
        postings listed (payment days), not the totals."""
        actor = current_actor()
        trail, count = trails.household_trail(
            db.session,
            actor,
            household_id,
            start=period.get("from_"),
            end=period.get("to"),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = count
        return trail
