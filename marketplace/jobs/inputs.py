"""What a job was started with, as its handler reads it: whole (``read``), or as a stream
read a megabyte at a time straight from the database (``open``), so that a worker importing a
50 MiB export holds a megabyte of it, not the file, however large it is.

Each chunk is read on a connection of its own, outside the job's transaction: on SQLite a
read there takes no write lock (so checkout is not held up between the job's batches), on
PostgreSQL it waits for nothing.
"""

import io

import sqlalchemy as sa

from marketplace.db import sqlite_write_intent
from marketplace.jobs.models import JobFile

CHUNK = 1 << 20


class Inputs:
    def __init__(self, session, job_id: int):
        self.session, self.job_id = session, job_id

    def _file_id(self, name: str) -> int | None:
        return self.session.execute(
            sa.select(JobFile.id).where(JobFile.job_id == self.job_id, JobFile.name == name)
        ).scalar_one_or_none()

    def has(self, name: str) -> bool:
        return self._file_id(name) is not None

    def read(self, name: str = "input") -> bytes | None:
        """The whole file (None when the job has no such file)."""
        return self.session.execute(
            sa.select(JobFile.data).where(JobFile.job_id == self.job_id, JobFile.name == name)
        ).scalar_one_or_none()

    def open(self, name: str = "input"):
        """The file as a binary stream, read in chunks as it is consumed (None when the job
        has no such file). Each call starts at its beginning."""
        file_id = self._file_id(name)
        if file_id is None:
            return None
        return io.BufferedReader(_StoredFile(self.session.get_bind(), file_id), buffer_size=CHUNK)


class _StoredFile(io.RawIOBase):
    def __init__(self, bind, file_id: int):
        self.bind, self.file_id = bind, file_id
        self.position = 0
        self.size = self._query(sa.func.length(JobFile.data))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        wanted = min(len(buffer), self.size - self.position)
        chunk = self._query(sa.func.substr(JobFile.data, self.position + 1, wanted))
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    def _query(self, column):
        statement = sa.select(column).where(JobFile.id == self.file_id)
        if not isinstance(self.bind, sa.Engine):
            # A session bound to one connection (a test's outer transaction): read through it.
            return self.bind.execute(statement).scalar_one()
        # A read, whatever the job does: on SQLite a deferred transaction, no write lock.
        token = sqlite_write_intent.set(False)
        try:
            with self.bind.connect() as connection:
                return connection.execute(statement).scalar_one()
        finally:
            sqlite_write_intent.reset(token)
