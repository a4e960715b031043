"""The periods reports and listings are cut by: a month (2025-09), a quarter (2025-Q3) or a year
(2025), as business days in Asia/Shanghai, which is what a journal entry's ``effective_on`` is;
and the query-string fields that read them."""

import re
from dataclasses import dataclass
from datetime import date

from marshmallow import ValidationError, fields

from marketplace.reasons import reason

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
#: Years a report may ask for: the marketplace's, not a typing error's.
YEARS = range(2000, 2100)

NOT_A_PERIOD = reason(
    "period.invalid",
    "a month (2025-09), a quarter (2025-Q3) or a year (2025) from {first_year} to {last_year}",
)
NOT_A_MONTH = reason("period.not_a_month", "a month, such as 2025-09")


class InvalidPeriod(ValueError):
    """Text that names no period this service reads; ``reason`` says what is expected."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Period:
    label: str
    kind: str
    start: date
    #: the last day, included
    end: date

    @property
    def months(self) -> list[date]:
        """The first day of each month the period spans."""
        found, day = [], self.start
        while day <= self.end:
            found.append(day)
            day = next_month(day)
        return found


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_end(first: date) -> date:
    return date.fromordinal(next_month(first).toordinal() - 1)


def parse_period(text: str) -> Period:
    """``2025-09``, ``2025-Q3`` or ``2025``; InvalidPeriod (a ValueError) says what is
    expected."""
    text = (text or "").strip()
    if found := _MONTH.match(text):
        year, month = int(found.group(1)), int(found.group(2))
        if year in YEARS and 1 <= month <= 12:
            first = date(year, month, 1)
            return Period(text, "month", first, _month_end(first))
    elif found := _QUARTER.match(text):
        year, quarter = int(found.group(1)), int(found.group(2))
        if year in YEARS:
            first = date(year, 3 * quarter - 2, 1)
            return Period(text, "quarter", first, _month_end(date(year, 3 * quarter, 1)))
    elif found := _YEAR.match(text):
        year = int(found.group(1))
        if year in YEARS:
            return Period(text, "year", date(year, 1, 1), date(year, 12, 31))
    raise InvalidPeriod(NOT_A_PERIOD(first_year=YEARS.start, last_year=YEARS.stop - 1))


def month_of(text: str) -> Period:
    """A month only (what is closed)."""
    period = parse_period(text)
    if period.kind != "month":
        raise InvalidPeriod(NOT_A_MONTH())
    return period


class PeriodField(fields.String):
    """``2025-09``, ``2025-Q3`` or ``2025``: loaded as a Period."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_period(text)
        except InvalidPeriod as invalid:
            raise ValidationError(invalid.reason) from None


class MonthField(PeriodField):
    def _deserialize(self, value, attr, data, **kwargs):
        period = super()._deserialize(value, attr, data, **kwargs)
        if period.kind != "month":
            raise ValidationError(NOT_A_MONTH())
        return period
