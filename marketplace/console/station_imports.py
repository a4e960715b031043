"""A station's upload of a platform's order export, as a job: the form checks what the API
checks before queueing (``import_jobs.start_platform_import``), then the job's page shows its
progress, refreshed in place while a worker imports the file, and then what it did: the
counts, each problem by line in Chinese, and the failed rows to download, fix and upload again.
"""

from flask import Response, redirect, render_template, request, url_for

from marketplace.console import forms, messages, signin
from marketplace.console.pages import LARGE_UPLOADS, blp
from marketplace.console.stations import LISTED, STATIONS
from marketplace.errors import DomainError, ValidationFailed
from marketplace.extensions import db
from marketplace.jobs import service as jobs
from marketplace.jobs.models import FINISHED
from marketplace.livestreams import service as livestreams
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import import_jobs, importing
from marketplace.platform_sales.schemas import ImportFormIn
from marketplace.reasons import REASONS, reason

# A festival's export is tens of megabytes: this form takes what the API's upload takes.
LARGE_UPLOADS["console.upload_export"] = "PLATFORM_IMPORT_MAX_BYTES"

NO_EXPORT_FILE = reason("import_form.no_file", "choose the order file the platform exported")
#: The platforms' names as stations know them.
PLATFORM_NAMES = {
    Platform.douyin: "抖音",
    Platform.kuaishou: "快手",
    Platform.pinduoduo: "拼多多",
    Platform.taobao: "淘宝",
    Platform.wechat_channels: "微信视频号",
}


def _import_page(**context):
    actor = signin.current_console_actor()
    sessions, _ = livestreams.list_sessions(db.session, actor, {}, page=1, page_size=LISTED)
    platforms = [p for p in Platform if p is not Platform.own]
    return forms.render_form(
        "console/station_import.html",
        sessions=sessions,
        platforms=platforms,
        names=PLATFORM_NAMES,
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
    return {
        "job": job,
        "finished": job.state in FINISHED,
        "done": done,
        "total": total,
        "report": report,
        "problems": [_problem(p) for p in _problems_of(report)],
        "failure": failure,
        "failed_rows": "failed_rows.csv" in result.get("files", []),
        "names": PLATFORM_NAMES,
    }


def _problems_of(report) -> list:
    if report is None:
        return []
    return report["problems"] if isinstance(report, dict) else report.problems


def _problem(problem: dict) -> dict:
    return {**problem, "reason": messages.chinese(_kept(problem))}


def _kept(kept: dict):
    """A reason as a job or an upload keeps it (its code and parameters), to be said again."""
    declared = REASONS.get(kept.get("code"))
    return declared(**kept.get("params", {})) if declared else kept.get("reason", kept["code"])
