"""The console's pages: thin views over the services the API uses, with their scoping.

A page reads through the same functions as the matching API endpoint (``income_report``,
``household_trail``, ``close_month``, the report files...), so it shows a user exactly what the
API would; a region or household out of scope is the services' NotFound, shown as a 404 page.
A refused form is shown again with the services' messages beside its fields, answered with
the error's status so the request cycle rolls back whatever the attempt wrote.
"""

from datetime import datetime, timedelta

from flask import Blueprint, abort, redirect, render_template, request, url_for

from marketplace.accounts.models import Role
from marketplace.clock import SHANGHAI, shanghai_today
from marketplace.console import charts, signin
from marketplace.errors import DomainError, NotFound
from marketplace.extensions import db
from marketplace.periods import Period, month_of, parse_period
from marketplace.regions.models import Region, RegionLevel
from marketplace.reports import assistance, channels, closing, exports, files, income, trails
from marketplace.reports.reading import report_session

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)

OFFICIALS = (Role.admin, Role.official)
#: how many months the trend chart shows, ending with the period's last month
TREND_MONTHS = 12
COVERAGE_LISTED = 50
TRAIL_PAGE = 100
MAX_PAGE = 100_000


@blp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """Fen as yuan with two decimals and thousands separators: 1234567 -> 12,345.67."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


@blp.app_template_filter("moment")
def moment(value) -> str:
    """A stored UTC time as Beijing time, to the minute."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


@blp.context_processor
def _page_context():
    return {"actor": signin.current_console_actor(), "csrf_token": signin.csrf_token}


@blp.before_request
def _forms_carry_the_csrf_token():
    if request.method == "POST":
        signin.check_csrf()


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    return _error_page(error.status, error.detail)


@blp.errorhandler(400)
@blp.errorhandler(403)
@blp.errorhandler(404)
def _http_error(error):
    return _error_page(error.code, error.description)


def _error_page(status: int, detail: str | None):
    titles = {400: "请求有误", 403: "没有权限", 404: "找不到这个页面", 409: "无法完成"}
    return (
        render_template(
            "console/error.html", status=status, title=titles.get(status, "出错了"), detail=detail
        ),
        status,
    )


# --- signing in ---------------------------------------------------------------------------


@blp.get("/login")
def sign_in_page():
    return render_template("console/login.html", next=request.args.get("next", ""), error=None)


@blp.post("/login")
def sign_in():
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    if not username or not password:
        return _refused_sign_in(username, target, "请输入用户名和密码。", 422)
    try:
        signin.sign_in(username, password)
    except DomainError as error:
        message = "用户名或密码错误。" if error.status == 401 else "尝试次数过多，请稍后再试。"
        return _refused_sign_in(username, target, message, error.status)
    return redirect(signin.safe_next(target))


def _refused_sign_in(username: str, target: str, message: str, status: int):
    page = render_template("console/login.html", next=target, error=message, username=username)
    return page, status


@blp.post("/logout")
def sign_out():
    signin.sign_out()
    return redirect(url_for("console.sign_in_page"))


@blp.get("/")
@signin.signed_in()
def home():
    actor = signin.current_console_actor()
    if actor.role is Role.official:
        return redirect(url_for("console.region", region_id=actor.region_id))
    if actor.role is Role.admin:
        counties = (
            db.session.execute(
                db.select(Region).where(Region.level == RegionLevel.county).order_by(Region.code)
            )
            .scalars()
            .all()
        )
        return render_template("console/counties.html", counties=counties)
    abort(403, description="控制台供官员使用；服务站的页面在建设中，请先使用接口。")


# --- officials: a region's month ----------------------------------------------------------


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
        "not_reached": income.coverage(
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
    }
    return render_template("console/region.html", **context)


def _ancestors(session, actor, region_id: int) -> list[Region]:
    """The path above the region that the actor may open (their own region at most)."""
    region = session.get(Region, region_id)
    ids = [int(part) for part in region.path.strip("/").split("/")][:-1]
    above = session.execute(db.select(Region).where(Region.id.in_(ids))).scalars().all()
    allowed = actor.region_path or "/"
    return [r for r in sorted(above, key=lambda r: len(r.path)) if r.path.startswith(allowed)]


def _closable(period: Period, report: dict) -> bool:
    return period.kind == "month" and report["closed"] is None and period.end < shanghai_today()


@blp.get("/regions/<int:region_id>/<any(income, households):kind>.<any(csv, xlsx):file_format>")
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
    return render_template("console/close.html", report=report, month=month, error=None)


@blp.post("/regions/<int:region_id>/close")
@signin.signed_in(*OFFICIALS)
def close(region_id: int):
    actor = signin.current_console_actor()
    month = _month_argument(request.form.get("month"))
    try:
        closing.close_month(db.session, actor, region_id, month)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        report = income.income_report(db.session, actor, region_id, month)
        page = render_template("console/close.html", report=report, month=month, error=error)
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
