"""Placing an order, answered before Flask when the order can be placed: a checkout at the
cost of its own work.

On PostgreSQL a checkout is one statement (orders/checkout_statement.py). What else it cost
under load was the framework around it: Flask's request and app contexts, webargs,
flask-smorest's response, the cookie session, the database session's begin and end: together
about as much of a worker's CPU again as the view's own work (bench/README.md, "Checkout").
This WSGI layer sits in front of the app, as the storefront's does
(catalog/storefront/front.py), and places an order it can place with a 201, calling what the
view calls: the token read by ``accounts.auth.actor_for_token`` and held to the view's own
roles, the body read by ``http_api.json_arguments`` (webargs' parsing, the text check and
``CheckoutIn``), the order placed and shown by ``payments.api.place_order``, the answer
written by ``CheckoutOut`` and Flask's JSON, with the same headers, request id and access log
line (``request_cycle``) and the same commit at the end.

Anything else goes on to the app untouched, which answers as it always has: every refusal
and every problem response is the app's own, and the view stays the reference
(tests/payments/test_checkout_front.py holds the two to the same answers and rows). When the
front steps aside it leaves nothing behind: it rolls back before passing the request on, and
the request's body is handed on as it came. Only a failure after the order was committed (a
payment provider's answer that is not a refusal, after the order stands) reaches the app as
a retry of the same request would: its key names the order by then, and the app answers with
it (``Idempotent-Replayed: true``) or with the failure.

It answers on PostgreSQL only, where the view reads its token and places the order outside a
transaction (``request_cycle.outside_a_transaction``); on SQLite every request goes to the app.
"""

import io
import logging
import time

from flask import Flask, current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError

from marketplace import i18n
from marketplace.accounts.auth import actor_for_token, bearer_token
from marketplace.db import read_without_transaction, run_after_commit
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.http_api import json_arguments, replayed_header
from marketplace.idempotency import HEADER as IDEMPOTENCY_HEADER
from marketplace.orders.schemas import CheckoutIn
from marketplace.payments.api import PlaceOrder, place_order
from marketplace.payments.schemas import CheckoutOut
from marketplace.request_cycle import (
    abandon_request,
    commit_request,
    log_request,
    request_id_for,
    stamp_response_headers,
)

logger = logging.getLogger(__name__)

_KEY_VARIABLE = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")


class CheckoutFront:
    """The WSGI app placing the orders it can place, in front of ``app``."""

    def __init__(self, app: Flask, wsgi_app):
        self.wsgi_app = wsgi_app
        self._app = app
        self._path = _checkout_path(app)
        # The roles the view admits, as its login_required declared them.
        self._roles = PlaceOrder.post._login_roles
        self._answer_schema = CheckoutOut()
        with app.app_context():
            self._postgres = db.engine.dialect.name == "postgresql"

    def __call__(self, environ, start_response):
        if (
            not self._postgres
            or environ["REQUEST_METHOD"] != "POST"
            or environ.get("PATH_INFO") != self._path
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        asked = self._asked(environ)
        if asked is None:
            return self.wsgi_app(environ, start_response)
        if has_app_context() and current_app._get_current_object() is self._app:
            # A caller's context for this app (a test's) is the request's, as Flask does.
            response = self._place(environ, asked, started)
        else:
            with self._app.app_context():
                response = self._place(environ, asked, started)
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def _asked(self, environ) -> tuple[str, str, dict] | None:
        """The request's token, key and basket when it is a checkout the app would read without
        a word (a bearer token, a key, a JSON body of CheckoutIn's fields); else None. Its body
        is read and put back for the app."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        key = environ.get(_KEY_VARIABLE)
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        limit = self._app.config["MAX_CONTENT_LENGTH"]
        if (
            token is None
            or not key
            or environ.get("QUERY_STRING")
            or mimetype != "application/json"
            or not length.isdigit()
            or (limit is not None and int(length) > limit)
        ):
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        data = json_arguments(CheckoutIn, body) if len(body) == int(length) else None
        if data is None:
            return None
        return token, key, data

    def _place(self, environ, asked: tuple[str, str, dict], started: float):
        """The 201 placing the order, committed; or None, with nothing written, when the app
        must answer."""
        token, key, data = asked
        session = db.session
        try:
            read_without_transaction(session)
            actor = actor_for_token(session, token)
            if actor is None or actor.role not in self._roles:
                abandon_request(session)
                return None
            language = i18n.language_accepted(environ.get("HTTP_ACCEPT_LANGUAGE"))
            view, replayed = place_order(session, actor, data, key, language)
            payload = self._answer_schema.dump(view)
            commit_request(session)
        except (DomainError, SQLAlchemyError):
            abandon_request(session)  # the app finds the same and says why
            return None
        except Exception:
            logger.exception("the checkout's front failed; the app answers the request")
            abandon_request(session)
            return None
        run_after_commit(session, logger)
        response = current_app.json.response(payload)
        response.status_code = 201
        response.headers.update(replayed_header(replayed))
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        stamp_response_headers(response.headers, request_id)
        log_request(
            "POST",
            self._path,
            201,
            request_id=request_id,
            started=started,
            user_id=actor.user_id,
        )
        return response


def _checkout_path(app: Flask) -> str:
    """The path whose POST places an order (PlaceOrder's route)."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if getattr(view, "view_class", None) is PlaceOrder and "POST" in rule.methods:
            return rule.rule
    raise LookupError("no route places orders")


def put_in_front(app: Flask) -> None:
    """Place the orders that can be placed before the app is involved."""
    app.wsgi_app = CheckoutFront(app, app.wsgi_app)
