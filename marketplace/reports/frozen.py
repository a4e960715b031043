"""What a closed month froze, read back. A close (``closing.close_month``) freezes every
monthly report it covers as it stood: the income and channels reports of the closed region and
of every region below it (``ReportSnapshot``), and the closed region's households with their
figures (``FrozenHousehold``), which the households file and the coverage list are cut from.
A month's report is served from the earliest close still standing that covers its region (the
region's own, or one above it); the month is live again only when that close is reopened.
"""

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.closes.models import MonthClose
from marketplace.closes.months import standing_close
from marketplace.periods import Period
from marketplace.reports.models import FrozenHousehold, ReportSnapshot

INCOME, CHANNELS = "income", "channels"


@dataclass(frozen=True)
class Freezing:
    """Which close froze what is served, and who signed it off (a file's header)."""

    close_id: int
    region_id: int
    closed_at: datetime
    closed_by_id: int | None
    closed_by: str

    def as_report_field(self) -> dict:
        return {
            "closed_at": self.closed_at,
            "closed_by_id": self.closed_by_id,
            "region_id": self.region_id,
        }


def freezing(session, region_id: int, period: Period) -> Freezing | None:
    """The close that froze the region's month, if the period is a closed month."""
    if period.kind != "month":
        return None
    close = standing_close(session, region_id, period.start)
    if close is None:
        return None
    return _freezing(session, close)


def _freezing(session, close: MonthClose) -> Freezing:
    username = None
    if close.closed_by_id is not None:
        username = session.execute(
            sa.select(User.username).where(User.id == close.closed_by_id)
        ).scalar_one_or_none()
    return Freezing(
        close_id=close.id,
        region_id=close.region_id,
        closed_at=close.closed_at,
        closed_by_id=close.closed_by_id,
        closed_by=username or "",
    )


#: The snapshot a close froze of a region's month, built once: every month's report asks for it
#: before it is computed (a village's report, a few milliseconds, built it anew each time).
_SNAPSHOT = (
    sa.select(ReportSnapshot.report, MonthClose)
    .join(MonthClose, MonthClose.id == ReportSnapshot.close_id)
    .where(
        ReportSnapshot.region_id == sa.bindparam("region_id"),
        ReportSnapshot.month == sa.bindparam("month"),
        ReportSnapshot.kind == sa.bindparam("kind"),
        MonthClose.closed.is_(True),
    )
    .order_by(MonthClose.closed_at, MonthClose.id)
    .limit(1)
)


def frozen_report(session, region_id: int, period: Period, kind: str = INCOME) -> dict | None:
    """The report of ``kind`` a close of the month (of the region or one above it) froze, if
    any, with the close that froze it as its ``close`` field."""
    if period.kind != "month":
        return None
    found = session.execute(
        _SNAPSHOT, {"region_id": region_id, "month": period.start, "kind": kind}
    ).one_or_none()
    if found is None:
        return None
    report, close = found
    # Stored as the API gave it: its days are text again.
    period_out = {
        **report["period"],
        "start": date.fromisoformat(report["period"]["start"]),
        "end": date.fromisoformat(report["period"]["end"]),
    }
    return {
        **report,
        "period": period_out,
        "close": _freezing(session, close).as_report_field(),
    }


def frozen_net_by_month(session, region_id: int, months: list[date]) -> dict[date, int]:
    """The net income of each of ``months`` that a close froze for the region (the earliest
    standing close's, as ``frozen_report`` serves it), in one statement."""
    found: dict[date, int] = {}
    for month, report in session.execute(
        sa.select(ReportSnapshot.month, ReportSnapshot.report)
        .join(MonthClose, MonthClose.id == ReportSnapshot.close_id)
        .where(
            ReportSnapshot.region_id == region_id,
            ReportSnapshot.month.in_(months),
            ReportSnapshot.kind == INCOME,
            MonthClose.closed.is_(True),
        )
        .order_by(MonthClose.closed_at.desc(), MonthClose.id.desc())
    ):
        found[month] = report["totals"]["net_fen"]  # the earliest close is read last
    return found


def frozen_households(freezing: Freezing, villages: list[int]) -> sa.Select:
    """The frozen households of the villages, as the close found them: ``row`` (the
    households file's row), ``status`` and ``reached`` to filter on, in household id order."""
    return (
        sa.select(
            FrozenHousehold.household_id,
            FrozenHousehold.village_id,
            FrozenHousehold.status,
            FrozenHousehold.reached,
            FrozenHousehold.row,
        )
        .where(
            FrozenHousehold.close_id == freezing.close_id,
            FrozenHousehold.village_id.in_(villages),
        )
        .order_by(FrozenHousehold.household_id)
    )


def registry_freezing(session, region_id: int, period: Period) -> Freezing | None:
    """The close that froze the region's households for the month, if any. Closes made
    before households were frozen (migration 0016) froze the income report only: their
    month's households stay live until it is reopened and closed again."""
    found = freezing(session, region_id, period)
    if found is None:
        return None
    froze_households = session.execute(
        sa.select(
            sa.exists().where(
                ReportSnapshot.close_id == found.close_id, ReportSnapshot.kind == CHANNELS
            )
        )
    ).scalar_one()
    return found if froze_households else None
