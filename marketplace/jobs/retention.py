"""How long a job's files are kept: its input (an export, a registry file with ID numbers)
and what it made (a report file, its failed rows) are deleted ``JOB_FILE_RETENTION_HOURS``
after the job finished; the job itself stays, its result saying when its files went. Workers
do it in their maintenance; ``flask jobs purge`` does it at once."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from marketplace.db import utcnow
from marketplace.jobs.models import FINISHED, Job, JobFile


def purge_files(session, *, now=None) -> int:
    """Delete the files of jobs finished longer ago than the retention; how many went."""
    hours = current_app.config["JOB_FILE_RETENTION_HOURS"]
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    expired = (
        sa.select(Job.id)
        .where(Job.state.in_(FINISHED), Job.finished_at < cutoff)
        .where(sa.exists().where(JobFile.job_id == Job.id))
    )
    job_ids = list(session.execute(expired).scalars())
    if not job_ids:
        return 0
    deleted = session.execute(sa.delete(JobFile).where(JobFile.job_id.in_(job_ids))).rowcount
    for job in session.execute(sa.select(Job).where(Job.id.in_(job_ids))).scalars():
        job.result = {**(job.result or {}), "files": [], "files_deleted_at": utcnow().isoformat()}
    session.commit()
    return deleted
