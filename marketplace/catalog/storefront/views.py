"""The HTTP side of the storefront list: building its response, and serving anonymous requests
from the page cache (page_cache.py, local_pages.py) with ETags and 304s."""

import functools
import json
from datetime import timedelta
from urllib.parse import parse_qsl

from flask import current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_etags

from marketplace.catalog.storefront import listing, local_pages, page_cache
from marketplace.db import read_without_transaction, utcnow
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.reasons import reason

#: The list's page size when the request names none (also the cache key's default).
PAGE_SIZE = 20

PAGE_PAST_THE_BOUND = reason(
    "storefront.page_past_bound",
    "pages reach the first {bound} products; deeper ones are reached by cursor "
    "(next_cursor in X-Pagination)",
)
PAGE_WITH_A_CURSOR = reason(
    "storefront.page_with_cursor", "a cursor says where the page starts: send no page with it"
)


def list_response(filters: dict, pagination_parameters, *, media_prefix: str):
    """The storefront page as a response, with its ETag, X-Total-Count and X-Pagination (its
    total bounded, its next cursor); image URLs start with ``media_prefix``."""
    page, page_size = pagination_parameters.page, pagination_parameters.page_size
    _check_page(page, page_size, filters.get("cursor"))
    with page_cache.storefront_reads(db.session) as connection:
        cards, counted, following = listing.list_storefront(
            connection,
            filters,
            page=page,
            page_size=page_size,
            media_prefix=media_prefix,
            totals=local_pages.for_session(db.session),
        )
    # flask-smorest's own header is left out (our X-Pagination says more), not its count.
    pagination_parameters.item_count = min(counted, listing.TOTAL_BOUND)
    body, etag = listing.render_page(cards, counted, following)
    return current_app.response_class(
        body,
        mimetype="application/json",
        headers={
            "ETag": etag,
            "X-Total-Count": total_count(counted),
            "X-Pagination": _pagination(page, page_size, counted, following),
            "X-Next-Cursor": following or "",
        },
    )


def _check_page(page: int, page_size: int, cursor) -> None:
    if cursor is not None and page != 1:
        raise ValidationFailed({"page": [PAGE_WITH_A_CURSOR()]})
    if (page - 1) * page_size >= listing.TOTAL_BOUND:
        raise ValidationFailed({"page": [PAGE_PAST_THE_BOUND(bound=listing.TOTAL_BOUND)]})


def total_count(counted: int) -> str:
    """X-Total-Count: the exact total, or the bound with a ``+`` once the count passed it."""
    if counted > listing.TOTAL_BOUND:
        return f"{listing.TOTAL_BOUND}+"
    return str(counted)


#: Anonymous pages may be kept by shared caches; each use is revalidated by its ETag.
PUBLIC = "public, no-cache"
_PRIVATE = "private, no-cache"


def _client_holds(etag: str) -> bool:
    return client_holds(request.environ.get("HTTP_IF_NONE_MATCH"), etag)


def client_holds(if_none_match: str | None, etag: str) -> bool:
    """Whether a request whose If-None-Match header is ``if_none_match`` (None when it sent
    none) already holds the version tagged ``etag``: a weak comparison, as werkzeug's
    ``request.if_none_match.contains_weak`` makes it."""
    # Most requests send no If-None-Match: then there is nothing to parse.
    if if_none_match is None:
        return False
    return parse_etags(if_none_match).contains_weak(etag.strip('"'))


def _not_modified(etag: str, cache_control: str):
    return current_app.response_class(status=304, headers=not_modified_headers(etag, cache_control))


def not_modified_headers(etag: str, cache_control: str = PUBLIC) -> dict[str, str]:
    """A 304's own headers."""
    return {"ETag": etag, "Cache-Control": cache_control}


def _finish(response, cache_control: str):
    """Built pages are revalidated by ETag too: the client that holds one gets a 304."""
    if response.status_code != 200:
        return response
    if _client_holds(response.headers["ETag"]):
        return _not_modified(response.headers["ETag"], cache_control)
    response.headers["Cache-Control"] = cache_control
    return response


@functools.lru_cache(maxsize=4096)
def _pagination(page: int, page_size: int, counted: int, following: str | None) -> str:
    """The X-Pagination header: flask-smorest's fields, the total bounded (``total`` is then
    the bound and ``total_is_lower_bound`` true; the pages are those page numbers reach), and
    ``next_cursor``, the cursor of the next page (null after the last)."""
    bounded = counted > listing.TOTAL_BOUND
    total = listing.TOTAL_BOUND if bounded else counted
    metadata: dict = {"total": total, "total_is_lower_bound": bounded, "total_pages": 0}
    if total:
        last = (total - 1) // page_size + 1
        metadata.update(total_pages=last, first_page=1, last_page=last)
        if page <= last:
            metadata["page"] = page
            if page > 1:
                metadata["previous_page"] = page - 1
            if page < last:
                metadata["next_page"] = page + 1
    metadata["next_cursor"] = following
    # Remembered (its arguments are all it depends on): a cached page's hit wrote it anew.
    return json.dumps(metadata)


@functools.lru_cache(maxsize=4096)
def page_asked(query_string: bytes) -> tuple[str, str, str]:
    """The cache key of the page a query string asks for, and its page number and size as
    sent, worked out once per distinct query string: parsing and hashing the parameters anew
    was a fifth of a hit's own time (profiled under bench/catalog.py). The query string is
    parsed as ``request.args`` parses it."""
    args = MultiDict(
        parse_qsl(query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    )
    return page_cache.cache_key(args), args.get("page", "1"), args.get("page_size", str(PAGE_SIZE))


def cached_page_headers(page, page_number: str, page_size: str) -> dict[str, str]:
    """The headers of a cached page (a ``page_cache.CachedPage`` or a worker's
    ``local_pages.LocalPage``) asked for as ``page_number`` and ``page_size`` (``page_asked``)."""
    # Only pages whose arguments passed validation are stored, so these parse.
    pagination = _pagination(int(page_number), int(page_size), page.total, page.next_cursor)
    return {
        "ETag": page.etag,
        "X-Total-Count": total_count(page.total),
        "X-Pagination": pagination,
        "X-Next-Cursor": page.next_cursor or "",
        "Cache-Control": PUBLIC,
    }


def _counted(total_count_header: str) -> int:
    """What the count came to, back from X-Total-Count: one past the bound for "bound+"."""
    if total_count_header.endswith("+"):
        return listing.TOTAL_BOUND + 1
    return int(total_count_header)


def cached_for_anonymous(view):
    """Serve anonymous lists from the page cache shared by all workers.

    A hit costs one statement and skips argument parsing and the list queries; a miss builds
    the page through the view and stores it. Requests with a token, and every request when
    CATALOG_CACHE_SECONDS is 0, are built fresh; they write nothing, so they read outside a
    transaction.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        max_age = current_app.config["CATALOG_CACHE_SECONDS"]
        if "Authorization" in request.headers or max_age <= 0:
            read_without_transaction(db.session)
            return _finish(view(*args, **kwargs), _PRIVATE)
        key, page_number, page_size = page_asked(request.query_string)
        now = utcnow()
        generation, page = page_cache.lookup_page(
            db.session,
            key,
            now=now,
            max_age=timedelta(seconds=max_age),
            held_etag=request.headers.get("If-None-Match"),
        )
        if page is None:
            response = view(*args, **kwargs)
            if response.status_code == 200:
                built = page_cache.CachedPage(
                    response.headers["ETag"],
                    response.get_data(),
                    _counted(response.headers["X-Total-Count"]),
                    response.headers["X-Next-Cursor"] or None,
                )
                page_cache.store_page(db.session, key, generation, built, now=now)
            return _finish(response, PUBLIC)
        if _client_holds(page.etag):
            return _not_modified(page.etag, PUBLIC)
        return current_app.response_class(
            page.body,
            mimetype="application/json",
            headers=cached_page_headers(page, page_number, page_size),
        )

    wrapper.cached_for_anonymous = True
    return wrapper


def is_cached_for_anonymous(view) -> bool:
    """Whether ``view`` is a list served through ``cached_for_anonymous`` (front.py finds the
    routes it may answer by it)."""
    return getattr(view, "cached_for_anonymous", False)
