"""The numbers requests are read with, each with the range its column and every total derived
from it can hold.

Every integer a request carries goes through one of these, so neither database ever sees a
value it cannot store (SQLite answered a 500 where PostgreSQL answered a 422), and the OpenAPI
document states each range (marshmallow's Range becomes ``minimum``/``maximum``).

In request bodies they are strict: ``1.5``, ``1.999`` and ``"1"`` are refused, never coerced to
1. In query strings every value arrives as text, so the query forms (``strict=False``) accept
``"1"`` and still refuse ``"1.5"``.
"""

from marshmallow import fields, validate

#: ids are INTEGER columns
MAX_ID = 2**31 - 1
#: a unit of anything sold here: one million yuan
MAX_PRICE_FEN = 10**8
#: the units of one SKU on hand
MAX_STOCK = 10**6
#: any sum of money: ten billion yuan. A whole order (50 lines of 200 units at the highest
#: price) stays inside it, and the BIGINT columns hold sums of millions of these.
MAX_FEN = 10**12
#: the deepest page a list serves (page × page size stays far inside an INTEGER)
MAX_PAGE = 10**6


class BoundedInteger(fields.Integer):
    """A whole number within ``[low, high]``, strict unless ``strict=False`` is given."""

    def __init__(self, low: int, high: int, *, strict: bool = True, validators=(), **kwargs):
        super().__init__(
            strict=strict, validate=[*validators, validate.Range(min=low, max=high)], **kwargs
        )


class Id(BoundedInteger):
    """The id of a row: 1 to 2^31 − 1."""

    def __init__(self, **kwargs):
        super().__init__(1, MAX_ID, **kwargs)


class Fen(BoundedInteger):
    """An amount of money in fen, 0 (or ``low``) up to ``high``."""

    def __init__(self, *, low: int = 0, high: int = MAX_FEN, **kwargs):
        super().__init__(low, high, **kwargs)


def is_bounded(field: fields.Field) -> bool:
    """Whether ``field`` is an integer with both ends of its range declared."""
    return any(
        isinstance(check, validate.Range) and check.min is not None and check.max is not None
        for check in field.validators
    )
