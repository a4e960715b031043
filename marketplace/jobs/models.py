"""A job: long work a user started, run by a worker, with its progress and outcome."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, UTCDateTime, created_at, enum_type, intpk


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


#: States a job does not leave.
FINISHED = (JobState.succeeded, JobState.failed, JobState.cancelled)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[intpk]
    #: what it does (``kinds.register``): registry_import, ...
    kind: Mapped[str] = mapped_column(sa.String(40))
    state: Mapped[JobState] = mapped_column(enum_type(JobState), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: what it was asked to do, besides its input file (a dry run, ...)
    parameters: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: rows done of rows total, as last reported (while it runs, the broker has fresher)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    #: how many times a worker took it (a retry after a crash takes it again)
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    #: jobs with the same key run one at a time, in the order they were started (one
    #: platform import per station); a later one waits queued while an earlier one is not done
    serial_key: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    #: what it made (its counts; the kind says what is in it)
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    #: why it failed, as a reason: its code, its parameters
    failure: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobFile(Base):
    """A file a job reads (its upload) or makes (its failed rows): in the database, so a
    worker on any machine reads what the web server stored."""

    __tablename__ = "job_files"

    id: Mapped[intpk]
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    #: ``input``, or what the job made: ``failed_rows.csv``
    name: Mapped[str] = mapped_column(sa.String(60))
    media_type: Mapped[str] = mapped_column(sa.String(100))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("job_id", "name"),)
