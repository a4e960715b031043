"""The migrations build the whole schema from empty and take it down again, on each backend."""

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from marketplace import create_app
from marketplace.config import TestConfig
from marketplace.db import Base
from tests.conftest import BACKEND, _server_engine


def _fresh_database(tmp_path):
    if BACKEND != "postgres":
        return f"sqlite:///{tmp_path}/migrations.sqlite3", None
    import uuid

    from tests.conftest import PG_SERVER_URL, normalize_database_url

    name = f"mkt_migr_{uuid.uuid4().hex[:10]}"
    server = _server_engine()
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalize_database_url(PG_SERVER_URL)).set(database=name)
    return url.render_as_string(hide_password=False), (server, name)


def test_upgrade_to_head_then_downgrade_to_base(tmp_path):
    url, cleanup = _fresh_database(tmp_path)

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    try:
        with app.app_context():
            from marketplace.extensions import db

            upgrade()
            tables = set(sa.inspect(db.engine).get_table_names())
            assert set(Base.metadata.tables) <= tables
            assert db.session.execute(sa.text("SELECT count(*) FROM categories")).scalar() > 0
            db.session.remove()
            downgrade(revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            db.engine.dispose()
    finally:
        if cleanup:
            server, name = cleanup
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.dispose()


def test_every_downgrade_with_the_demo_data_in_it_works_or_refuses_saying_why(tmp_path):
    """From head down, one revision at a time, on a database holding the demo data: each
    downgrade either works, or refuses with a message naming the data that blocks it and
    leaves the database as it was. (Below a refusal, the empty database's test goes on.)"""
    from alembic import command
    from flask import current_app

    from seed.demo import load_demo

    url, cleanup = _fresh_database(tmp_path)

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    try:
        with app.app_context():
            from marketplace.extensions import db

            upgrade()
            load_demo(db.session)
            db.session.commit()
            db.session.remove()
            config = current_app.extensions["migrate"].migrate.get_config()
            script = ScriptDirectory.from_config(config)
            revisions = [r.revision for r in script.walk_revisions()]  # head first
            refused = None
            for revision in revisions:
                target = script.get_revision(revision).down_revision or "base"
                try:
                    command.downgrade(config, target)
                except RuntimeError as refusal:
                    refused = (revision, str(refusal))
                    break
                finally:
                    db.engine.dispose()
            with db.engine.connect() as connection:
                at = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                current = at.scalar_one_or_none()
            assert refused is not None and refused[0] == "0007", refused
            assert "cannot downgrade below 0007" in refused[1]
            assert "imported from a platform" in refused[1]
            assert current == "0007"  # the refused step changed nothing
            db.engine.dispose()
    finally:
        if cleanup:
            server, name = cleanup
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.dispose()
