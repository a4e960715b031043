"""Report files too large to make inside a request, made by a job: a download the service
estimates at more than ``REPORT_FILE_JOB_ROWS`` rows (a county's every household) answers 202
with the job's link; a worker writes the same file the request would have streamed (the same
table, the same writer), and it is fetched from the job's files until ``JOB_FILE_RETENTION_HOURS``
after the job finished. Smaller downloads stay immediate. The file is kept under its ASCII
name (``income-households-county-1-2026-11.xlsx``); the job's result maps it to the name people
read (``download_names``), which its download gives as ``filename*``.

Who may ask for which file is decided when it is asked for (the table is built there, with its
scope checks, before anything is queued) and again by the worker, as its starter. A file that
names households has each download recorded, as a streamed one does."""

import sqlalchemy as sa
from flask import Response, current_app, request

from marketplace.accounts.auth import Actor, actor_for_user_id
from marketplace.households.models import Household
from marketplace.jobs.api import accepted
from marketplace.jobs.kinds import JobFailed, Outcome, register
from marketplace.jobs.models import Job
from marketplace.jobs.service import start_job
from marketplace.reasons import reason
from marketplace.regions.service import in_subtree_of
from marketplace.reports import exports
from marketplace.reports.scoping import reported_region

KIND = "report_file"

STARTER_GONE = reason(
    "report_file.starter_inactive",
    "The account that asked for this file is no longer active; ask for it again.",
)

#: What can be made by a job: name -> (the query's schema, the table builder), filled by the
#: API as it registers each file endpoint.
FILES: dict[str, tuple[type, object]] = {}


def households_in_region(session, actor: Actor, query: dict, **_) -> int:
    """The rows of a file with one row per household of the region: its households."""
    region = reported_region(session, actor, query["region_id"])
    return session.execute(
        sa.select(sa.func.count(Household.id)).where(in_subtree_of(Household.village_id, region.id))
    ).scalar_one()


def too_large(estimated_rows: int) -> bool:
    return estimated_rows > current_app.config["REPORT_FILE_JOB_ROWS"]


def start_report_file(session, actor: Actor, name: str, file_format: str, rows: int) -> Response:
    """Queue the file for a worker; the answer is the job, 202, its link in Location."""
    job = start_job(
        session,
        actor,
        KIND,
        data=b"",
        media_type="application/octet-stream",
        parameters={
            "file": name,
            "format": file_format,
            # Read again by the worker through the endpoint's own schema.
            "query": request.args.to_dict(),
            "estimated_rows": rows,
        },
    )
    session.flush()
    return accepted(job)


@register(KIND, on_download=lambda session, actor, job, file: _record(session, actor, job, file))
def run_report_file(session, job: Job, inputs, progress):
    parameters = job.parameters
    actor = actor_for_user_id(session, job.created_by_id)
    if actor is None:
        raise JobFailed(STARTER_GONE())
    schema, build = FILES[parameters["file"]]
    table = build(session, actor, schema().load(parameters["query"]))
    total = parameters["estimated_rows"]
    table.rows = _counted(table.rows, progress, total)
    file_format = parameters["format"]
    chunks = (
        exports.csv_chunks(table) if file_format == "csv" else exports.xlsx_chunks(table, actor)
    )
    content = b"".join(chunks)
    # Kept (and fetched, in its URL) by its ASCII name; downloaded as people read it.
    filename = table.file_name(file_format)
    made = {
        "file": filename,
        "download_names": {filename: table.display_name(file_format)},
        "personal": table.personal,
        "parameters": table.parameters,
    }
    return Outcome(made, {filename: (exports.FILE_TYPES[file_format], content)})


def _counted(rows, progress, total: int):
    done = 0
    progress(0, total)
    for row in rows:
        yield row
        done += 1
        progress(done, max(total, done))
    progress(done, done)


def _record(session, actor: Actor, job: Job, file) -> None:
    result = job.result or {}
    if result.get("personal"):
        exports.record_job_download(
            session,
            actor,
            report=job.parameters["file"],
            parameters=result.get("parameters", {}),
            file_format=job.parameters["format"],
            remote_addr=request.remote_addr,
        )
