from flask import Response, request
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.households.personal_data import shows_personal_numbers
from marketplace.http_api import Blueprint
from marketplace.paging import paged
from marketplace.payouts import proposals, service, settlement
from marketplace.payouts.schemas import (
    LineOutcomeIn,
    PayoutRunDetailOut,
    PayoutRunIn,
    PayoutRunOut,
    PayoutRunQuery,
    ProposalOut,
    ReturnResultOut,
    ReturnUploadIn,
)
from marketplace.request_cycle import writes_when_read

blp = Blueprint(
    "payouts",
    __name__,
    description="Payout runs: what households and producers are owed, approved by a second "
    "official (maker-checker), paid through the county's one-card bank files.",
)

SECURITY = [{"bearerAuth": []}]
MEDIA_TYPES = {
    settlement.YIKATONG: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    settlement.BANK_TXT: "text/plain; charset=GBK",
}


#: Payout runs are for admins and officials; card and ID numbers are shown in full to admins.
PAYOUT_ROLES = (Role.admin, Role.official)


@blp.route("/payout-runs")
class PayoutRuns(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.arguments(PayoutRunQuery, location="query")
    @blp.response(200, PayoutRunOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, filters, pagination_parameters):
        """Payout runs in your region, newest first."""
        return paged(pagination_parameters, service.list_runs, db.session, current_actor(), filters)

    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.arguments(PayoutRunIn)
    @blp.response(201, ProposalOut)
    @blp.doc(security=SECURITY)
    def post(self, data):
        """Propose a run: one line per household (with its one-card account) and producer of
        the region owed money up to ``period_end``. Households without a payout account, or
        whose last payout failed and whose account was not corrected since, are ``skipped``."""
        return proposals.propose_run(db.session, current_actor(), data)


@blp.route("/payout-runs/<id:run_id>")
class PayoutRunById(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.response(200, PayoutRunDetailOut)
    @blp.doc(security=SECURITY)
    def get(self, run_id):
        return service.get_run(db.session, current_actor(), run_id)


@blp.route("/payout-runs/<id:run_id>/approve")
class ApproveRun(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.response(200, PayoutRunDetailOut)
    @blp.doc(security=SECURITY)
    def post(self, run_id):
        """Approve (not by its proposer): the amounts move to in transit. Again: no change."""
        return service.approve_run(db.session, current_actor(), run_id)


@blp.route("/payout-runs/<id:run_id>/cancel")
class CancelRun(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.response(200, PayoutRunDetailOut)
    @blp.doc(security=SECURITY)
    def post(self, run_id):
        """Cancel a proposed run, so its payees can be proposed again."""
        return service.cancel_run(db.session, current_actor(), run_id)


@blp.route("/payout-runs/<id:run_id>/files/<any(yikatong.xlsx, bank.txt):file_format>")
class RunFile(MethodView):
    @writes_when_read  # every download is recorded
    @login_required(*PAYOUT_ROLES)
    @blp.response(200, content_type="application/octet-stream")
    @blp.doc(security=SECURITY)
    def get(self, run_id, file_format):
        """The approved batch in full (ID and card numbers): for the approving official and
        admins only. Every download is recorded."""
        content = settlement.batch_file(
            db.session, current_actor(), run_id, file_format, remote_addr=request.remote_addr
        )
        response = Response(content, mimetype=MEDIA_TYPES[file_format])
        response.headers["Content-Disposition"] = (
            f'attachment; filename="payout-run-{run_id}-{file_format}"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/payout-runs/<id:run_id>/returns")
class RunReturns(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.arguments(ReturnUploadIn, location="files")
    @blp.response(200, ReturnResultOut)
    @blp.doc(security=SECURITY)
    def post(self, files, run_id):
        """Import the bank's return file (multipart field ``file``): 成功 marks a line paid,
        失败 re-credits the household with the reason. The same file twice changes nothing."""
        return settlement.import_return(db.session, current_actor(), run_id, files["file"].read())


@blp.route("/payout-runs/<id:run_id>/lines/<id:line_id>/outcome")
class LineOutcome(MethodView):
    @login_required(*PAYOUT_ROLES)
    @shows_personal_numbers
    @blp.arguments(LineOutcomeIn)
    @blp.response(200, PayoutRunDetailOut)
    @blp.doc(security=SECURITY)
    def post(self, data, run_id, line_id):
        """Record the outcome of a producer's line, paid by bank transfer outside the
        one-card file."""
        return settlement.record_line_outcome(
            db.session, current_actor(), run_id, line_id, data["outcome"], data["failure_reason"]
        )
