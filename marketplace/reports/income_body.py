"""The income report as its response body, written out here rather than dumped through
``IncomeReportOut``: a village's report holds a row per household, and marshmallow dumping a few
hundred rows of nested figures took half of the request's time. The schema stays the shape's
document and the reference: a test holds this to ``IncomeReportOut().dump`` of the same report
(a county's, a village's and a closed month's)."""

from datetime import date, datetime

_FIGURES = (
    "gross_fen",
    "refunds_fen",
    "net_fen",
    "paid_out_fen",
    "households_registered",
    "households_reached",
    "members_reached",
    "per_capita_fen",
)


def income_body(report: dict) -> dict:
    period = report["period"]
    return {
        "region": {
            "id": report["region"]["id"],
            "name": report["region"]["name"],
            "level": _text(report["region"]["level"]),
        },
        "period": {
            "label": period["label"],
            "start": _day(period["start"]),
            "end": _day(period["end"]),
        },
        "currency": report["currency"],
        "totals": _figures(report["totals"]),
        # The rows as they are: each is made in the body's shape (``empty_figures`` and the
        # region's or household's names), or was stored so by a close; a village's has
        # hundreds, and copying them was a tenth of its request. The test's equality with the
        # schema's dump, which keeps no other field, holds them to it.
        "rows": report["rows"],
        "adjustments": [
            {"month": each["month"], "net_fen": each["net_fen"]} for each in report["adjustments"]
        ],
        "close": _close(report["close"]),
    }


def _figures(figures: dict) -> dict:
    body = {name: figures[name] for name in _FIGURES}
    # The parts as they are, not copied: each holds just the body's fields (made so by
    # ``empty_figures``, or stored so by a close), and a village's report has hundreds.
    body["by_source"] = figures["by_source"]
    body["coverage"] = figures["coverage"]
    return body


def _close(close: dict | None) -> dict | None:
    if close is None:
        return None
    closed_at = close["closed_at"]
    return {
        "closed_at": closed_at.isoformat() if isinstance(closed_at, datetime) else closed_at,
        "closed_by_id": close["closed_by_id"],
        "region_id": close["region_id"],
    }


def _day(day) -> str:
    return day.isoformat() if isinstance(day, date) else day


def _text(value):
    """A string field as marshmallow writes it: an enum's value, None kept."""
    return None if value is None else str(value)
