"""Officials' pages: a region's month, quarter or year beside the period before it (with its
trend, ranking, coverage, channels, the units' purchases and its own livestreams), its
households, a household's postings, the report files, and closing a month with the history of
the region's closes. Payout runs and approvals are ``console/payouts.py``."""

from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for

from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.console import charts, comparison, forms, listing, messages, signin
from marketplace.console.pages import blp
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.households import service as households_service
from marketplace.households.models import HouseholdStatus
from marketplace.households.schemas import HouseholdQuery
from marketplace.livestreams import service as livestreams
from marketplace.periods import InvalidPeriod, Period, month_of, next_month, parse_period
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.scoping import OVERSEEN_REGIONS, ancestors_seen_by
from marketplace.reports import (
    assistance,
    channels,
    closing,
    exports,
    files,
    income,
    income_households,
    trails,
)
from marketplace.reports.reading import report_session
from marketplace.request_cycle import writes_when_read

OFFICIALS = (Role.admin, Role.official)
#: how many months the trend chart shows, ending with the period's last month
TREND_MONTHS = 12
COVERAGE_LISTED = 50
TRAIL_PAGE = 100
RECENT = 5


def _last_month() -> str:
    return f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"


def _period_argument() -> Period:
    text = request.args.get("period") or _last_month()
    try:
        return parse_period(text)
    except InvalidPeriod as error:
        abort(400, description=f"期间「{text}」无效：{messages.chinese(error.reason)}")


def _trend(session, actor, region_id: int, period: Period) -> list[tuple]:
    last = period.months[-1]
    months = [last]
    while len(months) < TREND_MONTHS:
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    return income.monthly_net(session, actor, region_id, months)


@blp.get("/regions/<int:region_id>")
@signin.signed_in(*OFFICIALS)
def region(region_id: int):
    actor, period = signin.current_console_actor(), _period_argument()
    reading = report_session()
    report = income.income_report(reading, actor, region_id, period)
    series = _trend(reading, actor, region_id, period)
    context = {
        "report": report,
        "period": period,
        "picker": _picker(period),
        "bars": charts.bars(series, selected=period.start if period.kind == "month" else None),
        "chart": charts,
        "ranked": sorted(report["rows"], key=lambda row: row["net_fen"], reverse=True),
        **_compared(reading, actor, report, period),
        "not_reached": income_households.coverage(
            reading,
            actor,
            {"region_id": region_id, "period": period, "reached": False},
            page=1,
            page_size=COVERAGE_LISTED,
        ),
        "channels": channels.channel_report(reading, actor, region_id, period),
        "assistance": assistance.assistance_report(reading, actor, region_id, period.start.year),
        "ancestors": _ancestors(reading, actor, report["region"]["id"]),
        "closable": _closable(period, report),
        "sessions": livestreams.list_sessions(
            reading, actor, {"within": region_id}, page=1, page_size=RECENT
        )[0],
    }
    return render_template("console/region.html", **context)


def _compared(session, actor, report: dict, period: Period) -> dict:
    """The previous period's report beside this one: each headline figure's change, and each
    row's (a child region's, or a household's in a village)."""
    previous = comparison.previous_period(period)
    before = income.income_report(session, actor, report["region"]["id"], previous)
    key = "household_id" if report["region"]["level"] == RegionLevel.village else "region_id"
    return {
        "previous": previous,
        "changes": comparison.headline_changes(report["totals"], before["totals"]),
        "row_changes": comparison.row_changes(report["rows"], before["rows"], key),
        "row_key": key,
    }


def _picker(period: Period) -> dict:
    """The same time as a month, its quarter and its year, and the periods either side."""
    month = min(period.months[-1], shanghai_today().replace(day=1))
    return {
        "month": f"{month:%Y-%m}",
        "quarter": f"{month.year}-Q{(month.month - 1) // 3 + 1}",
        "year": f"{month.year}",
        "earlier": comparison.previous_period(period).label,
        "later": _next_period(period),
    }


def _next_period(period: Period) -> str | None:
    """The period after this one, if it has begun."""
    first = next_month(period.end.replace(day=1))
    if first > shanghai_today():
        return None
    quarter = (first.month - 1) // 3 + 1
    return {
        "month": f"{first:%Y-%m}",
        "quarter": f"{first.year}-Q{quarter}",
        "year": str(first.year),
    }[period.kind]


def _ancestors(session, actor, region_id: int) -> list[Region]:
    """The path above the region that the actor may open (their own region at most)."""
    return ancestors_seen_by(session, session.get(Region, region_id), actor)


def _closable(period: Period, report: dict) -> bool:
    return period.kind == "month" and report["close"] is None and period.end < shanghai_today()


@blp.get("/regions/<int:region_id>/<any(income, households):kind>.<any(csv, xlsx):file_format>")
@writes_when_read
@signin.signed_in(*OFFICIALS)
def region_file(region_id: int, kind: str, file_format: str):
    actor, period = signin.current_console_actor(), _period_argument()
    build = files.income_table if kind == "income" else files.income_households_table
    table = build(report_session(), actor, region_id, period)
    return exports.file_response(db.session, actor, table, file_format, request.remote_addr)


@blp.get("/regions/<int:region_id>/close")
@signin.signed_in(*OFFICIALS)
def close_confirmation(region_id: int):
    month = _month_argument(request.args.get("month") or _last_month())
    return _close_page(region_id, month)


@blp.post("/regions/<int:region_id>/close")
@signin.signed_in(*OFFICIALS)
def close(region_id: int):
    actor = signin.current_console_actor()
    month = _month_argument(request.form.get("month"))
    try:
        closing.close_month(db.session, actor, region_id, month)
    except DomainError as error:
        forms.refusal(error)  # a NotFound goes on to the 404 page
        return _close_page(region_id, month, message=messages.chinese(error.detail)), error.status
    return redirect(url_for("console.region", region_id=region_id, period=month.label))


def _close_page(region_id: int, month: Period, **context) -> str:
    """The month's figures that a close freezes, its form, and every close and reopening of
    the region's months (and of the regions above it) so far."""
    actor = signin.current_console_actor()
    report = income.income_report(db.session, actor, region_id, month)
    history, pager = listing.paged(closing.close_history, db.session, actor, region_id)
    # A refused close is answered on the form's address: its page links go to the page's.
    pager = replace(
        pager,
        endpoint="console.close_confirmation",
        arguments={"region_id": region_id, "month": month.label},
    )
    return render_template(
        "console/close.html",
        report=report,
        month=month,
        history=history,
        pager=pager,
        closable=_closable(month, report),
        **context,
    )


def _month_argument(text: str | None) -> Period:
    if not text:
        abort(400, description="请填写要关账的月份，如 2026-10。")
    try:
        return month_of(text)
    except InvalidPeriod as error:
        abort(400, description=f"月份「{text}」无效：{messages.chinese(error.reason)}")


# --- a region's households -----------------------------------------------------------------

#: what the households list may be searched by, loaded by the API's own query schema
HOUSEHOLD_FILTERS = ("status", "q", "registry_number")


@blp.get("/regions/<int:region_id>/households")
@signin.signed_in(*OFFICIALS)
def region_households(region_id: int):
    """The registered households of a region (a village or above): searched by the head's
    name or the household number, filtered by status, a page at a time."""
    actor = signin.current_console_actor()
    region = OVERSEEN_REGIONS.get(db.session, region_id, actor)
    search = (request.args.get("search") or "").strip()
    typed = {"status": request.args.get("status", "")}
    # A household number is letters and digits; anything else is part of a name.
    typed["registry_number" if search.isascii() else "q"] = search
    try:
        filters = forms.load(HouseholdQuery(), typed)
    except DomainError as error:
        return _households_page(region, [], None, search, forms.refusal(error)), error.status
    households, pager = listing.paged(
        households_service.list_households, db.session, actor, {**filters, "within": region.id}
    )
    return _households_page(region, households, pager, search, {})


def _households_page(region, households, pager, search: str, refused: dict) -> str:
    return render_template(
        "console/region_households.html",
        region=region,
        households=households,
        villages=_village_names(households),
        pager=pager,
        search=search,
        status=request.args.get("status", ""),
        statuses=list(HouseholdStatus),
        errors=refused.get("errors", {}),
        period=request.args.get("period", ""),
    )


def _village_names(households) -> dict[int, str]:
    ids = {household.village_id for household in households}
    return dict(
        db.session.execute(sa.select(Region.id, Region.name).where(Region.id.in_(ids))).all()
    )


# --- a household's postings -----------------------------------------------------------------


@blp.get("/households/<int:household_id>")
@signin.signed_in(Role.admin, Role.official, Role.station)
def household(household_id: int):
    actor, period = signin.current_console_actor(), _period_argument()
    trail, pager = listing.paged(
        trails.household_trail,
        db.session,
        actor,
        household_id,
        start=period.start,
        end=period.end,
        page_size=TRAIL_PAGE,
    )
    return render_template("console/household.html", trail=trail, pager=pager, period=period)


@blp.get("/households/<int:household_id>/postings.<any(csv, xlsx):file_format>")
@writes_when_read
@signin.signed_in(Role.admin, Role.official, Role.station)
def household_file(household_id: int, file_format: str):
    actor, period = signin.current_console_actor(), _period_argument()
    table = files.trail_table(db.session, actor, household_id, period)
    return exports.file_response(db.session, actor, table, file_format, request.remote_addr)
