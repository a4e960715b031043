"""The front (catalog/storefront/front.py) answers the anonymous list's hits on a worker's copies
before Flask does. The app's own path (views.cached_for_anonymous answering from the same copy)
is the reference: for the same request the front gives the same status, headers, body and
access log line, and it leaves every request it cannot answer from a fresh copy to the app.

Served apps on a database of their own (tests/served.py), so that requests make copies as a
worker does; the front and the reference are called as WSGI apps, side by side.
"""

import json
import logging
import urllib.request
from datetime import timedelta

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from marketplace.accounts.models import Role
from marketplace.catalog.storefront import local_pages, page_cache, views
from marketplace.catalog.storefront.front import CachedListFront
from marketplace.db import utcnow
from tests.catalog.storefront.test_local_pages import _overwrite_shared_pages
from tests.orders.test_races import _setup_shop
from tests.payments.conftest import eventually
from tests.served import served_app, signed_in_user

LIST = "/api/v1/products"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("front"), CATALOG_CACHE_SECONDS=300) as served:
        _setup_shop(served, tag=61, stock=5, buyers=0)
        _setup_shop(served, tag=62, stock=3, buyers=0)
        yield served


def _front(served) -> CachedListFront:
    front = served.app.wsgi_app
    assert isinstance(front, CachedListFront)
    return front


def _call(wsgi_app, query="", method="GET", headers=None, path=LIST):
    environ = EnvironBuilder(
        path=path, query_string=query, method=method, headers=headers or {}
    ).get_environ()
    body, status, response_headers = run_wsgi_app(wsgi_app, environ, buffered=True)
    return status, sorted(response_headers.items()), b"".join(body)


def _access_lines(caplog):
    lines = [
        (r.method, r.path, r.status, r.request_id, r.user_id)
        for r in caplog.records
        if r.name == "marketplace.access"
    ]
    caplog.clear()
    return lines


QUERIES = [
    "",
    "sort=price_asc",
    "page=2&page_size=1&sort=name",
    "page_size=1",
    "q=%E8%93%9D%E8%8E%93",
    "sort=price_desc&_=1700000000",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_hit_is_answered_as_the_app_answers_it(served, query, caplog):
    caplog.set_level(logging.INFO, logger="marketplace.access")
    front = _front(served)
    _call(front.wsgi_app, query)  # a miss: the app builds the page, and keeps a copy
    etag = dict(_call(front.wsgi_app, query)[1])["ETag"]
    for headers in (
        {"X-Request-ID": "front-test-0001"},
        {"X-Request-ID": "front-test-0002", "If-None-Match": etag},
        {"X-Request-ID": "front-test-0003", "If-None-Match": f'"other", W/{etag}'},
        {"X-Request-ID": "front-test-0004", "If-None-Match": '"other"'},
        {"X-Request-ID": "no good"},
    ):
        caplog.clear()
        reference = _call(front.wsgi_app, query, headers=headers)
        reference_lines = _access_lines(caplog)
        assert front._answer_from_copy(_environ(query, headers)) is not None
        caplog.clear()
        answered = _call(front, query, headers=headers)
        lines = _access_lines(caplog)
        if headers["X-Request-ID"] == "no good":
            # A fresh id each time: only their shape can match.
            reference, answered = _without_request_id(reference), _without_request_id(answered)
            reference_lines, lines = _without_ids(reference_lines), _without_ids(lines)
        assert answered == reference
        assert lines == reference_lines and len(lines) == 1


def _environ(query, headers):
    return EnvironBuilder(path=LIST, query_string=query, headers=headers).get_environ()


def _without_request_id(response):
    status, headers, body = response
    return status, [(n, v) for n, v in headers if n != "X-Request-ID"], body


def _without_ids(lines):
    return [
        (method, path, status, len(request_id), user)
        for method, path, status, request_id, user in lines
    ]


def test_what_no_fresh_copy_answers_goes_on_to_the_app(served, monkeypatch):
    front = _front(served)
    _call(front.wsgi_app, "sort=name")
    assert front._answer_from_copy(_environ("sort=name", {})) is not None
    for environ in (
        EnvironBuilder(path=LIST, query_string="sort=name", method="HEAD").get_environ(),
        EnvironBuilder(path=LIST, query_string="sort=name", method="POST").get_environ(),
        _environ("sort=name", {"Authorization": "Bearer x"}),
        EnvironBuilder(path=LIST + "/", query_string="sort=name").get_environ(),
        EnvironBuilder(path="/api/v1/ping", query_string="sort=name").get_environ(),
        _environ("sort=name&page=3", {}),  # never asked for: no copy
    ):
        assert front._answer_from_copy(environ) is None
    monkeypatch.setitem(served.app.config, "CATALOG_CACHE_SECONDS", 0)
    assert front._answer_from_copy(_environ("sort=name", {})) is None


def test_raw_bytes_that_are_not_utf8_go_on_to_the_app_which_refuses_them(served):
    # A server other than gunicorn passes raw bytes on (gunicorn refuses them itself): the
    # front must not fail on them (a 500 outside the app's handlers), and the app names them.
    front = _front(served)
    environ = _environ("sort=name", {})
    environ["QUERY_STRING"] = b"sort=name&q=\xff\xfe".decode("latin-1")
    assert front._answer_from_copy(dict(environ)) is None
    body, status, _ = run_wsgi_app(front, environ, buffered=True)
    answer = json.loads(b"".join(body))
    assert status.startswith("400"), answer
    assert answer["code"] == "request.query_not_utf8"
    assert answer["reasons"] == {"q": [{"code": "text.not_utf8", "params": {}}]}


def test_a_change_leaves_the_next_request_to_the_app(served):
    front = _front(served)
    _call(front.wsgi_app, "sort=price_asc")
    assert front._answer_from_copy(_environ("sort=price_asc", {})) is not None
    with served.session() as session:
        page_cache.invalidate_pages(session)
        session.info.pop("after_commit", None)  # as another worker's change: heard, not done

    def copy_dropped():
        return front._answer_from_copy(_environ("sort=price_asc", {})) is None

    eventually(copy_dropped, timeout=2, what="the copy dropped on the notice")


def test_a_served_hit_never_reaches_the_app(served, monkeypatch):
    """Over HTTP, through the server: the second request is answered in front of the app,
    even when the shared cache has changed behind its back."""
    front = _front(served)
    reached = []
    inner = front.wsgi_app

    def counting(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(front, "wsgi_app", counting)
    url = f"{served.base_url}{LIST}?sort=price_desc&page_size=2"
    with urllib.request.urlopen(url, timeout=30) as response:
        first, first_headers = response.read(), response.headers
    assert len(json.loads(first)) == 2
    _overwrite_shared_pages(served)
    reached.clear()
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == first
        for name in ("ETag", "X-Total-Count", "X-Pagination", "Cache-Control", "X-Frame-Options"):
            assert response.headers[name] == first_headers[name]
        assert response.headers["X-Request-ID"] not in ("", first_headers["X-Request-ID"])
    assert reached == []


def test_a_signed_in_list_is_built_by_the_app(served, monkeypatch):
    front = _front(served)
    with served.session() as session:
        headers = signed_in_user(
            session, username="front_buyer", role=Role.buyer, display_name="买家"
        )
    reached = []
    inner = front.wsgi_app
    monkeypatch.setattr(
        front, "wsgi_app", lambda e, s: reached.append(e["PATH_INFO"]) or inner(e, s)
    )
    request = urllib.request.Request(f"{served.base_url}{LIST}?sort=name", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Cache-Control"] == "private, no-cache"
    assert reached == [LIST]


def test_a_conditional_request_after_the_copy_expired_keeps_a_copy_again(served):
    """A stream of If-None-Match requests must not read the database once per request after
    the worker's copy expired: the one that finds no copy reads the body too, and keeps it."""
    front = _front(served)
    query = "sort=price_asc&page_size=3"
    _call(front.wsgi_app, query)
    etag = dict(_call(front.wsgi_app, query)[1])["ETag"]
    held = {"If-None-Match": etag}
    assert front._answer_from_copy(_environ(query, held)) is not None
    # Time passes for the copy (a fresh_copy that finds it expired drops it); the shared page,
    # stored with the database's clock, is still fresh.
    key = views.page_asked(query.encode())[0]
    copies = local_pages.made_for(front._engine)
    assert copies.fresh_copy(key, now=utcnow() + timedelta(days=1), max_age=timedelta(0)) is None
    assert front._answer_from_copy(_environ(query, held)) is None

    status, _, body = _call(front, query, headers=held)
    assert (status, body) == ("304 NOT MODIFIED", b"")
    assert front._answer_from_copy(_environ(query, held))[0] == "304 NOT MODIFIED"
