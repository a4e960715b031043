"""Where the officials' reports read: the main database, or a replica.

A county's reports sum millions of postings; when ``REPORTS_DATABASE_URL`` names a replica (a
PostgreSQL streaming standby of the main database), they run there and leave the main machine
to checkouts and payments. Unset, reports read the main database through the request's session.

What reads here: the income report and its coverage list, the channel and assistance reports,
and every report file. What does not: anything that writes (closing a month, recording a
download), and the money trails and reconciliation, which must see the ledger as it is this
second. A replica lags by a moment: a month closed a moment ago may still be computed from the
postings there rather than served from its snapshot, with the same figures, since a close
freezes what stands.
"""

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from marketplace.config import normalize_database_url
from marketplace.extensions import db

_ENGINE = "reports_engine"


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_report_session)


def report_session():
    """The session a report reads through, for this request."""
    url = current_app.config.get("REPORTS_DATABASE_URL")
    if not url:
        return db.session
    if "report_session" not in g:
        g.report_session = Session(bind=_engine(url), autoflush=False)
    return g.report_session


def _engine(url: str) -> sa.Engine:
    engine = current_app.extensions.get(_ENGINE)
    if engine is None:
        url = normalize_database_url(url)
        engine = sa.create_engine(url, **current_app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        if engine.dialect.name == "postgresql":
            # A standby refuses writes anyway; on a primary named here by mistake, so do we.
            engine = engine.execution_options(postgresql_readonly=True)
        current_app.extensions[_ENGINE] = engine
    return engine


def _close_report_session(_exception=None) -> None:
    report = g.pop("report_session", None)
    if report is not None:
        # Reports only read: nothing to commit, and the transaction's snapshot ends here.
        report.rollback()
        report.close()
