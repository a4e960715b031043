"""A real server for tests that need concurrency: the app on a fresh, migrated database of its
own, served by a threaded WSGI server on 127.0.0.1. Data here is committed for real, so these
tests never share rows with the rolled-back tests (or with each other's modules)."""

import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from marketplace import create_app
from marketplace.accounts.auth import new_token
from marketplace.accounts.models import ApiToken, User
from marketplace.config import TestConfig, normalize_database_url
from marketplace.db import utcnow
from marketplace.extensions import db
from tests.conftest import BACKEND, PG_SERVER_URL, _server_engine


@contextmanager
def fresh_database(tmp_path):
    if BACKEND != "postgres":
        yield f"sqlite:///{tmp_path}/served.sqlite3"
        return
    name = f"mkt_served_{uuid.uuid4().hex[:10]}"
    server = _server_engine()
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(normalize_database_url(PG_SERVER_URL)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


class ServedApp:
    def __init__(self, app, server):
        self.app = app
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_port}"

    @contextmanager
    def session(self):
        """A committing session on the served database, for setting up and checking data."""
        with self.app.app_context():
            try:
                yield db.session
                db.session.commit()
            finally:
                db.session.remove()


@contextmanager
def served_app(tmp_path, **config):
    with fresh_database(tmp_path) as url:

        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = url
            # Enough connections for every request thread to hold one at once.
            SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 60, "max_overflow": 20}
            UPLOAD_FOLDER = tmp_path / "uploads"
            ORDER_SWEEP_SECONDS = 0

        for key, value in config.items():
            setattr(Config, key, value)
        if BACKEND != "postgres":
            Config.SQLALCHEMY_ENGINE_OPTIONS = {}
        app = create_app(Config)
        with app.app_context():
            upgrade()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="served-app", daemon=True)
        thread.start()
        try:
            yield ServedApp(app, server)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            with app.app_context():
                db.engine.dispose()


def signed_in_user(session, *, username: str, role, display_name: str, **fields) -> dict:
    """A committed-to-be user with a fresh bearer token: the headers its requests carry."""
    user = User(
        username=username, password_hash="unused", display_name=display_name, role=role, **fields
    )
    session.add(user)
    session.flush()
    token, token_hash = new_token()
    session.add(
        ApiToken(user_id=user.id, token_hash=token_hash, expires_at=utcnow() + timedelta(hours=1))
    )
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def ledger_guards_lifted(session):
    """Let a test's clean-up delete the ledger rows it committed, which the database otherwise
    refuses (the ledger is append-only). Test clean-up only; the guards are back afterwards."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield
        return
    triggers = session.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('postings', 'journal_entries')"
        )
    ).all()
    for name, _ in triggers:
        session.execute(sa.text(f"DROP TRIGGER {name}"))
    try:
        yield
    finally:
        for _, sql in triggers:
            session.execute(sa.text(sql))
