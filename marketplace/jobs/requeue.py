"""Jobs committed as queued whose trip to the queue failed (the broker was down when their
transaction committed): the next worker to start sends them again. Sending one twice is
harmless: RQ keeps one job per id, and a job taken after it finished is left alone."""

from datetime import timedelta

import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob

from marketplace.db import utcnow
from marketplace.jobs import broker
from marketplace.jobs.models import Job, JobState


def requeue_stranded(session, *, older_than: timedelta = timedelta(seconds=10)) -> int:
    queued = session.execute(
        sa.select(Job.id).where(
            Job.state == JobState.queued, Job.created_at < utcnow() - older_than
        )
    ).scalars()
    sent = 0
    for job_id in queued:
        try:
            RqJob.fetch(broker.rq_job_id(job_id), connection=broker.connection())
        except NoSuchJobError:
            broker.send(job_id)
            sent += 1
    return sent
