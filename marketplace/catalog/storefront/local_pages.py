"""Each worker's own copies of cached storefront pages, checked against the catalog generation
without a round trip to a database server.

A hit in the shared page cache (page_cache.py) reads the database, to check that the catalog
generation has not moved. Each worker also keeps the pages it served in memory, tagged with the
generation they belong to, and serves a copy while it is of the current generation and fresh.
That is what a livestream pointing thousands of phones at one list needs. How a worker knows
the current generation without asking for it:

* on PostgreSQL it LISTENs on the channel ``catalog_generation``, which a trigger notifies
  whenever the generation moves (migration 0004), and reads what has arrived, without waiting,
  at the start of every anonymous request. PostgreSQL sends the notice at commit, so the window
  in which another worker may still serve the old page is the delivery time of a local message
  (well under a millisecond on one host, a network hop otherwise); this worker's own changes
  drop its copies at commit. A listening connection that fails visibly is dropped, and the
  worker reads through the shared cache until it has listened again; even one that died
  without a word delays nothing beyond CATALOG_CACHE_SECONDS, since every copy expires with the
  shared page it copies and every read of the shared cache carries its generation forward;
* on SQLite, ``PRAGMA data_version`` on a connection of the worker's own changes whenever any
  other connection, in any process, has committed: while it stays the same, nothing can have
  moved; when it changes, the generation is read again (a local file read). No window at all.
"""

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa

from marketplace.notices import Listener

logger = logging.getLogger(__name__)

CHANNEL = "catalog_generation"
#: Pages kept per worker: a page of 20 products is about 20 kB, of 100 (the largest) 100 kB.
MAX_PAGES = 256
#: Lists' totals kept per worker (listing.list_storefront): a few hundred bytes each.
MAX_TOTALS = 4096


@dataclass(frozen=True)
class LocalPage:
    generation: int
    etag: str
    body: bytes
    total: int
    #: when the shared page was built: the copy expires with it
    created_at: datetime
    next_cursor: str | None = None


class LocalPages:
    """The copies of one worker for one database, and the watch that keeps them current."""

    def __init__(self, watch):
        self._watch = watch
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, LocalPage] = OrderedDict()
        #: the bounded totals of lists built fresh, of the current generation
        self._totals: OrderedDict[tuple, int] = OrderedDict()
        #: the newest generation this worker knows of; None while it cannot know
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
                return  # the watch cannot tell what is current: no copy to trust
            if page.generation > self._generation:
                # The database is ahead of what the watch has seen so far.
                self._advance(page.generation)
            elif page.generation < self._generation:
                return
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)

    def total(self, key: tuple) -> tuple[int | None, int | None]:
        """The current generation (None when the watch cannot tell), and the total kept under
        ``key`` for it, if any."""
        with self._lock:
            generation = self._current_generation()
            total = self._totals.get(key) if generation is not None else None
            if total is not None:
                self._totals.move_to_end(key)
            return generation, total

    def keep_total(self, key: tuple, generation: int, total: int) -> None:
        """Keep a total counted after ``total`` said the generation was ``generation``: a
        change committed since then moves the generation and drops it, at the latest when
        its notice arrives, as it drops the copies of pages."""
        with self._lock:
            if self._generation != generation:
                return
            self._totals[key] = total
            self._totals.move_to_end(key)
            while len(self._totals) > MAX_TOTALS:
                self._totals.popitem(last=False)

    def catch_up(self, generation: int) -> None:
        """This worker committed ``generation``: its copies of older ones go, and a request
        still holding a page of an older generation cannot keep it afterwards."""
        with self._lock:
            if self._generation is not None:
                self._advance(generation)

    def close(self) -> None:
        with self._lock:
            self._watch.close()

    def _current_generation(self) -> int | None:
        """(Lock held.) The current generation, or None when the watch cannot tell."""
        generation = self._watch.poll(self._generation)
        if generation is None:
            self._generation = None
            self._pages.clear()
            self._totals.clear()
            return None
        self._advance(generation)
        return self._generation

    def _advance(self, generation: int) -> None:
        if self._generation is None or generation > self._generation:
            self._generation = generation
            self._pages.clear()
            self._totals.clear()


class _PostgresWatch:
    """The generation as announced on the ``catalog_generation`` channel (``notices.py``)."""

    def __init__(self, engine: sa.Engine):
        self._listener = Listener.on_engine(
            engine, CHANNEL, application_name="marketplace catalog watch"
        )

    def poll(self, known: int | None) -> int | None:
        heard = self._listener.poll()
        if heard is None:
            return None
        newest = known
        try:
            if heard.fresh:
                # Listening first, then reading: a change committed in between is both read
                # and told.
                newest = self._generation_now(heard.connection)
            for payload in heard.payloads:
                newest = int(payload) if newest is None else max(newest, int(payload))
        except (psycopg.Error, ValueError):
            logger.warning("catalog notifications lost; reading through the shared cache")
            self.close()
            return None
        return newest

    @staticmethod
    def _generation_now(connection) -> int:
        row = connection.execute("SELECT value FROM catalog_generation WHERE id = 1")
        generation = row.fetchone()[0]
        # Notices that arrived while it ran were set aside by psycopg: take them.
        for notification in connection.notifies(timeout=0):
            generation = max(generation, int(notification.payload))
        return generation

    def close(self) -> None:
        self._listener.close()


class _SqliteWatch:
    """The generation as stored in the SQLite file, read again only after a commit."""

    def __init__(self, path: str):
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._data_version: int | None = None

    def poll(self, known: int | None) -> int | None:
        if self._pid != os.getpid():
            self._connection, self._pid = None, os.getpid()
        try:
            if self._connection is None:
                # Used under LocalPages' lock only, whichever thread holds it.
                self._connection = sqlite3.connect(
                    self._path, isolation_level=None, check_same_thread=False, timeout=10
                )
                self._data_version = None
            # Read before the generation: a commit in between shows at the next poll.
            (version,) = self._connection.execute("PRAGMA data_version").fetchone()
            if version == self._data_version and known is not None:
                return known
            row = self._connection.execute("SELECT value FROM catalog_generation WHERE id = 1")
            (generation,) = row.fetchone()
        except sqlite3.Error:
            logger.warning("cannot read the catalog generation; reading through the cache")
            self.close()
            return None
        self._data_version = version
        return generation

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                connection.close()


#: Per process: the copies for each PostgreSQL engine this process serves.
_by_engine: dict[sa.Engine, LocalPages] = {}
_registry_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    for pages in list(_by_engine.values()):
        pages.close()


def for_session(session) -> LocalPages | None:
    """This worker's copies for the session's database; None for a session bound to one
    connection (the tests' outer transaction), which reads through the session, and for a
    database in memory."""
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine):
        return None
    pages = _by_engine.get(bind)
    if pages is None:
        with _registry_lock:
            pages = _by_engine.get(bind)
            if pages is None:
                watch = _watch_for(bind)
                if watch is None:
                    return None
                pages = _by_engine[bind] = LocalPages(watch)
    return pages


def made_for(engine: sa.Engine) -> LocalPages | None:
    """This worker's copies for ``engine`` if a request has made them (``for_session``), else
    None. It makes none: that is for_session's to decide, from the session it is given."""
    return _by_engine.get(engine)


def _watch_for(engine: sa.Engine):
    if engine.dialect.name == "postgresql":
        return _PostgresWatch(engine)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return _SqliteWatch(engine.url.database)
    return None
