"""Each worker's own copies of cached storefront pages, kept current by PostgreSQL notifications.

A hit in the shared page cache (page_cache.py) costs a database round trip, to check that the
catalog generation has not moved. On PostgreSQL a worker also LISTENs on the channel
``catalog_generation``, which a trigger notifies whenever the generation moves (migration 0004),
and keeps the pages it served in memory, tagged with the generation they belong to: a hit on a
current copy touches no database at all. That is what a livestream pointing thousands of phones
at one list needs.

How current the copies are:

* a listing or price change made through this worker drops its copies as soon as it commits;
* other workers drop theirs when PostgreSQL delivers the notification, which it sends at
  commit; each anonymous request reads what has arrived, without waiting, before it looks at a
  copy, so the window is the delivery time of a local message (well under a millisecond on
  one host, a network hop otherwise);
* every copy expires with the shared page it copies (CATALOG_CACHE_SECONDS), and every read
  of the shared cache carries its generation forward: even a listening connection that died
  without a word delays nothing beyond the few seconds stock figures may lag anyway;
* a listening connection that fails visibly is dropped, and the worker reads through the shared
  cache until it has listened again.
"""

import atexit
import contextlib
import logging
import os
import select
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa
from psycopg import pq

logger = logging.getLogger(__name__)

CHANNEL = "catalog_generation"
#: Pages kept per worker; a page of 20 products is about 20 kB.
MAX_PAGES = 512
#: Reads of the listening socket per request at most (each takes all that has arrived).
_MAX_READS = 16
#: After a failed attempt to listen, the worker reads through the shared cache this long.
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class LocalPage:
    generation: int
    etag: str
    body: bytes
    total: int
    #: when the shared page was built: the copy expires with it
    created_at: datetime


class LocalPages:
    """The copies of one worker for one database, and the connection that keeps them current."""

    def __init__(self, url: str):
        self._url = url
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, LocalPage] = OrderedDict()
        self._connection: psycopg.Connection | None = None
        self._pid: int | None = None
        self._retry_at = 0.0
        #: the newest generation this worker knows of; None while not listening
        self._generation: int | None = None

    def fresh_copy(self, key: str, *, now: datetime, max_age: timedelta) -> LocalPage | None:
        """The copy of the page under ``key`` if it is of the current generation and fresh."""
        with self._lock:
            generation = self._current_generation()
            page = self._pages.get(key)
            if page is None or generation is None:
                return None
            if page.generation != generation or page.created_at <= now - max_age:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def keep(self, key: str, page: LocalPage) -> None:
        """Keep a page just read from (or stored in) the shared cache."""
        with self._lock:
            if self._generation is None:
                return  # not listening: a copy could not be trusted
            if page.generation > self._generation:
                # The database is ahead of the notifications received so far.
                self._advance(page.generation)
            elif page.generation < self._generation:
                return
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)

    def drop_all(self) -> None:
        with self._lock:
            self._pages.clear()

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    # --- the listening connection (called with the lock held) ----------------------------

    def _current_generation(self) -> int | None:
        if self._pid != os.getpid():
            # A forked worker must not use its parent's connection: listen anew.
            self._connection, self._generation, self._pid = None, None, os.getpid()
            self._pages.clear()
        if self._connection is None and not self._listen():
            return None
        try:
            self._read_notifications(self._connection.pgconn)
        except (psycopg.Error, OSError, ValueError):
            logger.warning("catalog notifications lost; reading through the shared cache")
            self._disconnect()
            return None
        return self._generation

    def _read_notifications(self, pgconn) -> None:
        """Take in whatever the server has sent, without waiting for more. Reading until the
        socket is drained matters: a server that closes the connection sends a farewell
        message first, and only the read after it finds the end of the stream."""
        for _ in range(_MAX_READS):
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
            if not readable:
                break
            pgconn.consume_input()  # raises once the stream has ended
            while (notification := pgconn.notifies()) is not None:
                self._advance(int(notification.extra))
        if pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the listening connection is closed")

    def _advance(self, generation: int) -> None:
        if self._generation is None or generation > self._generation:
            self._generation = generation
            self._pages.clear()

    def _listen(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            connection = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=2,
                application_name="marketplace catalog watch",
            )
            try:
                # LISTEN first, then read: a change committed in between is both read and told.
                connection.execute(f"LISTEN {CHANNEL}")
                row = connection.execute("SELECT value FROM catalog_generation WHERE id = 1")
                generation = row.fetchone()[0]
            except psycopg.Error:
                connection.close()
                raise
        except psycopg.Error:
            logger.warning("cannot listen for catalog changes; retrying later", exc_info=True)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return False
        self._connection, self._generation = connection, generation
        self._pages.clear()
        return True

    def _disconnect(self) -> None:
        connection, self._connection, self._generation = self._connection, None, None
        self._pages.clear()
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()


#: Per process: the copies for each PostgreSQL engine this process serves.
_by_engine: dict[sa.Engine, LocalPages] = {}
_registry_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    for pages in list(_by_engine.values()):
        pages.close()


def for_session(session) -> LocalPages | None:
    """This worker's copies for the session's database; None on SQLite, and for a session
    bound to one connection (the tests' outer transaction), which reads through the session."""
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine) or bind.dialect.name != "postgresql":
        return None
    pages = _by_engine.get(bind)
    if pages is None:
        with _registry_lock:
            pages = _by_engine.get(bind)
            if pages is None:
                url = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
                pages = _by_engine[bind] = LocalPages(url)
    return pages
