"""A region's period beside the one before it (上期, 环比): the month before a month, the
quarter before a quarter, the year before a year; and, for each headline figure and each row,
the change in its unit and in percent.

Percent is one decimal, rounded half up (away from zero, so a fall reads as a rise would),
against the size of the previous figure: a change from nothing has no percent.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from marketplace.periods import Period, parse_period

#: the headline figures compared, as the report's totals name them
HEADLINE = (
    "net_fen",
    "households_reached",
    "members_reached",
    "per_capita_fen",
    "refunds_fen",
    "paid_out_fen",
)


@dataclass(frozen=True)
class Change:
    previous: int
    difference: int
    #: "12.5" or "-3.0"; None when the previous figure was nothing
    percent: str | None

    @property
    def direction(self) -> str:
        return "up" if self.difference > 0 else "down" if self.difference < 0 else "same"


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``."""
    year = period.start.year
    if period.kind == "month":
        month = period.start.month
        before = date(year - 1, 12, 1) if month == 1 else date(year, month - 1, 1)
        return parse_period(f"{before:%Y-%m}")
    if period.kind == "quarter":
        quarter = (period.start.month - 1) // 3 + 1
        return parse_period(f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}")
    return parse_period(str(year - 1))


def change(current: int, previous: int) -> Change:
    difference = current - previous
    if previous == 0:
        return Change(previous, difference, None)
    percent = (Decimal(difference) * 100 / abs(Decimal(previous))).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return Change(previous, difference, f"{percent:+}")


def headline_changes(totals: dict, previous_totals: dict) -> dict[str, Change]:
    return {name: change(totals[name], previous_totals[name]) for name in HEADLINE}


def row_changes(rows: list[dict], previous_rows: list[dict], key: str) -> dict[int, Change]:
    """Each row's net income beside the previous period's row of the same ``key`` (a child
    region's id, or a household's); a row the previous period lacks had nothing."""
    before = {row[key]: row["net_fen"] for row in previous_rows}
    return {row[key]: change(row["net_fen"], before.get(row[key], 0)) for row in rows}
