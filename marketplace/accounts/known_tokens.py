"""The actors a worker has just read for bearer tokens, so that a token used again a moment
later is not read again: on PostgreSQL only, for ``TOKEN_CACHE_SECONDS``.

Reading the token was a ninth of a checkout's worker time, and with PostgreSQL's side and the
round trip about 0.28 ms of the 3.1 ms of the machine a checkout costs (bench/README.md). What
makes remembering it safe:

* **a change is heard**: triggers announce any change to what a token stands for (a token
  revoked or deleted, a user changed or deleted, a station moved, a region's path changed;
  migration 0027) on the channel ``actors_changed``, and every worker forgets every token it
  remembers when the notice arrives, well under a millisecond after the commit on one host.
  An actor read before a notice is tagged with the epoch it was read in, and refused once the
  epoch moved, even when it is remembered after the notice arrived;
* **a silence is bounded**: a worker that cannot listen remembers nothing, nor does one whose
  database lacks an enabled announcing trigger (a schema before migration 0027: the code
  deployed ahead of its migration would otherwise serve a revoked token); one whose listening
  connection died without a word (found by keepalives within a minute) serves an actor at most
  ``TOKEN_CACHE_SECONDS`` after reading it, and a token's own expiry is checked every time;
* **only what was found**: a token that names no actor is read every time, so nobody can fill
  the memory with made-up tokens; and at most ``MAX_TOKENS`` are kept (the oldest go first).

On SQLite, and for a session bound to one connection (the tests' outer transaction), every
request reads its token.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import sqlalchemy as sa
from flask import current_app

from marketplace.notices import Listener

if TYPE_CHECKING:  # auth reads through this module
    from marketplace.accounts.auth import Actor

logger = logging.getLogger(__name__)

CHANNEL = "actors_changed"
#: Tokens remembered per worker at most: an entry is a few hundred bytes.
MAX_TOKENS = 10_000


@dataclass(frozen=True)
class _Known:
    actor: Actor
    expires_at: datetime
    read_at: datetime
    epoch: int


class KnownTokens:
    """One worker's memory of the tokens it read from one database."""

    def __init__(self, listener: Listener):
        self._listener = listener
        self._lock = threading.Lock()
        self._known: OrderedDict[str, _Known] = OrderedDict()
        #: moves with every notice heard and every time listening begins anew
        self._epoch = 0
        #: whether the database announces every change (checked when listening begins)
        self._announced = False

    def look_up(
        self, token_hash: str, *, now: datetime, max_age: timedelta
    ) -> tuple[Actor | None, int | None]:
        """The actor remembered for the token, if it is of this epoch, young enough and the
        token has not expired; and the epoch a read of it must be remembered in (None: do not
        remember it). One poll of the listener for both."""
        with self._lock:
            epoch = self._current_epoch()
            known = self._known.get(token_hash)
            if known is None or epoch is None:
                return None, epoch
            if known.epoch != epoch or known.read_at <= now - max_age or known.expires_at <= now:
                del self._known[token_hash]
                return None, epoch
            self._known.move_to_end(token_hash)
            return known.actor, epoch

    def remember(
        self, token_hash: str, actor: Actor, *, expires_at: datetime, read_at: datetime, epoch
    ) -> None:
        """Remember an actor read for a token in ``epoch`` (from ``look_up`` before reading)."""
        with self._lock:
            if epoch is None or self._current_epoch() != epoch:
                return  # a change was heard while it was read: it may be stale already
            self._known[token_hash] = _Known(actor, expires_at, read_at, epoch)
            self._known.move_to_end(token_hash)
            while len(self._known) > MAX_TOKENS:
                self._known.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._listener.close()

    def _current_epoch(self) -> int | None:
        """(Lock held.) The current epoch, None while not listening; what was remembered in
        an earlier one goes."""
        heard = self._listener.poll()
        if heard is not None and heard.fresh:
            self._announced = _changes_announced(heard.connection)
        if heard is None or not self._announced:
            self._known.clear()
            return None
        if heard.fresh or heard.payloads:
            self._epoch += 1
            self._known.clear()
        return self._epoch


#: The triggers that announce a change to what a token stands for (migration 0027), by name:
#: without every one of them enabled, a change could go unheard, so nothing is remembered.
ANNOUNCING_TRIGGERS = (
    "api_tokens_actors_changed",
    "users_actors_changed",
    "stations_actors_changed",
    "regions_actors_changed",
)


def _changes_announced(connection) -> bool:
    """Whether the database announces every change: its schema may predate migration 0027 (a
    worker started before the upgrade), or a trigger may be off."""
    try:
        (enabled,) = connection.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = ANY(%s) AND tgenabled <> 'D'",
            [list(ANNOUNCING_TRIGGERS)],
        ).fetchone()
    except psycopg.Error:
        logger.warning("cannot tell whether token changes are announced", exc_info=True)
        return False
    if enabled != len(ANNOUNCING_TRIGGERS):
        logger.warning("token changes are not announced (migration 0027): reading every token")
        return False
    return True


#: Per process: the memory for each PostgreSQL engine this process serves.
_by_engine: dict[sa.Engine, KnownTokens] = {}
_registry_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    for known in list(_by_engine.values()):
        known.close()


def for_session(session) -> KnownTokens | None:
    """This worker's memory of tokens for the session's database, when it keeps one."""
    if current_app.config.get("TOKEN_CACHE_SECONDS", 0) <= 0:
        return None
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine) or bind.dialect.name != "postgresql":
        return None
    known = _by_engine.get(bind)
    if known is None:
        with _registry_lock:
            known = _by_engine.get(bind)
            if known is None:
                listener = Listener.on_engine(
                    bind, CHANNEL, application_name="marketplace token watch"
                )
                known = _by_engine[bind] = KnownTokens(listener)
    return known
