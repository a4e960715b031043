import json

from flask import Response, url_for
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.jobs import service
from marketplace.jobs.schemas import JobOut, JobQuery
from marketplace.paging import paged
from marketplace.spreadsheets import attachment

blp = Blueprint(
    "jobs",
    __name__,
    description="Long work run by workers: its state, progress, outcome and files. A job is "
    "started by its domain's endpoint (a registry import, ...), which answers 202 with the "
    "job's link in Location; poll the job until its state is succeeded, failed or cancelled.",
)
BEARER = [{"bearerAuth": []}]
ANYONE = tuple(Role)


def accepted(job) -> Response:
    """A job just started, as the answer of an endpoint whose own answer is something else
    (a file, a report): 202, the job's body and its link in Location."""
    body = json.dumps(JobOut().dump(job), ensure_ascii=False)
    location = url_for("jobs.JobById", job_id=job.id)
    return Response(body, 202, mimetype="application/json", headers={"Location": location})


@blp.route("/jobs")
class Jobs(MethodView):
    @login_required(*ANYONE)
    @blp.arguments(JobQuery, location="query")
    @blp.response(200, JobOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """The jobs you started (an admin: everyone's), newest first."""
        return paged(pagination_parameters, service.list_jobs, db.session, current_actor(), filters)


@blp.route("/jobs/<id:job_id>")
class JobById(MethodView):
    @login_required(*ANYONE)
    @blp.response(200, JobOut)
    @blp.doc(security=BEARER)
    def get(self, job_id):
        """A job: its state, its progress while it runs, what it made or why it failed."""
        return service.get_job(db.session, current_actor(), job_id)


@blp.route("/jobs/<id:job_id>/cancel")
class CancelJob(MethodView):
    @login_required(*ANYONE)
    @blp.response(200, JobOut)
    @blp.doc(security=BEARER)
    def post(self, job_id):
        """Cancel a job. A queued one is cancelled at once; a running one stops at its next
        progress report and rolls back what it wrote (poll it: its state becomes
        cancelled). A finished job is a 409."""
        return service.cancel_job(db.session, current_actor(), job_id)


@blp.route("/jobs/<id:job_id>/files/<string:name>")
class JobFileByName(MethodView):
    @login_required(*ANYONE)
    @blp.response(200, description="The file, as the job made it (CSV: UTF-8 with a BOM).")
    @blp.doc(security=BEARER)
    def get(self, job_id, name):
        """A file the job made: the rows it could not take (``failed_rows.csv``), ..."""
        found = service.job_file(db.session, current_actor(), job_id, name)
        # A report file is kept by its ASCII name; its job's result names it as people read it.
        job = service.get_job(db.session, current_actor(), job_id)
        shown = (job.result or {}).get("download_names", {}).get(name)
        response = Response(found.data, mimetype=found.media_type)
        response.headers["Content-Disposition"] = attachment(f"job-{job_id}-{name}", shown)
        response.headers["Cache-Control"] = "no-store"
        return response
