"""A platform export imported as a job: the station (or an admin) uploads it, the request
checks what can be checked without reading every row (who, which station, the layout, the
session, the file's encoding and header) and stores it; a worker imports it a batch per
transaction (``resumable.import_in_batches``), reporting rows done of rows in the file. A dry
run is a job too: the whole file in one transaction, its report kept in the job's result, then
rolled back. Imports of one station run one at a time, in the order they were uploaded (the
jobs' serial key); the session's results are computed from the orders on every read, so they
show the import as soon as each batch commits. Funding a pledge stays an official's approval.

What the job made links to the upload's record (its counts and problems; the job does not copy
them) and, when a line had a problem, ``failed_rows.csv``: each problem with its line, column
and reason, beside the row as the file had it, so the station can fix those rows (or the
product map) and upload only them again."""

import io

from marketplace import i18n
from marketplace.accounts.auth import Actor, actor_for_user_id
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.jobs import service as jobs
from marketplace.jobs.inputs import Inputs
from marketplace.jobs.kinds import JobFailed, Outcome, register
from marketplace.jobs.models import Job
from marketplace.jobs.service import start_job
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import cells, formats, resumable
from marketplace.platform_sales.failed_rows import CSV_TYPE, failed_rows_csv
from marketplace.platform_sales.importing import Upload, import_export, prepare
from marketplace.platform_sales.rows import FileProblem
from marketplace.platform_sales.schemas import ImportOut
from marketplace.reasons import Message, reason

KIND = "platform_import"

STARTER_GONE = reason(
    "platform_import.starter_inactive",
    "The account that uploaded this export is no longer active; upload it again.",
)


def start_platform_import(session, actor: Actor, station_id: int, upload: Upload) -> Job:
    """Check the upload as far as can be done at once, store it, and queue its import."""
    station, layout, _ = prepare(session, actor, station_id, upload)
    data = upload.stream.read()
    items = upload.items.read() if upload.items is not None else None
    _check_readable(upload.platform, data, items, layout)
    return start_job(
        session,
        actor,
        KIND,
        data=data,
        media_type=CSV_TYPE,
        more_inputs={"items": (CSV_TYPE, items)} if items is not None else None,
        parameters={
            "station_id": station.id,
            "platform": upload.platform.value,
            "filename": (upload.filename or "upload.csv")[:200],
            "layout": upload.layout_name,
            "session_id": upload.session_id,
            "dry_run": upload.dry_run,
            # The failed rows file speaks the uploader's language.
            "language": i18n.response_language(),
        },
        serial_key=f"{KIND}:station:{station.id}",
    )


def import_failed_rows_again(session, actor: Actor, job_id: int) -> Job:
    """A new import of only the rows a platform import's job could not take (its failed rows
    file, which reads as the export did), on the same platform, layout and session, a dry run
    if that was: what a station starts once it has fixed its product map. Taobao's failed rows
    are its item report's, read again beside the order report first uploaded."""
    job = jobs.get_job(session, actor, job_id)
    if job.kind != KIND:
        raise NotFound(jobs.NO_SUCH_JOB(job_id=job_id))
    failed = jobs.job_file(session, actor, job.id, "failed_rows.csv").data
    parameters = job.parameters
    platform = Platform(parameters["platform"])
    stream, items = io.BytesIO(failed), None
    inputs = Inputs(session, job.id)
    if platform is Platform.taobao and inputs.has("items"):
        stream, items = io.BytesIO(inputs.read("input")), io.BytesIO(failed)
    upload = Upload(
        platform=platform,
        stream=stream,
        filename=f"failed-rows-{job.id}-{parameters['filename']}"[:200],
        items=items,
        layout_name=parameters["layout"],
        session_id=parameters["session_id"],
        dry_run=parameters["dry_run"],
    )
    return start_platform_import(session, actor, parameters["station_id"], upload)


def _check_readable(platform: Platform, data: bytes, items: bytes | None, layout) -> None:
    """The file's encoding and header, and its first row: a file that cannot be read at all is
    refused before it is queued (a 422 naming it)."""
    try:
        rows = formats.platform_rows(
            platform,
            io.BytesIO(data),
            items=io.BytesIO(items) if items is not None else None,
            layout=layout,
        )
        next(rows, None)
    except FileProblem as problem:
        raise ValidationFailed({problem.field: [problem.reason]}) from None


@register(KIND)
def run_platform_import(session, job: Job, inputs, progress):
    parameters = job.parameters
    actor = actor_for_user_id(session, job.created_by_id)
    if actor is None:
        raise JobFailed(STARTER_GONE())
    platform = Platform(parameters["platform"])
    # The export is read from the database as it is consumed: the worker holds a chunk of
    # it, not the file. Taobao's rows are its item report's.
    source = "items" if platform is Platform.taobao and inputs.has("items") else "input"
    total = cells.count_records(inputs.open(source))
    progress(0, total)
    upload = Upload(
        platform=platform,
        stream=inputs.open("input"),
        filename=parameters["filename"],
        items=inputs.open("items"),
        layout_name=parameters["layout"],
        session_id=parameters["session_id"],
        dry_run=parameters["dry_run"],
    )
    language = parameters["language"]
    try:
        if upload.dry_run:
            rows_of = lambda: inputs.open(source)  # noqa: E731
            return _dry_run(
                session,
                actor,
                parameters["station_id"],
                upload,
                (progress, total),
                rows_of,
                language,
            )
        record = resumable.import_in_batches(
            session,
            actor,
            parameters["station_id"],
            upload,
            job_id=job.id,
            on_rows=lambda rows: progress(rows, total),
        )
    except FileProblem as problem:
        # The batches before the line that cannot be read stay imported (the record says the
        # file was not read to its end); their failed rows are kept all the same.
        session.rollback()
        import_id = resumable.import_of_job(session, job.id)
        files = _files(session, import_id, inputs.open(source), language) if import_id else {}
        raise JobFailed(problem.reason, files=files) from None
    except DomainError as refused:
        # What was checked at upload changed since (the layout, the session, the account).
        raise JobFailed(_first_reason(refused)) from None
    progress(record.rows, total)
    files = _files(session, record.id, inputs.open(source), language) if record.problems else {}
    return Outcome(_made(record.id, dry_run=False), files)


def _dry_run(session, actor, station_id, upload, reporting, rows_of, language) -> Outcome:
    """The import in one transaction, its report kept and its writes rolled back; ``rows_of()``
    opens the file its rows are read from, for the failed rows."""
    progress, total = reporting
    dry_run, upload.dry_run = upload.dry_run, False
    report = import_export(
        session, actor, station_id, upload, on_rows=lambda rows: progress(rows, total)
    )
    files = _files(session, report.id, rows_of(), language) if report.problems else {}
    session.rollback()
    report.id, report.dry_run = None, dry_run
    return Outcome({**_made(None, dry_run=True), "report": ImportOut().dump(report)}, files)


def _made(import_id: int | None, *, dry_run: bool) -> dict:
    made = {"platform_import_id": import_id, "dry_run": dry_run}
    if import_id is not None:
        made["links"] = {"platform_import": f"/api/v1/platform-imports/{import_id}"}
    return made


def _files(session, import_id: int, source, language: str) -> dict:
    return {"failed_rows.csv": (CSV_TYPE, failed_rows_csv(session, import_id, source, language))}


def _first_reason(error: DomainError) -> Message:
    for reasons in (error.errors or {}).values():
        if isinstance(reasons, list) and reasons and isinstance(reasons[0], Message):
            return reasons[0]
    return error.detail
