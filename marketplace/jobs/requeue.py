"""Jobs committed as queued that are not in the queue: their trip to it failed (the broker
was down when their transaction committed), or they waited for an earlier job of their serial
key whose finish could not send them. The next worker to start sends them again. Sending one
twice is harmless: RQ keeps one job per id, and a job taken after it finished is left alone."""

from datetime import timedelta

import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus

from marketplace.db import utcnow
from marketplace.jobs import broker
from marketplace.jobs.models import Job, JobState

#: An RQ job in these states will still reach a worker.
_IN_THE_QUEUE = (
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.DEFERRED,
    JobStatus.SCHEDULED,
)


def requeue_stranded(session, *, older_than: timedelta = timedelta(seconds=10)) -> int:
    queued = session.execute(
        sa.select(Job.id).where(
            Job.state == JobState.queued, Job.created_at < utcnow() - older_than
        )
    ).scalars()
    sent = 0
    for job_id in queued:
        try:
            found = RqJob.fetch(broker.rq_job_id(job_id), connection=broker.connection())
        except NoSuchJobError:
            found = None
        if found is None or found.get_status() not in _IN_THE_QUEUE:
            broker.send(job_id)
            sent += 1
    return sent
