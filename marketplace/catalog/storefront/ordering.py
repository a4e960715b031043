"""The orders of the storefront list and the cursor that pages through each.

A sort orders by one column then the id (newest, price, name), or by relevance when the list
is searched (search.py: its class, then newest, then the id). Each full page hands out a
``Cursor``: the sort, its keys for the page's last product and that product's id, so the next
page starts right after it, in the sort's index (``after``: a row comparison PostgreSQL reads
as an index range). A page never counts how many rows come before it.
"""

import base64
import binascii
import json
from datetime import datetime

import sqlalchemy as sa

from marketplace.catalog.storefront import search

#: Each sort as the column it orders by, then the id as a stable tie-break; and relevance
#: (search.py), the default when the list is searched: its class, then newest, then the id.
SORTS = {
    "newest": ("published_at", True),
    "price_asc": ("min_price_fen", False),
    "price_desc": ("min_price_fen", True),
    "name": ("name", False),
    "relevance": ("relevance", False),
}


def sort_of(filters: dict) -> str:
    """The sort asked for; else relevance when the list is searched, newest when not
    (relevance asked of a list not searched is newest too)."""
    sort = filters.get("sort") or ("relevance" if filters.get("q") else "newest")
    return "newest" if sort == "relevance" and not filters.get("q") else sort


def keys(columns, sort: str) -> tuple:
    """What a page is ordered by before the id, as two keys: the sort's column (and nothing),
    or relevance's class and the publishing time."""
    if sort == "relevance":
        return search.relevance(columns), columns["published_at"]
    return columns[SORTS[sort][0]], sa.null()


def order(first, second, identity, sort: str) -> tuple:
    if sort == "relevance":
        return first.asc(), second.desc(), identity.desc()
    if SORTS[sort][1]:
        return first.desc(), identity.desc()
    return first.asc(), identity.asc()


def after(columns, sort: str):
    """The rows after the cursor's, in the order of ``sort``: a row comparison, which the
    sort's index (status, column, id) serves as a range."""
    after_id = sa.bindparam("after_id", type_=sa.BigInteger())
    if sort == "relevance":
        rank, published = keys(columns, sort)
        after_published = sa.bindparam("after_published", type_=columns["published_at"].type)
        later = sa.tuple_(published, columns["id"]) < sa.tuple_(after_published, after_id)
        after_rank = sa.bindparam("after_value", type_=sa.Integer())
        return sa.or_(rank > after_rank, sa.and_(rank == after_rank, later))
    name, descending = SORTS[sort]
    mark = sa.tuple_(sa.bindparam("after_value", type_=columns[name].type), after_id)
    position = sa.tuple_(columns[name], columns["id"])
    return position < mark if descending else position > mark


class Cursor:
    """Where a page ends, in the order of its sort: the sort, its value for the last product
    (for relevance, its class and its publishing time) and that product's id; sent as opaque
    URL-safe text (base64 of a JSON array)."""

    __slots__ = ("id", "published", "sort", "value")

    def __init__(self, sort: str, value, product_id: int, published: datetime | None = None):
        self.sort, self.value, self.id, self.published = sort, value, product_id, published

    def encode(self) -> str:
        keys = [
            k.isoformat() if isinstance(k, datetime) else k for k in (self.value, self.published)
        ]
        text = json.dumps([self.sort, *keys, self.id], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """The cursor ``encode`` wrote; ValueError for any other text."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            sort, value, published, product_id = json.loads(raw)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
            raise ValueError("not a cursor") from error
        if sort not in SORTS or type(product_id) is not int or not 0 < product_id < 2**63:
            raise ValueError("not a cursor")
        if sort == "relevance":
            return cls(sort, _sort_value("relevance", value), product_id, _moment(published))
        if published is not None:
            raise ValueError("not a cursor")
        return cls(sort, _sort_value(sort, value), product_id)


def _moment(value) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise ValueError("not a cursor")
    return moment


def _sort_value(sort: str, value):
    """The cursor's value as the sort's key holds it."""
    column = SORTS[sort][0]
    if column == "published_at":
        return _moment(value)
    fits = {
        "min_price_fen": type(value) is int and 0 <= value < 2**63,
        "name": isinstance(value, str) and len(value) <= 200,
        "relevance": type(value) is int and value in search.CLASSES,
    }
    if fits.get(column, False):
        return value
    raise ValueError("not a cursor")
