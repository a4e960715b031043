"""Each worker's memory of the actors it read for bearer tokens (accounts/known_tokens.py): what
it keeps and refuses, by itself; then, served on PostgreSQL, that it is used and that every
change to what a token stands for ends it (migration 0027's notices).

To tell the memory from a read, a change is made with the notices switched off (the trigger
disabled, which nothing but a test does): a request that still passes was answered from it.
"""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from marketplace import notices
from marketplace.accounts import known_tokens
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from tests.payments.conftest import eventually
from tests.served import served_app, signed_in_user

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AGE = timedelta(seconds=5)
BUYER = Actor(user_id=7, username="buyer", role=Role.buyer)


class _Listener:
    """A listener the test tells what to say: ``now`` moves when a notice arrives (None: not
    listening)."""

    def __init__(self):
        self.now, self._said = 1, None

    def poll(self):
        if self.now is None:
            self._said = None
            return None
        heard = notices.Heard(() if self.now == self._said else ("changed",), False, None)
        self._said = self.now
        return heard


def _known():
    listener = _Listener()
    known = known_tokens.KnownTokens(listener)
    known._announced = True  # the fake listener never begins afresh: its database announces
    return known, listener


def _actor(known, token, *, now, max_age):
    return known.look_up(token, now=now, max_age=max_age)[0]


def _epoch(known):
    """The epoch a request reads a token in: what ``look_up`` says before the read."""
    return known.look_up("not remembered", now=NOW, max_age=AGE)[1]


def _remember(known, epoch, *, token="t", expires_at=NOW + timedelta(hours=1), read_at=NOW):
    known.remember(token, BUYER, expires_at=expires_at, read_at=read_at, epoch=epoch)


def test_an_actor_read_is_answered_until_its_epoch_moves():
    known, listener = _known()
    _remember(known, _epoch(known))
    assert _actor(known, "t", now=NOW, max_age=AGE) == BUYER
    assert _actor(known, "other", now=NOW, max_age=AGE) is None
    listener.now = 2  # a notice arrived
    assert _actor(known, "t", now=NOW, max_age=AGE) is None


def test_an_actor_read_before_a_notice_is_not_remembered_after_it():
    known, listener = _known()
    epoch = _epoch(known)  # the request reads the token in this epoch ...
    listener.now = 2  # ... a change is heard while it reads ...
    _remember(known, epoch)  # ... and what it read may be stale already
    assert _actor(known, "t", now=NOW, max_age=AGE) is None


def test_nothing_is_remembered_or_answered_without_a_listener():
    known, listener = _known()
    _remember(known, _epoch(known))
    listener.now = None
    assert _actor(known, "t", now=NOW, max_age=AGE) is None
    _remember(known, None)
    listener.now = 1  # listening again, as before: what was kept went
    assert _actor(known, "t", now=NOW, max_age=AGE) is None


def test_an_actor_is_answered_no_longer_than_its_age_nor_past_its_token_expiry():
    known, _ = _known()
    _remember(known, 1, token="young", read_at=NOW)
    _remember(known, 1, token="expiring", expires_at=NOW + timedelta(seconds=1))
    later = NOW + timedelta(seconds=2)
    assert _actor(known, "young", now=later, max_age=AGE) == BUYER
    assert _actor(known, "expiring", now=later, max_age=AGE) is None
    assert _actor(known, "young", now=NOW + AGE, max_age=AGE) is None


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(known_tokens, "MAX_TOKENS", 3)
    known, _ = _known()
    for n in range(5):
        _remember(known, 1, token=f"t{n}")
    kept = [n for n in range(5) if _actor(known, f"t{n}", now=NOW, max_age=AGE) is not None]
    assert kept == [2, 3, 4]


# --- served: the memory in use, and what ends it ---------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("known-tokens"), TOKEN_CACHE_SECONDS=300) as served:
        yield served


def _me(served, headers) -> int:
    request = urllib.request.Request(f"{served.base_url}/api/v1/me", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            json.loads(response.read())
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _signed_in(served, username):
    with served.session() as session:
        return signed_in_user(session, username=username, role=Role.buyer, display_name="买家")


def _change_unheard(served, statement, table):
    """Run ``statement`` with ``table``'s notice switched off: no worker hears of it."""
    with served.session() as session:
        session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_actors_changed"))
        session.execute(sa.text(statement))
        session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_actors_changed"))


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "table"),
    [
        ("UPDATE api_tokens SET revoked_at = now() WHERE user_id = {user}", "api_tokens"),
        ("UPDATE api_tokens SET expires_at = now() WHERE user_id = {user}", "api_tokens"),
        ("DELETE FROM api_tokens WHERE user_id = {user}", "api_tokens"),
        ("UPDATE users SET is_active = false WHERE id = {user}", "users"),
    ],
)
def test_a_change_to_what_a_token_stands_for_ends_it_when_heard(served, change, table):
    username = f"buyer_{abs(hash(change)) % 10**8}"
    headers = _signed_in(served, username)
    assert _me(served, headers) == 200
    with served.session() as session:
        user = session.execute(
            sa.text("SELECT id FROM users WHERE username = :name"), {"name": username}
        ).scalar_one()

    # Unheard, the change leaves the token answered from memory: the memory is in use.
    _change_unheard(served, change.format(user=user), table)
    assert _me(served, headers) == 200

    # Any change to the same table is heard, and the token is read again: refused.
    with served.session() as session:
        session.execute(sa.text(f"UPDATE {table} SET id = id WHERE false"))
    eventually(lambda: _me(served, headers) == 401, timeout=5, what="the token refused")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("statement", "heard"),
    [
        ("UPDATE stations SET village_id = village_id WHERE false", True),
        ("UPDATE regions SET path = path WHERE false", True),
        ("UPDATE users SET display_name = display_name WHERE false", True),
        ("UPDATE stations SET name = name WHERE false", False),
        ("UPDATE regions SET name = name WHERE false", False),
    ],
)
def test_what_an_actor_is_read_from_is_announced_and_nothing_else(served, statement, heard):
    """Statement-level: announced even when no row changed. A station's name or a region's
    name is no part of an actor."""
    with served.session() as session:
        url = session.get_bind().url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute("LISTEN actors_changed")
        with served.session() as session:
            session.execute(sa.text(statement))
        notices = list(listener.notifies(timeout=0.5 if heard else 0.2, stop_after=1))
    assert bool(notices) is heard


@pytest.mark.postgres
def test_a_new_token_is_not_announced(served):
    """Signing in changes no other token: nothing is forgotten for it."""
    with served.session() as session:
        url = session.get_bind().url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute("LISTEN actors_changed")
        _signed_in(served, "buyer_new_token")
        assert list(listener.notifies(timeout=0.2)) == []


def test_sqlite_and_a_session_on_one_connection_read_every_token(app, session):
    from marketplace.extensions import db

    with app.test_request_context():
        assert known_tokens.for_session(db.session) is None


@pytest.mark.postgres
def test_nothing_is_remembered_where_changes_are_not_announced(tmp_path):
    """A worker started on a database without migration 0027's triggers (or with one off)
    could not hear a revocation: it reads every token, and a revoked one is refused at once."""
    with served_app(tmp_path, TOKEN_CACHE_SECONDS=300) as served:
        with served.session() as session:
            session.execute(sa.text("DROP TRIGGER users_actors_changed ON users"))
        headers = _signed_in(served, "buyer_unannounced")
        assert _me(served, headers) == 200
        # Revoked unheard: a worker remembering tokens would still answer it.
        _change_unheard(served, "UPDATE api_tokens SET revoked_at = now()", "api_tokens")
        assert _me(served, headers) == 401
