"""A station's upload of a platform's order export, as a job: the form checks what the API
checks before queueing (``import_jobs.start_platform_import``), then the job's page shows its
progress, refreshed in place while a worker imports the file, and then what it did: the
counts, each problem by line in Chinese (a product with no map named, with a link to map it),
the failed rows to download, and one button that imports only those rows again once the map
is fixed. The upload page lists the station's past uploads.
"""

from dataclasses import replace

from flask import Response, redirect, render_template, request, url_for

from marketplace.console import forms, listing, messages, signin
from marketplace.console.pages import LARGE_UPLOADS, blp
from marketplace.console.stations import LISTED, STATIONS
from marketplace.errors import DomainError, ValidationFailed
from marketplace.extensions import db
from marketplace.jobs import service as jobs
from marketplace.jobs.models import FINISHED
from marketplace.livestreams import service as livestreams
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import import_jobs, importing, unmapped
from marketplace.platform_sales.run import PRODUCT_NOT_MAPPED
from marketplace.platform_sales.schemas import ImportFormIn
from marketplace.reasons import REASONS, reason

# A festival's export is tens of megabytes: this form takes what the API's upload takes.
LARGE_UPLOADS["console.upload_export"] = "PLATFORM_IMPORT_MAX_BYTES"

NO_EXPORT_FILE = reason("import_form.no_file", "choose the order file the platform exported")
#: problems on a job's page: a phone's screen or two
PROBLEMS_PER_PAGE = 20


def _import_page(**context):
    actor = signin.current_console_actor()
    sessions, _ = livestreams.list_sessions(db.session, actor, {}, page=1, page_size=LISTED)
    uploads, pager = listing.paged(
        jobs.list_jobs, db.session, actor, {"kind": import_jobs.KIND}, page_size=10
    )
    return forms.render_form(
        "console/station_import.html",
        sessions=sessions,
        platforms=[p for p in Platform if p is not Platform.own],
        uploads=uploads,
        pager=pager,
        **context,
    )


@blp.get("/station/imports")
@signin.signed_in(*STATIONS)
def station_import():
    return _import_page()


@blp.post("/station/imports")
@signin.signed_in(*STATIONS)
def upload_export():
    actor = signin.current_console_actor()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": [NO_EXPORT_FILE()]})
        data = forms.load(ImportFormIn(), request.form, whole=("session_id",))
        items = request.files.get("items")
        job = import_jobs.start_platform_import(
            db.session,
            actor,
            actor.station_id,
            importing.Upload(
                platform=data["platform"],
                stream=upload.stream,
                filename=upload.filename,
                items=items.stream if items and items.filename else None,
                layout_name=data.get("layout"),
                session_id=data.get("session_id"),
                dry_run=bool(request.form.get("dry_run")),
            ),
        )
    except DomainError as error:
        return _import_page(**forms.refusal(error)), error.status
    return redirect(url_for("console.import_job", job_id=job.id), 303)


@blp.get("/station/imports/jobs/<int:job_id>")
@signin.signed_in(*STATIONS)
def import_job(job_id: int):
    return render_template("console/station_import_job.html", **_job_context(job_id))


@blp.get("/station/imports/jobs/<int:job_id>/panel")
@signin.signed_in(*STATIONS)
def import_job_panel(job_id: int):
    """The job's panel alone: what the job page fetches to refresh itself."""
    response = Response(render_template("console/_import_job_panel.html", **_job_context(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/station/imports/jobs/<int:job_id>/failed_rows.csv")
@signin.signed_in(*STATIONS)
def import_failed_rows(job_id: int):
    found = jobs.job_file(db.session, signin.current_console_actor(), job_id, "failed_rows.csv")
    response = Response(found.data, mimetype=found.media_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="import-{job_id}-failed-rows.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.post("/station/imports/jobs/<int:job_id>/again")
@signin.signed_in(*STATIONS)
def import_failed_rows_again(job_id: int):
    """Once the product map is fixed: a new job over just the rows this one could not take."""
    actor = signin.current_console_actor()
    try:
        again = import_jobs.import_failed_rows_again(db.session, actor, job_id)
    except DomainError as error:
        page = render_template(
            "console/station_import_job.html",
            **_job_context(job_id),
            message=messages.chinese(error.detail),
        )
        return page, error.status
    return redirect(url_for("console.import_job", job_id=again.id), 303)


def _job_context(job_id: int) -> dict:
    actor = signin.current_console_actor()
    job = jobs.get_job(db.session, actor, job_id)
    done, total = jobs.progress(job)
    result = job.result or {}
    report = result.get("report")
    if report is None and result.get("platform_import_id"):
        report = importing.get_import(db.session, actor, result["platform_import_id"])
    failure = None
    if job.failure is not None:
        failure = messages.chinese(_kept(job.failure))
    problems, pager = _problems_page(job, report)
    return {
        "job": job,
        "finished": job.state in FINISHED,
        "done": done,
        "total": total,
        "report": report,
        "problems": problems,
        "pager": pager,
        "failure": failure,
        "failed_rows": "failed_rows.csv" in result.get("files", []),
    }


def _problems_page(job, report) -> tuple[list, listing.Pager | None]:
    """A page of the upload's problems, each in Chinese; a product with no map is named (as
    the export names it) with a link to map it. The pager's links are the job page's, also
    when the panel alone was fetched."""
    if report is None:
        return [], None
    actor = signin.current_console_actor()
    if isinstance(report, dict):  # a dry run's, kept whole in its job's result
        kept = report["problems"]

        def list_kept(*, page, page_size):
            return kept[(page - 1) * page_size : page * page_size], len(kept)

        rows, pager = listing.paged(list_kept, page_size=PROBLEMS_PER_PAGE)
    else:
        found, pager = listing.paged(
            importing.list_problems, db.session, actor, report.id, page_size=PROBLEMS_PER_PAGE
        )
        rows = [{"line": p.line, "column": p.column, **p.reason} for p in found]
    names = {}
    if any(row.get("code") == PRODUCT_NOT_MAPPED.code for row in rows):
        names = unmapped.failed_row_names(db.session, actor, job.id)
    pager = replace(pager, endpoint="console.import_job", arguments={"job_id": job.id})
    return [_problem(row, names) for row in rows], pager


def _problem(problem: dict, names: dict) -> dict:
    shown = {**problem, "reason": messages.chinese(_kept(problem)), "unmapped": None}
    if problem.get("code") == PRODUCT_NOT_MAPPED.code:
        params = problem.get("params", {})
        title = names.get(params.get("product_key"))
        shown["unmapped"] = {
            "title": title,
            "link": url_for(
                "console.station_mappings",
                platform=params.get("platform"),
                outside_id=params.get("product_key"),
                name=title or None,
                _anchor="map-one",
            ),
        }
    return shown


def _kept(kept: dict):
    """A reason as a job or an upload keeps it (its code and parameters), to be said again."""
    declared = REASONS.get(kept.get("code"))
    return declared(**kept.get("params", {})) if declared else kept.get("reason", kept["code"])
