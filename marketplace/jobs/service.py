"""Starting, reading and cancelling jobs. A job is its starter's: they see it, and so do
admins; nobody else learns it exists (404)."""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, NotFound
from marketplace.jobs import broker
from marketplace.jobs.kinds import KINDS
from marketplace.jobs.models import FINISHED, Job, JobFile, JobState
from marketplace.reasons import Message, reason

NO_SUCH_JOB = reason("job.not_found", "Job {job_id} not found.")
NO_SUCH_FILE = reason("job.file_not_found", "Job {job_id} has no file {name}.")
FINISHED_ALREADY = reason(
    "job.finished_already", "Job {job_id} has {state} already: there is nothing to cancel."
)
CANCELLED_BY_USER = reason("job.cancelled", "Cancelled by {username}.")


def start_job(
    session,
    actor: Actor,
    kind: str,
    *,
    data: bytes,
    media_type: str,
    parameters: dict,
    more_inputs: dict[str, tuple[str, bytes]] | None = None,
    serial_key: str | None = None,
) -> Job:
    """Store the job and its input (``input``, and any ``more_inputs`` by name); it is sent to
    the queue when the transaction commits. Jobs of one ``serial_key`` run one at a time, in
    the order they were started."""
    job = Job(
        kind=kind,
        state=JobState.queued,
        created_by_id=actor.user_id,
        parameters=parameters,
        serial_key=serial_key,
    )
    session.add(job)
    session.flush()
    inputs = {"input": (media_type, data), **(more_inputs or {})}
    for name, (file_type, content) in inputs.items():
        session.add(JobFile(job_id=job.id, name=name, media_type=file_type, data=content))
    session.flush()
    broker.send_after_commit(session, job.id)
    return job


def as_failure(message: Message) -> dict:
    """A reason as a job keeps it: shown later in its reader's language."""
    return {"code": message.code, "params": message.params}


def _visible(stmt, actor: Actor):
    if actor.role is Role.admin:
        return stmt
    return stmt.where(Job.created_by_id == actor.user_id)


def get_job(session, actor: Actor, job_id: int, *, for_update: bool = False) -> Job:
    stmt = _visible(sa.select(Job).where(Job.id == job_id), actor)
    if for_update:
        stmt = stmt.with_for_update()
    job = session.execute(stmt).scalar_one_or_none()
    if job is None:
        raise NotFound(NO_SUCH_JOB(job_id=job_id))
    return job


def list_jobs(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    stmt = _visible(sa.select(Job), actor)
    if filters.get("kind"):
        stmt = stmt.where(Job.kind == filters["kind"])
    if filters.get("state"):
        stmt = stmt.where(Job.state == filters["state"])
    return page_of(
        session,
        stmt,
        order_by=[Job.created_at.desc(), Job.id.desc()],
        page=page,
        page_size=page_size,
    )


def progress(job: Job) -> tuple[int, int | None]:
    """Rows done of rows total: the worker's latest report while it runs."""
    if job.state is JobState.running:
        found = broker.progress_of(job.id)
        if found is not None:
            return found
    return job.progress_done, job.progress_total


def cancel_job(session, actor: Actor, job_id: int) -> Job:
    """A queued job is cancelled at once (a worker taking it finds it so); a running one is
    asked to stop, and stops at its next progress report, rolling back what it wrote."""
    job = get_job(session, actor, job_id, for_update=True)
    if job.state in FINISHED:
        raise Conflict(FINISHED_ALREADY(job_id=job.id, state=job.state.value))
    if job.state is JobState.running:
        # Through the broker: the worker's open transaction may hold the database (SQLite).
        broker.ask_to_cancel(job.id, actor.username)
        return job
    job.cancel_requested = True
    job.state, job.finished_at = JobState.cancelled, utcnow()
    job.failure = as_failure(CANCELLED_BY_USER(username=actor.username))
    session.flush()
    return job


def job_file(session, actor: Actor, job_id: int, name: str) -> JobFile:
    """A file the job made (never what it was started with, which may hold personal
    numbers); its kind hears of the download first."""
    job = get_job(session, actor, job_id)
    found = session.execute(
        sa.select(JobFile).where(JobFile.job_id == job.id, JobFile.name == name)
    ).scalar_one_or_none()
    if found is None or name not in (job.result or {}).get("files", []):
        raise NotFound(NO_SUCH_FILE(job_id=job.id, name=name))
    kind = KINDS.get(job.kind)
    if kind is not None and kind.on_download is not None:
        kind.on_download(session, actor, job, found)
    return found
