"""A statement built once with SQLAlchemy and sent as PostgreSQL's own text, for the one
checkout statement (``checkout_statement.py``), whose Python cost is paid on every checkout.

* Numbered placeholders (``$1``) through psycopg's ``RawCursor``: psycopg caches its rewriting
  of ``%(name)s`` only for statements under 4 KB, and the checkout statement (9 KB) was
  rewritten on every checkout, a fifth of the checkout view's time in py-spy under load.
* Its constants (an enum by its stored name, a pricing, a literal 0) written into the text:
  the driver then adapts only the values of each run, not thirty constants more, and the
  planner sees them as what they are.
"""

import re

import psycopg
import sqlalchemy as sa


def compile_numbered(statement: sa.Executable, dialect) -> tuple[str, tuple[str, ...]]:
    """The statement's text with numbered placeholders and its constants as literals, and
    the names of the parameters left, in their numbers' order."""
    compiled = statement.compile(dialect=dialect)
    processors = compiled._bind_processors
    constants = {
        name: _literal(processors[name](value) if name in processors else value)
        for name, value in compiled.params.items()
        if value is not None
    }
    names: list[str] = []

    def numbered(placeholder: re.Match) -> str:
        if placeholder[0] == "%%":  # pyformat's escaped percent sign
            return "%"
        if placeholder[1] in constants:
            return constants[placeholder[1]]
        if placeholder[1] not in names:
            names.append(placeholder[1])
        return f"${names.index(placeholder[1]) + 1}"

    text = re.sub(r"%%|%\(([^)]+)\)s", numbered, str(compiled))
    return text, tuple(names)


def _literal(value) -> str:
    """A constant as SQL: integers and plain names only, which need no escaping."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_ ]*", value):
        return f"'{value}'"
    raise ValueError(f"not a constant written as a literal: {value!r}")


def execute(connection: sa.Connection, text: str, values: tuple) -> list[sa.Row]:
    """Run ``text`` (from ``compile_numbered``) with ``values`` on ``connection``, as SQLAlchemy
    runs any statement (its events and errors included), through psycopg's ``RawCursor``."""
    driver_connection = connection.connection.dbapi_connection
    cursor_factory = driver_connection.cursor_factory
    driver_connection.cursor_factory = psycopg.RawCursor
    try:
        return connection.exec_driver_sql(text, values).all()
    finally:
        driver_connection.cursor_factory = cursor_factory
