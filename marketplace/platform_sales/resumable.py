"""An export imported by a job, one transaction per batch of rows, so that checkout of the
station's products never waits for more than a batch, and a worker that dies part way loses
at most the batch it was writing.

Each batch is committed with the upload's record (its counts, its problems, how many of the
file's rows it has read), so the record always says exactly what the committed batches did.
Run again (the worker died, the database failed under it), the job finds its record and reads
the file from the start, passing over the rows the committed batches hold; each of those rows
was either imported (its platform order id is in ``ImportedLine``, pointing at this upload) or
kept as a problem, so nothing is imported twice and nothing is missed. The last batch is left
to the job to commit with its success: a job that succeeded read the whole file.
"""

from collections.abc import Callable
from itertools import islice

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.platform_sales import formats
from marketplace.platform_sales.importing import (
    BATCH,
    COUNTS,
    Hashing,
    Upload,
    batched,
    keep_counts,
    lock_station,
    new_record,
    prepare,
)
from marketplace.platform_sales.models import PlatformImport
from marketplace.platform_sales.run import ImportRun, Report


def import_in_batches(
    session,
    actor: Actor,
    station_id: int,
    upload: Upload,
    *,
    job_id: int,
    on_rows: Callable[[int], None],
    batch_rows: int = BATCH,
) -> PlatformImport:
    """Import (or go on importing) the job's upload, committing batch by batch; ``on_rows``
    hears the rows read so far after each commit (and may raise to stop the import there).
    Raises ``FileProblem`` when the file cannot be read from some line on: the batches before
    it stay imported, and the record says the file was not read to its end."""
    station, layout, chosen = prepare(session, actor, station_id, upload)
    record = session.execute(
        sa.select(PlatformImport).where(PlatformImport.job_id == job_id)
    ).scalar_one_or_none()
    if record is None:
        record = new_record(session, actor, station, upload, chosen, job_id=job_id, complete=False)
    record_id, read_before = record.id, record.rows
    run = ImportRun(
        session,
        station,
        upload.platform,
        record_id,
        chosen,
        None,
        layout or formats.layout_for(upload.platform),
    )
    _resume(run.report, record)
    stream = Hashing(upload.stream, None)
    items = Hashing(upload.items, None) if upload.items is not None else None
    session.commit()
    station_id = station.id  # read now: after a commit it would be read again
    rows = formats.platform_rows(upload.platform, stream, items=items, layout=layout)
    # The rows an earlier run of the job read are in its committed batches: passed over.
    for batch in batched(islice(rows, read_before, None), batch_rows):
        lock_station(session, station_id)
        run.apply(batch)
        keep_counts(session, record_id, run.report)
        if len(batch) == batch_rows:
            session.commit()
            on_rows(run.report.rows)
    run.report.sha256 = stream.digest.hexdigest()
    keep_counts(session, record_id, run.report, complete=True)
    return session.get(PlatformImport, record_id)


def import_of_job(session, job_id: int) -> int | None:
    """The upload's record the job made, if it made one."""
    return session.execute(
        sa.select(PlatformImport.id).where(PlatformImport.job_id == job_id)
    ).scalar_one_or_none()


def _resume(report: Report, record: PlatformImport) -> None:
    """The counts of the batches an earlier run committed: the run goes on from them."""
    for name in COUNTS:
        if name != "sha256":
            setattr(report, name, getattr(record, name))
    report.problems = list(record.problems)
