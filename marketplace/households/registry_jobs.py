"""The registry's CSV import as a job: an admin (any village) or an official (the villages of
their region) uploads the file, and a worker validates every row and imports all of it or
nothing (``importing.import_registry``), reporting its progress. A dry run is the same job
rolled back. The rows that cannot be taken are the job's ``failed_rows.csv``."""

import codecs
import csv
import io

from marketplace import spreadsheets
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.errors import ValidationFailed
from marketplace.households import importing
from marketplace.households.registry_file import (
    REQUIRED_COLUMNS,
    decode_registry_file,
    read_headers,
)
from marketplace.jobs.kinds import JobFailed, register
from marketplace.jobs.models import Job
from marketplace.jobs.service import start_job
from marketplace.reasons import reason

KIND = "registry_import"
CSV_TYPE = "text/csv; charset=utf-8"

NOT_IMPORTED = reason(
    "registry_import.rows_refused",
    "{problems} problems on {lines} lines; nothing was imported. The rows and what is wrong "
    "with each are in failed_rows.csv.",
)


NOT_TEXT = reason("registry_import.not_text", "neither UTF-8 nor GB18030 text")
NOT_A_HEADER = reason(
    "registry_import.not_a_header",
    "its first line is not a registry file's header (columns {columns})",
)


def check_readable(data: bytes) -> None:
    """The file's encoding and header: a file that is no registry file at all is refused
    before it is queued (a 422 naming ``file``); its rows are the worker's to check."""
    head = data[: 64 * 1024]
    try:
        # The head may end inside a character: only a fault before its last bytes counts.
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        except UnicodeDecodeError:
            raise ValidationFailed({"file": [NOT_TEXT()]}) from None
    first_line = data.split(b"\n", 1)[0]
    try:
        reader = csv.reader(io.StringIO(decode_registry_file(first_line)))
        _, problems = read_headers(reader)
    except (UnicodeDecodeError, csv.Error):
        raise ValidationFailed({"file": [NOT_TEXT()]}) from None
    if problems:
        # An empty first line names no column: those it lacks are the required ones.
        named = [problem.column for problem in problems if problem.column]
        columns = ", ".join(dict.fromkeys(named or REQUIRED_COLUMNS))
        raise ValidationFailed({"file": [NOT_A_HEADER(columns=columns)]})


def start_registry_import(
    session, actor: Actor, data: bytes, *, dry_run: bool, skip_existing: bool
) -> Job:
    """Check the file's header and queue its import for a worker."""
    check_readable(data)
    return start_job(
        session,
        actor,
        KIND,
        data=data,
        media_type=CSV_TYPE,
        parameters={
            "dry_run": dry_run,
            "skip_existing": skip_existing,
            # An official names villages of their region only; an admin any village.
            "within_region_id": None if actor.role is Role.admin else actor.region_id,
        },
    )


@register(KIND)
def run_registry_import(session, job: Job, inputs, progress) -> dict:
    parameters = job.parameters
    # The import checks every row before it writes any: it reads the file whole.
    data = inputs.read()
    # The import reports how far it is by iterating through ``counting``.
    report = importing.import_registry(
        session,
        data,
        dry_run=parameters["dry_run"],
        skip_existing=parameters["skip_existing"],
        within_region_id=parameters["within_region_id"],
        progress=_counting(progress),
    )
    if not report.ok:
        lines = len({problem.line for problem in report.problems})
        raise JobFailed(
            NOT_IMPORTED(problems=len(report.problems), lines=lines),
            files={"failed_rows.csv": (CSV_TYPE, _failed_rows(report.problems))},
        )
    if parameters["dry_run"]:
        session.rollback()
    return {
        "rows": report.rows,
        "created": report.created,
        "with_payout_account": report.with_payout_account,
        "skipped": report.skipped,
        "dry_run": parameters["dry_run"],
    }


def _counting(progress):
    """The import's progress wrapper (it iterates its rows, then its insert batches) as
    rows done of rows to insert."""

    def wrap(iterable, *, desc: str, unit: str):
        items = list(iterable)
        if desc != "importing":
            return items
        total = sum(len(batch) for batch in items)
        progress(0, total)

        def counted():
            done = 0
            for batch in items:
                yield batch
                done += len(batch)
                progress(done, total)

        return counted()

    return wrap


def _failed_rows(problems) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(["行号", "列", "问题"])
    for problem in problems:
        writer.writerow(
            [
                problem.line,
                spreadsheets.csv_text(problem.column),
                spreadsheets.csv_text(problem.message),
            ]
        )
    return buffer.getvalue().encode("utf-8")
