"""What happens around every request: a request id, one commit at the boundary, a log line.

Services flush but never commit; the request commits once, after the view succeeded, so a
failed request leaves nothing half-written.
"""

import functools
import json
import logging
import re
import time
import uuid

from flask import Flask, current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError

from marketplace.db import read_without_transaction, run_after_commit, sqlite_write_intent
from marketplace.errors import (
    CONSTRAINT_REFUSED,
    DATABASE_BUSY,
    NOT_UTF8,
    QUERY_NOT_UTF8,
    DomainError,
    problem_response,
)
from marketplace.extensions import db

access_log = logging.getLogger("marketplace.access")
logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: 18-character national ID numbers (17 digits + digit or X) and bank cards of 16-19 digits.
_SENSITIVE_NUMBER = re.compile(r"(?<![0-9])([0-9]{3})[0-9]{9,12}([0-9]{3}[0-9Xx])(?![0-9Xx])")


def mask_sensitive_numbers(text: str) -> str:
    """Defence in depth for logs: whatever a message contains, long ID-like numbers are masked."""
    return _SENSITIVE_NUMBER.sub(
        lambda m: m.group(1) + "*" * (len(m.group(0)) - 7) + m.group(2), text
    )


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return  # a malformed call; logging reports it itself
    masked = mask_sensitive_numbers(message)
    if masked != message:
        record.msg, record.args = masked, None


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


def _install_masking_record_factory() -> None:
    """Mask at the source: every record any logger creates (ours, werkzeug's request lines,
    a library's) is masked before any handler, ours or not, can see it. A filter on our
    logger would miss its children's records and other loggers entirely."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_masks_numbers", False):
        return

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        _mask_record(record)
        return record

    factory._masks_numbers = True
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep locally, easy to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "user_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = mask_sensitive_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    _install_masking_record_factory()
    root = logging.getLogger("marketplace")
    root.setLevel(app.config["LOG_LEVEL"])
    if not any(getattr(h, "_marketplace", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._marketplace = True
        handler.setFormatter(JsonFormatter())
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)


def writes_when_read(view):
    """Mark a view answering a GET that writes too (a download it records): on SQLite its
    transaction takes the write lock from the start, as a POST's does. One that read first and
    wrote later could not upgrade its lock while another request wrote, and would fail at
    once instead of waiting its turn."""
    view.writes_when_read = True
    return view


def outside_a_transaction(view):
    """Run a view's statements outside a transaction on PostgreSQL
    (``db.read_without_transaction``), which spares it the BEGIN and COMMIT round trips: for a
    view that only reads, or writes in one statement, atomic on its own. Its reads lose
    nothing: at READ COMMITTED each statement reads its own snapshot in a transaction too.
    Outermost, above ``login_required``, so the token is read outside one as well."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        read_without_transaction(db.session)
        return view(*args, **kwargs)

    return wrapper


def _will_write() -> bool:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return True
    view = current_app.view_functions.get(request.endpoint)
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return getattr(handler, "writes_when_read", False)


def _start_request():
    # g lives on the app context, which an enclosing context (a CLI command, a test) may share
    # across requests: never let one request's caller leak into the next.
    g.pop("actor", None)
    refuse_query_not_utf8(request.query_string)
    sqlite_write_intent.set(_will_write())
    g.request_id = request_id_for(request.headers.get("X-Request-ID", ""))
    g.started_at = time.perf_counter()


def refuse_query_not_utf8(query_string: bytes) -> None:
    """A 400 naming each query parameter sent as raw bytes that are not UTF-8. gunicorn
    refuses any raw byte above ASCII in the request line itself; other WSGI servers pass them
    on, where werkzeug's ``request.args`` would fail on them (a 500). Raw UTF-8 is let be, as
    werkzeug reads it; percent-encoded bytes are ASCII and always parse."""
    if query_string.isascii():
        return
    if _is_utf8(query_string):
        return
    errors = {}
    for parameter in query_string.split(b"&"):
        if not _is_utf8(parameter):
            name = parameter.partition(b"=")[0]
            errors.setdefault(name.decode() if _is_utf8(name) else "query", [NOT_UTF8()])
    raise DomainError(QUERY_NOT_UTF8(), errors=errors)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def request_id_for(incoming: str) -> str:
    """The request's id: the caller's X-Request-ID when it is a sane one (so one id follows a
    request through a proxy's logs and ours), else a new one."""
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _commit_or_rollback(response):
    """Commit what a successful request did; roll back what a failed one did."""
    session = db.session
    survivors = session.info.pop("keep_despite_failure", [])
    if response.status_code >= 400:
        session.rollback()
        session.info.pop("after_commit", None)
        if not survivors:
            return response
    try:
        commit_request(session, survivors)
        if response.status_code < 400:
            run_after_commit(session, logger)
    except IntegrityError:
        session.rollback()
        logger.warning("commit refused by a database constraint", exc_info=True)
        return problem_response(
            409,
            kind="conflict",
            title="Conflict with the current state",
            detail=CONSTRAINT_REFUSED(),
        )
    except OperationalError:
        session.rollback()
        logger.exception("commit failed")
        return problem_response(
            503,
            kind="service-unavailable",
            title="Service Unavailable",
            detail=DATABASE_BUSY(),
            headers={"Retry-After": "1"},
        )
    return response


def commit_request(session, survivors=None) -> None:
    """Commit a request's work, with the writes it queued to be kept whatever happens
    (``db.keep_despite_failure``; ``survivors``, when its caller took them already)."""
    if survivors is None:
        survivors = session.info.pop("keep_despite_failure", [])
    for statement in survivors:
        session.execute(statement)
    session.commit()


def abandon_request(session) -> None:
    """Roll back all a request did, and forget what it queued for after its commit: for a
    request handed on to be answered anew (the checkout's front)."""
    session.rollback()
    session.info.pop("keep_despite_failure", None)
    session.info.pop("after_commit", None)


#: On every response, the API document's pages included: no content sniffing, no referrer
#: sent onwards, and no framing by another site (clickjacking).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


def _finish_request(response):
    request_id = g.get("request_id")
    stamp_response_headers(response.headers, request_id or "")
    actor = g.get("actor")
    log_request(
        request.method,
        request.path,
        response.status_code,
        request_id=request_id,
        started=g.get("started_at"),
        user_id=actor.user_id if actor else None,
    )
    return response


def stamp_response_headers(headers, request_id: str) -> None:
    """What every response carries: its request id and the security headers (unless the view
    set its own). ``headers`` is a response's headers, or a dict of them."""
    headers["X-Request-ID"] = request_id
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


def log_request(
    method: str,
    path: str,
    status: int,
    *,
    request_id: str | None,
    started: float | None,
    user_id: int | None,
) -> None:
    """The access log's line for one request; ``started`` is its ``time.perf_counter()``."""
    access_log.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "user_id": user_id,
        },
    )


def _discard_session(exc):
    # The thread may serve other work next (a test's own reads, a CLI step): no write intent.
    sqlite_write_intent.set(False)
    db.session.info.pop("keep_despite_failure", None)
    db.session.info.pop("after_commit", None)
    if exc is not None:
        db.session.rollback()


def register_request_cycle(app: Flask) -> None:
    app.before_request(_start_request)
    # after_request handlers run in reverse order of registration: commit first, then log.
    app.after_request(_finish_request)
    app.after_request(_commit_or_rollback)
    app.teardown_request(_discard_session)
