"""Database foundations shared by every domain: the declarative base, column types, helpers.

Knows no domain. Money is always an integer number of fen in a ``*_fen`` column.
"""

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, mapped_column

from marketplace.reasons import reason

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones, so naive values read back are UTC by construction.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use marketplace.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def enum_type(cls, length: int = 24) -> sa.Enum:
    """How every enum column is stored: as a string of at most ``length`` characters (no
    database enum type to migrate when a value is added), checked against ``cls`` on the way
    in and out."""
    return sa.Enum(cls, native_enum=False, length=length, validate_strings=True)


#: An integer amount of fen. BigInteger: a county's yearly sales exceed 2^31 fen.
Fen = Annotated[int, mapped_column(sa.BigInteger)]
intpk = Annotated[int, mapped_column(sa.Integer, primary_key=True)]
created_at = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow, nullable=False)]


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys, so several gunicorn workers share one file safely."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that
    # SAVEPOINTs and transactional DDL behave (the pysqlite recipe in SQLAlchemy's docs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "connect")
def _configure_postgresql(dbapi_connection, connection_record):
    """No JIT compilation: it compiled a county report's statements for 290 ms of their 570 ms,
    and this service runs short statements, where compiling never pays for itself."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()  # a SET inside a transaction that rolls back would be undone


#: Set while serving a request that writes. SQLite then takes its write lock when the transaction
#: begins, so concurrent writers queue on the busy timeout; a deferred transaction that reads
#: first and writes later fails at once with "database is locked" when another writer got in.
sqlite_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=False)


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_write_intent.get() else "BEGIN")


def read_without_transaction(session) -> None:
    """For a request that only reads: on PostgreSQL its statements run in autocommit, which
    spares it the BEGIN and COMMIT round trips (each statement then reads its own snapshot).

    Call it before the session's first statement (later, SQLAlchemy warns and ignores it).
    The pool gives the connection back in its usual transactional mode. A session bound to
    one connection (the tests' outer transaction) and SQLite, whose transactions cost no
    round trip, are left as they are.
    """
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def begin_after_reading_without_transaction(session) -> None:
    """End ``read_without_transaction``: the session's next statement begins a transaction,
    on a connection in the pool's usual mode. What ran before it committed statement by
    statement (a read, or a write that is one statement), so nothing is pending; elsewhere
    (inside a transaction already, on SQLite) this does nothing."""
    if not isinstance(session.get_bind(), sa.Engine):
        return
    options = session.connection().get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        session.commit()


def keep_despite_failure(session, statement) -> None:
    """Queue a write that must be committed even when the request fails and rolls back
    (a failed login attempt, an audit record). The request boundary runs it last."""
    session.info.setdefault("keep_despite_failure", []).append(statement)


def page_of(session, stmt, *, order_by, page: int, page_size: int, options=()):
    """One page of ``stmt`` and the total, in two statements plus one per eager load."""
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.options(*options).order_by(*order_by).limit(page_size).offset((page - 1) * page_size)
    ).scalars()
    return list(rows), total


STALE_VERSION = reason(
    "version.stale",
    "{kind} {id} is at version {version}, not {given}; reload it and apply your change again.",
)


def check_version(row, version: int) -> None:
    """Optimistic concurrency: an edit must name the version it was made from."""
    if row.version != version:
        from marketplace.errors import StaleVersion

        raise StaleVersion(
            STALE_VERSION(kind=type(row).__name__, id=row.id, version=row.version, given=version)
        )


def after_commit(session, callback) -> None:
    """Run ``callback()`` once the current unit of work has committed: calls to outside
    services (a payment provider) happen after our own state is durable, never inside it."""
    session.info.setdefault("after_commit", []).append(callback)


def run_after_commit(session, log) -> None:
    """Run the queued callbacks, each in a transaction of its own; one failing does not stop
    the others (what they record, such as a pending refund, can be retried)."""
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
            session.commit()
        except Exception:
            session.rollback()
            log.exception("after-commit step failed: %s", getattr(callback, "__name__", callback))


def is_sqlite(session_or_engine) -> bool:
    bind = getattr(session_or_engine, "bind", None) or session_or_engine.get_bind()
    return bind.dialect.name == "sqlite"


def new_ids(session, table: sa.Table, count: int) -> list[int]:
    """``count`` ids drawn now from the sequence behind ``table``'s id (PostgreSQL only), for
    a batch written with its ids rather than with RETURNING: psycopg then sends the batch as
    one prepared single-row INSERT per row in pipeline mode, where a multi-row INSERT ...
    RETURNING has its tens of thousands of placeholders parsed in Python on every call (the
    import's costliest step once). Concurrent writers draw from the same sequence, so the ids
    are theirs alone, as RETURNING's would be."""
    return list(
        session.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
                " FROM generate_series(1, :count)"
            ),
            {"table": table.name, "count": count},
        ).scalars()
    )
