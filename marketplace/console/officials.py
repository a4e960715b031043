"""Officials' pages: a region's month (with its trend, ranking, coverage, channels, the
units' purchases and recent livestreams), a household's postings, the report files, closing a
month, and approving the payout runs and pledges that wait for a second user."""

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for

from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.console import charts, forms, messages, signin
from marketplace.console.pages import blp
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.ledger.pledges import funding as pledge_funding
from marketplace.ledger.pledges import service as pledges
from marketplace.livestreams import service as livestreams
from marketplace.payouts import service as payouts
from marketplace.payouts.models import PayoutLine, RunStatus
from marketplace.periods import Period, month_of, parse_period
from marketplace.regions.models import Region
from marketplace.regions.scoping import ancestors_seen_by
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
MAX_PAGE = 100_000
RECENT = 5
WAITING = 50


def _last_month() -> str:
    return f"{shanghai_today().replace(day=1) - timedelta(days=1):%Y-%m}"


def _period_argument() -> Period:
    text = request.args.get("period") or _last_month()
    try:
        return parse_period(text)
    except ValueError as error:
        abort(400, description=f"期间 {text!r} 无效：{error}")


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
    year = period.start.year
    context = {
        "report": report,
        "period": period,
        "bars": charts.bars(series, selected=period.start if period.kind == "month" else None),
        "chart": charts,
        "ranked": sorted(report["rows"], key=lambda row: row["net_fen"], reverse=True),
        "not_reached": income_households.coverage(
            reading,
            actor,
            {"region_id": region_id, "period": period, "reached": False},
            page=1,
            page_size=COVERAGE_LISTED,
        ),
        "channels": channels.channel_report(reading, actor, region_id, period),
        "assistance": assistance.assistance_report(reading, actor, region_id, year),
        "ancestors": _ancestors(reading, actor, report["region"]["id"]),
        "closable": _closable(period, report),
        "sessions": livestreams.list_sessions(reading, actor, {}, page=1, page_size=RECENT)[0],
    }
    return render_template("console/region.html", **context)


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
    actor = signin.current_console_actor()
    month = _month_argument(request.args.get("month"))
    report = income.income_report(db.session, actor, region_id, month)
    return render_template("console/close.html", report=report, month=month)


@blp.post("/regions/<int:region_id>/close")
@signin.signed_in(*OFFICIALS)
def close(region_id: int):
    actor = signin.current_console_actor()
    month = _month_argument(request.form.get("month"))
    try:
        closing.close_month(db.session, actor, region_id, month)
    except DomainError as error:
        forms.refusal(error)  # a NotFound goes on to the 404 page
        report = income.income_report(db.session, actor, region_id, month)
        page = render_template(
            "console/close.html", report=report, month=month, message=messages.chinese(error.detail)
        )
        return page, error.status
    return redirect(url_for("console.region", region_id=region_id, period=month.label))


def _month_argument(text: str | None) -> Period:
    try:
        return month_of(text or "")
    except ValueError as error:
        abort(400, description=f"月份 {text!r} 无效：{error}")


# --- a household's postings -----------------------------------------------------------------


@blp.get("/households/<int:household_id>")
@signin.signed_in(Role.admin, Role.official, Role.station)
def household(household_id: int):
    actor, period = signin.current_console_actor(), _period_argument()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    trail, total = trails.household_trail(
        db.session,
        actor,
        household_id,
        start=period.start,
        end=period.end,
        page=page,
        page_size=TRAIL_PAGE,
    )
    return render_template(
        "console/household.html",
        trail=trail,
        total=total,
        period=period,
        page=page,
        pages=max((total + TRAIL_PAGE - 1) // TRAIL_PAGE, 1),
    )


@blp.get("/households/<int:household_id>/postings.<any(csv, xlsx):file_format>")
@writes_when_read
@signin.signed_in(Role.admin, Role.official, Role.station)
def household_file(household_id: int, file_format: str):
    actor, period = signin.current_console_actor(), _period_argument()
    table = files.trail_table(db.session, actor, household_id, period)
    return exports.file_response(db.session, actor, table, file_format, request.remote_addr)


# --- approvals ------------------------------------------------------------------------------


def _approvals_page(**context):
    actor = signin.current_console_actor()
    runs, runs_total = payouts.list_runs(
        db.session, actor, {"status": RunStatus.proposed}, page=1, page_size=WAITING
    )
    context.setdefault("failed", None)
    line_counts = dict(
        db.session.execute(
            sa.select(PayoutLine.run_id, sa.func.count())
            .where(PayoutLine.run_id.in_([run.id for run in runs]))
            .group_by(PayoutLine.run_id)
        ).all()
    )
    return render_template(
        "console/approvals.html",
        runs=runs,
        line_counts=line_counts,
        runs_total=runs_total,
        pledges=pledges.awaiting_approval(db.session, actor, limit=WAITING),
        **context,
    )


@blp.get("/approvals")
@signin.signed_in(*OFFICIALS)
def approvals():
    return _approvals_page()


@blp.post("/approvals/<any(runs, pledges):kind>/<int:item_id>")
@signin.signed_in(*OFFICIALS)
def approve(kind: str, item_id: int):
    """Approve a payout run or a funded pledge: the services refuse the user who proposed it."""
    actor = signin.current_console_actor()
    try:
        if kind == "runs":
            payouts.approve_run(db.session, actor, item_id)
        else:
            pledge_funding.approve_pledge(db.session, actor, item_id)
    except DomainError as error:
        forms.refusal(error)  # a NotFound goes on to the 404 page
        page = _approvals_page(message=messages.chinese(error.detail), failed=(kind, item_id))
        return page, error.status
    return redirect(url_for("console.approvals", done=f"{kind}-{item_id}"))
