"""Time as the business counts it: stored in UTC, cut into days and months in Asia/Shanghai."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_date(moment: datetime) -> date:
    """The calendar date in China at ``moment`` (an aware datetime)."""
    return moment.astimezone(SHANGHAI).date()


def shanghai_today() -> date:
    return shanghai_date(datetime.now(UTC))


def shanghai_midnight(day: date) -> datetime:
    """The moment ``day`` begins in Shanghai, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)
