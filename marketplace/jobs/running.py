"""What a worker does with a job id from the queue (``run_job``, run by ``flask jobs worker``
inside the app's context).

A job is taken (queued → running, its attempt counted) in a short transaction of its own; the
kind's handler then works in a second one, which also records the job's success, so the work
and its record commit together or not at all. A handler that cannot do the work raises
``JobFailed`` with its reason: the job fails and is not retried. Any other error rolls the
work back and is raised to RQ, which runs the job again up to ``broker.RETRIES`` times (a
worker that dies mid-job is noticed by the next worker's maintenance and retried the same
way); the last attempt's failure is recorded as the job's. A job taken again after it
finished is left alone, so a job sent twice runs once.

Jobs of one serial key run one at a time: a worker that takes one while an earlier one of its
key is not done leaves it queued, and whichever job of the key finishes sends the next.
"""

import logging

import sqlalchemy as sa
from rq import get_current_job

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.jobs import broker
from marketplace.jobs.inputs import Inputs
from marketplace.jobs.kinds import KINDS, JobCancelled, JobFailed, Outcome
from marketplace.jobs.models import FINISHED, Job, JobFile, JobState
from marketplace.jobs.service import CANCELLED_BY_USER, as_failure
from marketplace.reasons import reason

logger = logging.getLogger(__name__)

UNKNOWN_KIND = reason("job.unknown_kind", "This service does not run jobs of kind {kind}.")
WORKER_ERROR = reason(
    "job.worker_error",
    "The job stopped on an internal error after {attempts} attempts; nothing of it was kept. "
    "Try again, or tell an administrator (job {job_id}).",
)

#: How often (in rows) a handler's progress reaches the broker at most.
PROGRESS_EVERY = 500


def run_job(job_id: int) -> str:
    try:
        return work(db.session, job_id)
    finally:
        db.session.remove()


def work(session, job_id: int, *, progress=None) -> str:
    """Take the job and run it; ``progress`` replaces the broker's reporting (the tests that
    run a job in their own process, without a broker)."""
    job = _take(session, job_id)
    if job is None:
        return "nothing to do"
    if job == WAITING:
        return WAITING
    kind = KINDS.get(job.kind)
    if kind is None:
        failure = as_failure(UNKNOWN_KIND(kind=job.kind))
        _finish(session, job_id, JobState.failed, failure=failure)
        return "failed"
    try:
        made = kind.handler(session, job, Inputs(session, job_id), progress or _progress(job_id))
    except JobFailed as failed:
        session.rollback()
        failure = as_failure(failed.reason)
        _finish(session, job_id, JobState.failed, failure=failure, files=failed.files)
        return "failed"
    except JobCancelled as cancelled:
        session.rollback()
        failure = as_failure(CANCELLED_BY_USER(username=cancelled.username))
        _finish(session, job_id, JobState.cancelled, failure=failure)
        return "cancelled"
    except Exception:
        session.rollback()
        _after_error(session, job_id)
        raise
    if not isinstance(made, Outcome):
        made = Outcome(made, {})
    _finish(session, job_id, JobState.succeeded, failure=None, files=made.files, result=made.result)
    return "succeeded"


#: What ``_take`` answers for a job that must wait for an earlier one of its serial key.
WAITING = "waiting"


def _attempt() -> int | None:
    """Which attempt RQ is making (1, then each retry), or None outside a worker."""
    current = get_current_job()
    if current is None or current.retries_left is None:
        return None
    return broker.RETRIES - current.retries_left + 1


def _take(session, job_id: int) -> Job | None:
    job = session.get(Job, job_id, with_for_update=True)
    attempt = _attempt()
    if job is None or job.state in FINISHED:
        session.rollback()
        return None
    if job.state is JobState.running and attempt is not None and job.attempts >= attempt:
        # The same attempt delivered twice (the job was sent again): one worker runs it.
        session.rollback()
        return None
    if job.serial_key is not None and _earlier_unfinished(session, job):
        # Sent again by the earlier job when it finishes.
        session.rollback()
        return WAITING
    if job.cancel_requested:
        # Cancelled while queued: ``cancel_job`` finished it already, unless it raced a take.
        job.state, job.finished_at = JobState.cancelled, utcnow()
        session.commit()
        return None
    # A job found running was taken by a worker that died: this is its next attempt.
    job.state, job.started_at = JobState.running, utcnow()
    job.attempts += 1
    session.commit()
    return session.get(Job, job_id)


def _progress(job_id: int):
    last = {"reported": None}

    def report(done: int, total: int | None) -> None:
        if (
            last["reported"] is not None
            and done - last["reported"] < PROGRESS_EVERY
            and done != total
        ):
            return
        last["reported"] = done
        cancelled_by = broker.report_progress(job_id, done, total)
        if cancelled_by is not None:
            raise JobCancelled(cancelled_by)

    return report


def _finish(
    session,
    job_id: int,
    state: JobState,
    *,
    failure: dict | None,
    files: dict | None = None,
    result: dict | None = None,
) -> None:
    job = session.get(Job, job_id, with_for_update=True)
    job.state, job.failure, job.finished_at = state, failure, utcnow()
    if result is not None:
        job.result = result
    for name, (media_type, data) in (files or {}).items():
        session.add(JobFile(job_id=job_id, name=name, media_type=media_type, data=data))
    if files:
        job.result = {**(job.result or {}), "files": sorted(files)}
    _record_progress(job)
    serial_key = job.serial_key
    session.commit()
    broker.forget(job_id)
    _send_next(session, serial_key)


def _earlier_unfinished(session, job: Job) -> bool:
    return (
        session.execute(
            sa.select(Job.id)
            .where(
                Job.serial_key == job.serial_key,
                Job.id < job.id,
                Job.state.in_([JobState.queued, JobState.running]),
            )
            .limit(1)
        ).first()
        is not None
    )


def _send_next(session, serial_key: str | None) -> None:
    """A job of ``serial_key`` finished: the next one waiting goes to the queue."""
    if serial_key is None:
        return
    waiting = session.execute(
        sa.select(sa.func.min(Job.id)).where(
            Job.serial_key == serial_key, Job.state == JobState.queued
        )
    ).scalar_one_or_none()
    session.rollback()
    if waiting is not None:
        broker.send_or_leave_queued(waiting)


def after_last_failure(rq_job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: when no retry is left (a worker died on the job's last attempt,
    which ``run_job`` could not record), the job fails with the reason a user can act on."""
    if rq_job.retries_left:
        return
    job_id = rq_job.args[0]
    try:
        job = db.session.get(Job, job_id, with_for_update=True)
        serial_key = None
        if job is not None and job.state not in FINISHED:
            job.state, job.finished_at = JobState.failed, utcnow()
            job.failure = as_failure(WORKER_ERROR(attempts=job.attempts, job_id=job_id))
            serial_key = job.serial_key
        db.session.commit()
        _send_next(db.session, serial_key)
    finally:
        db.session.remove()


def _record_progress(job: Job) -> None:
    found = broker.progress_of(job.id)
    if found is not None:
        job.progress_done, job.progress_total = found


def _after_error(session, job_id: int) -> None:
    job = session.get(Job, job_id, with_for_update=True)
    if job.attempts > broker.RETRIES:
        logger.exception("job %s failed on its last attempt", job_id)
        job.state, job.finished_at = JobState.failed, utcnow()
        job.failure = as_failure(WORKER_ERROR(attempts=job.attempts, job_id=job_id))
    else:
        logger.exception("job %s failed; RQ runs it again", job_id)
        job.state = JobState.queued
    serial_key = job.serial_key if job.state is JobState.failed else None
    session.commit()
    _send_next(session, serial_key)
