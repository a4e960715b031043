"""Benefit-linking rules, station fees and assistance funds.

Admins manage; officials read their region subtree and approve rule versions; stations read
their own producers' rules. Outside one's scope is a 404.
"""

from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import REPLAYED_HEADER_DOC, Blueprint, replayed_header
from marketplace.ledger import funds, preview, service
from marketplace.ledger.schemas import (
    ContributionIn,
    ContributionOut,
    DisbursementIn,
    DisbursementOut,
    FundDetailOut,
    FundIn,
    FundOut,
    FundQuery,
    PeriodQuery,
    PreviewOut,
    RuleIn,
    RuleOut,
    RuleUpdateIn,
    StationFeeIn,
    StationFeeOut,
)
from marketplace.paging import paged

blp = Blueprint(
    "ledger",
    __name__,
    description="The money ledger: benefit-linking rules, station fees and assistance funds. "
    "Amounts are integer fen; amounts owed are shown positive.",
)

STAFF = (Role.admin, Role.official, Role.station)
FUND_READERS = (Role.admin, Role.official)
BEARER = [{"bearerAuth": []}]


# --- benefit-linking rules -------------------------------------------------------------------


@blp.route("/producers/<id:producer_id>/rules")
class ProducerRules(MethodView):
    @login_required(*STAFF)
    @blp.response(200, RuleOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, producer_id, pagination_parameters):
        """Every version of the producer's benefit-linking rule, newest first."""
        return paged(
            pagination_parameters, service.list_rules, db.session, current_actor(), producer_id
        )

    @login_required(Role.admin)
    @blp.arguments(RuleIn)
    @blp.response(201, RuleOut)
    @blp.doc(security=BEARER)
    def post(self, data, producer_id):
        """Draft a new rule version (admins). Its kind must match the producer's: a household
        sells as ``household_seller``, a co-operative keeps ``retained_bp``, an enterprise
        passes ``enterprise_bp`` or ``premium_per_unit_fen`` to ``beneficiaries``."""
        return service.create_rule(db.session, current_actor(), producer_id, data)


@blp.route("/rules/<id:rule_id>")
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


@blp.route("/rules/<id:rule_id>/approve")
class RuleApproval(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.response(200, RuleOut)
    @blp.doc(security=BEARER)
    def post(self, rule_id):
        """Approve a draft (an admin or an official of the producer's region, never its author):
        it applies to sales paid from its ``effective_from``; the version before it ends the
        day before."""
        return service.approve_rule(db.session, current_actor(), rule_id)


@blp.route("/rules/<id:rule_id>/preview")
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


@blp.route("/stations/<id:station_id>/fee")
class StationFee(MethodView):
    @login_required(Role.admin)
    @blp.arguments(StationFeeIn)
    @blp.response(200, StationFeeOut)
    @blp.doc(security=BEARER)
    def put(self, data, station_id):
        """Set the station's service fee (basis points of its lines' revenue) for sales paid
        from ``effective_from`` on (today at the earliest). Admins."""
        return service.set_station_fee(db.session, current_actor(), station_id, data)


@blp.route("/stations/<id:station_id>/fees")
class StationFees(MethodView):
    @login_required(*STAFF)
    @blp.response(200, StationFeeOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, station_id, pagination_parameters):
        """The station's fee history, latest first (no row: no fee)."""
        return paged(
            pagination_parameters,
            service.list_station_fees,
            db.session,
            current_actor(),
            station_id,
        )


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
        return paged(pagination_parameters, funds.list_funds, db.session, current_actor(), filters)

    @login_required(Role.admin)
    @blp.arguments(FundIn)
    @blp.response(201, FundOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Open an assistance fund for a region's households (admins)."""
        return funds.create_fund(db.session, current_actor(), data)


@blp.route("/funds/<id:fund_id>")
class FundById(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, FundDetailOut)
    @blp.doc(security=BEARER)
    def get(self, fund_id):
        """A fund with what it received, gave and still holds."""
        return funds.get_fund(db.session, current_actor(), fund_id)


@blp.route("/funds/<id:fund_id>/contributions")
class FundContributions(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, ContributionOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, fund_id, pagination_parameters):
        return paged(
            pagination_parameters, funds.list_contributions, db.session, current_actor(), fund_id
        )

    @login_required(Role.admin)
    @blp.arguments(ContributionIn)
    @blp.response(201, ContributionOut, headers=REPLAYED_HEADER_DOC)
    @blp.doc(security=BEARER)
    def post(self, data, fund_id):
        """Record money received (admins). The same reference sent again returns the first
        contribution; with another amount or contributor it is a 409."""
        contribution, replayed = funds.contribute(db.session, current_actor(), fund_id, data)
        return contribution, replayed_header(replayed)


@blp.route("/funds/<id:fund_id>/disbursements")
class FundDisbursements(MethodView):
    @login_required(*FUND_READERS)
    @blp.response(200, DisbursementOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, fund_id, pagination_parameters):
        return paged(
            pagination_parameters, funds.list_disbursements, db.session, current_actor(), fund_id
        )

    @login_required(Role.admin)
    @blp.arguments(DisbursementIn)
    @blp.idempotent_response(
        201, DisbursementOut, key_required=False, repeats="the same disbursement"
    )
    @blp.doc(security=BEARER)
    def post(self, data, fund_id, idempotency_key):
        """Give fund money to households of the fund's region (admins): ``fixed`` gives
        ``amount_each_fen`` to each of ``household_ids``; ``weights`` splits ``total_fen`` by
        weight to the fen. More than the fund holds is a 409 naming the shortfall."""
        return funds.disburse_once(
            db.session, current_actor(), fund_id, data, idempotency_key=idempotency_key
        )
