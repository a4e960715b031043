"""Hearing PostgreSQL's notices in a worker: a connection of the process's own LISTENing on a
channel, read without waiting at the start of the requests that care (the storefront's copies
of pages, ``catalog/storefront/local_pages.py``; the actors remembered for tokens,
``accounts/known_tokens.py``).

PostgreSQL sends a notice at commit, so a worker learns of another process's change after the
delivery of a local message (well under a millisecond on one host). ``Listener.poll`` says
what arrived, and whether listening has just begun (notices sent before it were not heard:
what was known must be read again). A listening connection that fails visibly is dropped, and
``poll`` answers None until the worker has listened again, at most every ``RETRY_SECONDS``; one
that dies without a word is found by keepalives within a minute, so what a worker keeps on the
strength of notices must also expire on its own.
"""

import contextlib
import logging
import os
import select
import time
from dataclasses import dataclass

import psycopg
from psycopg import pq

logger = logging.getLogger(__name__)

#: After a failed attempt to listen, the worker goes without for this long.
RETRY_SECONDS = 5.0
#: Reads of the listening socket per call at most (each takes all that has arrived).
_MAX_READS = 16


@dataclass(frozen=True)
class Heard:
    """What a poll found: the notices' payloads since the last poll, in order."""

    payloads: tuple[str, ...]
    #: listening began at this poll: whatever was known before must be read again
    fresh: bool
    #: the listening connection, to read what is current right after listening began
    connection: psycopg.Connection


class Listener:
    """One process's connection listening on ``channel`` of the database at ``url``."""

    def __init__(self, url: str, channel: str, application_name: str):
        self._url = url
        self._channel = channel
        self._application_name = application_name
        self._connection: psycopg.Connection | None = None
        self._pid: int | None = None
        self._retry_at = 0.0
        # Made when listening begins, not per poll: nearly every poll finds nothing, and it
        # runs at the start of every request that cares (a cached page, a token).
        self._socket: select.poll | None = None
        self._quiet: Heard | None = None

    @classmethod
    def on_engine(cls, engine, channel: str, application_name: str) -> "Listener":
        """A listener on the database of a SQLAlchemy ``engine`` (psycopg's own URL)."""
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(url, channel, application_name)

    def poll(self) -> Heard | None:
        """What has arrived since the last poll; None while not listening."""
        if self._pid != os.getpid():
            # A forked worker must not use its parent's connection: listen anew.
            self._connection, self._pid = None, os.getpid()
        if self._connection is None:
            connection = self._listen()
            if connection is None:
                return None
            self._socket = select.poll()
            self._socket.register(connection.pgconn.socket, select.POLLIN)
            self._quiet = Heard((), False, connection)
            return Heard((), True, connection)
        if not self._socket.poll(0):
            return self._quiet
        try:
            payloads = self._read(self._connection.pgconn, self._socket)
        except (psycopg.Error, OSError):
            logger.warning("notices on %s lost; listening again later", self._channel)
            self.close()
            return None
        return Heard(payloads, False, self._connection) if payloads else self._quiet

    @staticmethod
    def _read(pgconn, socket: select.poll) -> tuple[str, ...]:
        """What the server has sent, taken in without waiting for more. Reading until the
        socket is drained matters: a server that closes the connection sends a farewell
        message first, and only the read after it finds the end of the stream."""
        payloads = []
        for _ in range(_MAX_READS):
            pgconn.consume_input()  # raises once the stream has ended
            while (notification := pgconn.notifies()) is not None:
                payloads.append(notification.extra.decode())
            if not socket.poll(0):
                break
        if pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the listening connection is closed")
        return tuple(payloads)

    def _listen(self) -> psycopg.Connection | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            connection = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=2,
                application_name=self._application_name,
                # A request waits for this: never long. Keepalives find a peer that vanished
                # without a word.
                options="-c statement_timeout=2000",
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
            try:
                connection.execute(f"LISTEN {self._channel}")
            except psycopg.Error:
                connection.close()
                raise
        except psycopg.Error:
            logger.warning("cannot listen on %s; retrying later", self._channel, exc_info=True)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return None
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self._socket = self._quiet = None
        self._retry_at = time.monotonic() + RETRY_SECONDS
        # A forked child must not close (and so end) its parent's session.
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(psycopg.Error):
                connection.close()
