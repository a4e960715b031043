"""Money trails: where an order's money went, and where a household's income came from.

Admins see everything; officials the lines and households of their subtree; stations their own
lines and their village's households. Outside one's scope is a 404.
"""

import re

import orjson
from flask import Response, request
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.households.personal_data import shows_personal_numbers
from marketplace.http_api import Blueprint
from marketplace.jobs.schemas import JobOut
from marketplace.paging import paged
from marketplace.reports import (
    assistance,
    channels,
    closing,
    exports,
    file_jobs,
    files,
    income,
    income_households,
    reconciliation,
    reconciliation_job,
    session_results,
    trails,
)
from marketplace.reports.channels_schemas import ChannelReportOut
from marketplace.reports.income_body import income_body
from marketplace.reports.reading import report_session
from marketplace.reports.schemas import (
    AssistanceQuery,
    AssistanceReportOut,
    CloseIn,
    CloseQuery,
    CoverageQuery,
    CoverageRowOut,
    HouseholdTrailOut,
    IncomeQuery,
    IncomeReportOut,
    MonthCloseOut,
    OrderTrailOut,
    ReconciliationOut,
    ReopenIn,
    TrailFileQuery,
    TrailQuery,
)
from marketplace.reports.session_results_schemas import ResultsOut
from marketplace.request_cycle import outside_a_transaction, writes_when_read

blp = Blueprint(
    "reports",
    __name__,
    description="Money trails: every posting an order caused, every cause of a household's "
    "income. Amounts are integer fen; amounts owed are shown positive.",
)

STAFF = (Role.admin, Role.official, Role.station)
BEARER = [{"bearerAuth": []}]


@blp.route("/orders/<id:order_id>/money-trail")
class OrderMoneyTrail(MethodView):
    @login_required(*STAFF)
    @blp.response(200, OrderTrailOut)
    @blp.doc(security=BEARER)
    def get(self, order_id):
        """Every posting the order and its refunds caused, line by line (a station: its lines;
        an official: the lines whose produce comes from their subtree), and the totals with
        attributed + retained + fees = captured − refunded."""
        return trails.order_trail(db.session, current_actor(), order_id)


@blp.route("/households/<id:household_id>/money-trail")
class HouseholdMoneyTrail(MethodView):
    @login_required(*STAFF)
    @shows_personal_numbers
    @blp.arguments(TrailQuery, location="query")
    @blp.response(200, HouseholdTrailOut)
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, period, household_id, pagination_parameters):
        """Each posting to the household's income, oldest first, with its cause and what was
        owed after it; totals accrued, in transit, paid and owed. ``from``/``to`` cut the
        postings listed (payment days), not the totals."""
        return paged(
            pagination_parameters,
            trails.household_trail,
            db.session,
            current_actor(),
            household_id,
            start=period.get("from_"),
            end=period.get("to"),
        )


@blp.route("/reports/income")
class IncomeReport(MethodView):
    # A report only reads: outside a transaction on the main database. A replica's session
    # (``report_session``) keeps its read-only transaction.
    @outside_a_transaction
    @login_required(Role.admin, Role.official)
    @blp.arguments(IncomeQuery, location="query")
    @blp.response(200, IncomeReportOut)
    @blp.doc(security=BEARER)
    def get(self, query):
        """What the registered households of a region got from the marketplace in a period,
        by source (own sales, co-op dividends, enterprise benefit-linking, assistance funds,
        livestream pledges): gross, refunds, net, paid out, households reached and per-capita,
        and coverage by status. One row per child region; per household in a village. The
        region must be in your subtree (404 otherwise)."""
        report = income.income_report(
            report_session(), current_actor(), query["region_id"], query["period"]
        )
        # The body written out (``income_body``); IncomeReportOut above documents its shape.
        # Compact and in the body's own order, by orjson: a village's report is a few hundred
        # households (about 170 kB), which the standard encoder took 2 ms to write, and orjson
        # 0.2 ms.
        body = orjson.dumps(income_body(report))
        return Response(body, mimetype="application/json")


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @login_required(Role.admin)
    @blp.response(200, ReconciliationOut)
    @blp.alt_response(
        202,
        schema=JobOut,
        description="The ledger is large (more than RECONCILIATION_JOB_POSTINGS postings): a "
        "job checks it (its link in Location), and its result is this body.",
    )
    @blp.doc(security=BEARER)
    def get(self):
        """Every invariant of the ledger over the whole of it, and the ledger against the
        payments and payout lines: the same findings as ``flask ledger check``. Reads the
        whole ledger in a fixed number of statements; a large ledger is checked by a job."""
        if reconciliation_job.too_large(db.session):
            return reconciliation_job.start_reconciliation(db.session, current_actor())
        return reconciliation.as_body(reconciliation.run(db.session))


@blp.route("/reports/closes")
class Closes(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.arguments(CloseQuery, location="query")
    @blp.response(200, MonthCloseOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """The months closed (and reopened) for the regions of your subtree, newest first."""
        return paged(
            pagination_parameters, closing.list_closes, db.session, current_actor(), filters
        )

    @login_required(Role.admin, Role.official)
    @blp.arguments(CloseIn)
    @blp.response(201, MonthCloseOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Close a month that is over for a region of your subtree: its income report, and
        that of every region below, is frozen as it stands; an entry that would fall into it
        later (a late refund) is dated into the first open month, and shows there as an
        adjustment. 409 when it is closed already, here or above."""
        return closing.close_month(db.session, current_actor(), data["region_id"], data["month"])


@blp.route("/reports/closes/<id:close_id>/reopen")
class ReopenClose(MethodView):
    @login_required(Role.admin)
    @blp.arguments(ReopenIn)
    @blp.response(200, MonthCloseOut)
    @blp.doc(security=BEARER)
    def post(self, data, close_id):
        """Reopen a closed month (admins, with a reason; recorded): its report is computed from
        the ledger again."""
        return closing.reopen_month(db.session, current_actor(), close_id, data["reason"])


@blp.route("/reports/channels")
class ChannelReport(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.arguments(IncomeQuery, location="query")
    @blp.response(200, ChannelReportOut)
    @blp.doc(security=BEARER)
    def get(self, query):
        """Sales of the region's produce (gross, refunds, net, orders) and the income they
        attributed to households, by channel (imported sales by platform) and by livestream
        session, in a period: from the ledger, like the income report."""
        return channels.channel_report(
            report_session(), current_actor(), query["region_id"], query["period"]
        )


@blp.route("/reports/assistance")
class AssistanceReport(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.arguments(AssistanceQuery, location="query")
    @blp.response(200, AssistanceReportOut)
    @blp.doc(security=BEARER)
    def get(self, query):
        """Consumption assistance (消费帮扶): buying units' purchases of the region's produce in a
        year against each unit's quota, by unit and paired village. Only produce certified on
        the day it was paid counts (certified_fen); the rest is shown beside it."""
        return assistance.assistance_report(
            report_session(), current_actor(), query["region_id"], query["year"]
        )


# --- files ------------------------------------------------------------------------------------


def _send(table: exports.Table, file_format: str):
    return exports.file_response(
        db.session, current_actor(), table, file_format, request.remote_addr
    )


def _file_views(
    path: str,
    name: str,
    query_schema,
    build,
    summary: str,
    roles=(Role.admin, Role.official),
    estimate=None,
):
    """Register ``path``.csv and ``path``.xlsx, each documented with its own media type. With
    ``estimate`` (its rows, from the query), a file estimated above REPORT_FILE_JOB_ROWS is
    made by a job: 202 with the job's link."""
    file_jobs.FILES[name] = (query_schema, build)
    for file_format, media_type in exports.FILE_TYPES.items():

        class FileView(MethodView):
            @writes_when_read  # a file naming households records its download
            @login_required(*roles)
            @blp.arguments(query_schema, location="query")
            @blp.response(200, content_type=media_type.split(";")[0])
            @blp.alt_response(
                202,
                schema=JobOut,
                description="The file is large: a job makes it (its link in Location); "
                "fetch it from the job's files once the job succeeded.",
            )
            @blp.doc(security=BEARER, summary=summary)
            def get(self, query, file_format=file_format, **path_args):
                if estimate is not None:
                    rows = estimate(report_session(), current_actor(), query, **path_args)
                    if file_jobs.too_large(rows):
                        return file_jobs.start_report_file(
                            db.session, current_actor(), name, file_format, rows
                        )
                table = build(report_session(), current_actor(), query, **path_args)
                return _send(table, file_format)

        # The endpoint's name: distinct per path and format (flask-smorest names by class).
        FileView.__name__ = "File_" + re.sub(r"\W+", "_", path) + "_" + file_format
        blp.route(f"{path}.{file_format}")(FileView)


_file_views(
    "/reports/income",
    "income",
    IncomeQuery,
    lambda session, actor, q: files.income_table(session, actor, q["region_id"], q["period"]),
    "The income report as a file: one row per child region, or per household in a village "
    "(then recorded as personal data).",
)
_file_views(
    "/reports/income/households",
    "income_households",
    IncomeQuery,
    lambda session, actor, q: files.income_households_table(
        session, actor, q["region_id"], q["period"]
    ),
    "Every household of the region with its income in the period, streamed (a county's "
    "hundred thousand in flat memory); made by a job above REPORT_FILE_JOB_ROWS households. "
    "Its downloads are recorded.",
    estimate=file_jobs.households_in_region,
)
_file_views(
    "/reports/channels",
    "channels",
    IncomeQuery,
    lambda session, actor, q: files.channels_table(session, actor, q["region_id"], q["period"]),
    "The channel and livestream report as a file.",
)
_file_views(
    "/reports/assistance",
    "assistance",
    AssistanceQuery,
    lambda session, actor, q: files.assistance_table(session, actor, q["region_id"], q["year"]),
    "The consumption-assistance report as a file.",
)
_file_views(
    "/households/<id:household_id>/money-trail",
    "household_trail",
    TrailFileQuery,
    lambda session, actor, q, household_id: files.trail_table(
        session, actor, household_id, q["period"]
    ),
    "A household's income postings in a period, with their causes, as a file. Recorded.",
    roles=STAFF,
)


@blp.route("/reports/coverage")
class Coverage(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.arguments(CoverageQuery, location="query")
    @blp.response(200, CoverageRowOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """The region's registered households, reached in the period by the marketplace or
        (``reached=false``) not, with their status at its end: who the report's coverage
        figures count, by name."""
        return paged(
            pagination_parameters,
            income_households.coverage,
            report_session(),
            current_actor(),
            filters,
        )


@blp.route("/livestreams/<id:session_id>/results")
class SessionResults(MethodView):
    @login_required(*STAFF)
    @blp.response(200, ResultsOut)
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """What the session did, to the fen: gross, refunds, net, orders, units and buyers, by
        SKU, by producer and by source (own checkout, each platform imported); the households
        that gained (the ledger's attribution on its lines, and its disbursed pledges); its
        pledges. Live while it runs, final once it ended. A station sees its own lines, an
        official those of their subtree."""
        return session_results.session_results(db.session, current_actor(), session_id)
