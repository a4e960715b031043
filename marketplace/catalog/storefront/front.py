"""The anonymous list's hits on this worker's own copies, answered before Flask is involved.

A hit on a worker's copy (local_pages.py) does little of its own: a dict lookup and a poll of
the catalog watch. What it cost under load was mostly what every Flask request costs (the
request and app contexts, the cookie session, the database session's commit), about five
times the hit's own work (profiled under bench/catalog.py). This WSGI layer sits in front of
the app and answers a GET of the list that a fresh copy can answer, with the same headers,
the same request id and the same access log line as the app would (request_cycle.py and
views.py own them: it calls their functions). Everything else, a miss included, goes on to
the app, whose ``views.cached_for_anonymous`` path stays the reference this one is tested
against (tests/catalog/storefront/test_front.py).

It answers only from copies a request through the app has made: with none (SQLite in memory,
the tests' sessions bound to one connection) it passes every request on.
"""

import time
from datetime import timedelta

from flask import Flask

from marketplace.catalog.storefront import local_pages, views
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.request_cycle import log_request, request_id_for, stamp_response_headers


class CachedListFront:
    """The WSGI app answering hits on this worker's fresh copies, in front of ``app``."""

    def __init__(self, app: Flask, wsgi_app):
        self.wsgi_app = wsgi_app
        self._config = app.config
        self._paths = _cached_list_paths(app)
        with app.app_context():
            self._engine = db.engine
        self._copies: local_pages.LocalPages | None = None

    def __call__(self, environ, start_response):
        answer = self._answer_from_copy(environ)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return body

    def _answer_from_copy(self, environ):
        """The response's status, headers and body if a fresh copy answers it, else None."""
        if (
            environ["REQUEST_METHOD"] != "GET"
            or environ.get("PATH_INFO") not in self._paths
            or "HTTP_AUTHORIZATION" in environ
        ):
            return None
        started = time.perf_counter()
        max_age = self._config["CATALOG_CACHE_SECONDS"]
        copies = self._copies or local_pages.made_for(self._engine)
        if max_age <= 0 or copies is None:
            return None
        self._copies = copies
        # As werkzeug makes request.query_string of it.
        query_string = environ.get("QUERY_STRING", "").encode("latin-1")
        try:
            key, page_number, page_size = views.page_asked(query_string)
        except UnicodeDecodeError:
            return None  # raw bytes that are not UTF-8: the app refuses them, naming them
        page = copies.fresh_copy(key, now=utcnow(), max_age=timedelta(seconds=max_age))
        if page is None:
            return None
        if views.client_holds(environ.get("HTTP_IF_NONE_MATCH"), page.etag):
            status, headers, body = 304, views.not_modified_headers(page.etag), b""
        else:
            status, body = 200, page.body
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
                **views.cached_page_headers(page, page_number, page_size),
            }
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        stamp_response_headers(headers, request_id)
        log_request(
            "GET",
            environ["PATH_INFO"],
            status,
            request_id=request_id,
            started=started,
            user_id=None,
        )
        return _STATUS_LINES[status], list(headers.items()), [body]


_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


def _cached_list_paths(app: Flask) -> frozenset[str]:
    """The paths of the routes whose GET is served through ``views.cached_for_anonymous``."""
    paths = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        handler = getattr(getattr(view, "view_class", None), "get", view)
        if views.is_cached_for_anonymous(handler) and not rule.arguments:
            paths.add(rule.rule)
    return frozenset(paths)


def put_in_front(app: Flask) -> None:
    """Answer the anonymous list's hits on this worker's copies before the app does."""
    app.wsgi_app = CachedListFront(app, app.wsgi_app)
