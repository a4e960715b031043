"""Lists in the console page through the services' own list functions, as the API's lists do:
the same ``(rows, total)`` a view hands to flask-smorest, here turned into a pager.

A page number is read from the query string (``?page=3``); anything that is no page number is
the first page, and a page past the end shows the last. The filters a page offers stay in the
links of every page, so paging never drops a search.
"""

from dataclasses import dataclass

from flask import request, url_for

#: rows on a console page: a phone's screen or two
PAGE_SIZE = 20


@dataclass(frozen=True)
class Pager:
    page: int
    page_size: int
    total: int
    endpoint: str
    arguments: dict

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)

    def url(self, page: int) -> str:
        return url_for(self.endpoint, **{**self.arguments, "page": page})


def requested_page() -> int:
    text = request.args.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 1_000_000 else 1


def paged(list_function, *args, page_size: int | None = None, **kwargs):
    """``list_function(*args, page=, page_size=, **kwargs)`` for the page the request asks,
    -> its rows and a Pager whose links keep the request's other query arguments (and
    ``request.view_args``)."""
    page_size = page_size or PAGE_SIZE
    page = requested_page()
    rows, total = list_function(*args, page=page, page_size=page_size, **kwargs)
    last = max(1, -(-total // page_size))
    if page > last:
        page = last
        rows, total = list_function(*args, page=page, page_size=page_size, **kwargs)
    arguments = {
        **(request.view_args or {}),
        **{key: value for key, value in request.args.items() if key != "page" and value},
    }
    return rows, Pager(page, page_size, total, request.endpoint, arguments)
