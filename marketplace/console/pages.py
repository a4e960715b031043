"""What every console page shares: the blueprint, signing in and out, the home page that
sends each role to its pages, error pages, the CSRF check on every form, template filters.

Pages are thin views over the services the API uses, with their scoping, so they show a user
exactly what the API would; out of scope is the services' NotFound, shown as a 404 page. A
refused form is shown again with the services' messages beside its fields, answered with the
error's status so the request cycle rolls back whatever the attempt wrote.
"""

import logging
from datetime import datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest, HTTPException

from marketplace.accounts.models import Role
from marketplace.clock import SHANGHAI
from marketplace.console import listing, messages, signin, words
from marketplace.errors import (
    CONSTRAINT_REFUSED,
    DATABASE_BUSY,
    STALE_WRITE,
    UNEXPECTED,
    VALUE_OUT_OF_RANGE,
    DomainError,
    NotAuthenticated,
    TooManyRequests,
)
from marketplace.extensions import api, db
from marketplace.regions import service as regions
from marketplace.regions.models import RegionLevel

logger = logging.getLogger(__name__)

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)


@blp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """Fen as yuan with two decimals and thousands separators: 1234567 -> 12,345.67."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


blp.add_app_template_filter(words.zh, "zh")


@blp.app_template_filter("percent_of_bp")
def percent_of_bp(basis_points: int | None) -> str:
    """Basis points as a percentage to one decimal, half up (away from zero), as the files
    show it: 1234 -> 12.3%, 1235 -> 12.4%."""
    if basis_points is None:
        return "—"
    sign = "-" if basis_points < 0 else ""
    whole, tenths = divmod((abs(int(basis_points)) + 5) // 10, 10)
    return f"{sign}{whole}.{tenths}%"


@blp.app_template_filter("moment")
def moment(value) -> str:
    """A stored UTC time as Beijing time, to the minute."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


@blp.context_processor
def _page_context():
    return {"actor": signin.current_console_actor(), "csrf_token": signin.csrf_token}


#: Pages whose form takes a large file, and the setting that caps it (every other request keeps
#: the app's MAX_CONTENT_LENGTH): set before the form is first read, by the token's check.
LARGE_UPLOADS: dict[str, str] = {}


@blp.before_request
def _forms_carry_the_csrf_token():
    if request.method == "POST":
        limit_key = LARGE_UPLOADS.get(request.endpoint)
        if limit_key is not None:
            # Room for the multipart envelope and the form's other fields.
            request.max_content_length = current_app.config[limit_key] + 64 * 1024
        signing_in = request.endpoint == "console.sign_in"
        if not signing_in and signin.current_console_actor() is None:
            return _to_sign_in()  # before the token's check, which an expired session fails
        try:
            signin.check_csrf()
        except BadRequest:
            if not signing_in:
                raise
            # A sign-in page left open past its session: the form again, with a fresh token.
            username, target = request.form.get("username", ""), request.form.get("next", "")
            return _refused_sign_in(username, target, "登录页面已过期，请重新输入密码登录。", 400)


@blp.after_request
def _kept_by_no_cache(response):
    """Pages name households and carry a form token: no shared cache or back-button copy may
    keep them after the user signs out. The stylesheet may be cached."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    if isinstance(error, NotAuthenticated):
        return _to_sign_in()
    # A refusal no form caught (a link's bad argument): its reasons, without the fields' names,
    # which are the schema's.
    reasons = [
        reason for each in messages.chinese_errors(error.errors or {}).values() for reason in each
    ]
    page, status = _error_page(
        error.status, messages.chinese(error.detail), reasons=list(dict.fromkeys(reasons))
    )
    if isinstance(error, TooManyRequests):
        return page, status, {"Retry-After": str(error.retry_after)}  # as the API's 429 says
    return page, status


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    # werkzeug's own descriptions are English; one a page gave (abort(403, description=...))
    # is already in Chinese.
    own = error.description if error.description != type(error).description else None
    if error.code == 413 and own is None and request.max_content_length:
        # The limit this request had (an upload form's own, else the app's), in whole megabytes.
        limit = max(1, request.max_content_length // (1024 * 1024))
        own = f"上传的内容超过允许的大小（最多约 {limit} MB），请拆分或压缩后再试。"
    return _error_page(error.code or 500, own)


@blp.app_errorhandler(404)
@blp.app_errorhandler(405)
def _unrouted(error: HTTPException):
    """A URL no route matches belongs to no blueprint, so the handlers above never see it:
    under /console it still gets a page, anywhere else the API's problem document."""
    if request.path.split("/", 2)[1] == blp.url_prefix.strip("/"):  # /console or /console/...
        return _http_error(error)
    return api.handle_http_exception(error)


#: The service's own failures, as the API answers them (``marketplace/errors.py``): the same
#: status and reason, said on a page.
_FAILURES = (
    (StaleDataError, 409, STALE_WRITE),
    (IntegrityError, 409, CONSTRAINT_REFUSED),
    (DataError, 422, VALUE_OUT_OF_RANGE),
    (OverflowError, 422, VALUE_OUT_OF_RANGE),
    (OperationalError, 503, DATABASE_BUSY),
)


@blp.errorhandler(Exception)
def _failure(error: Exception):
    """Anything else a page raised. The blueprint's handler comes before the app's, so the
    API's answers to these (problem documents) are given here as pages."""
    db.session.rollback()  # the page below may read (who is signed in) after a failed write
    for kind, status, because in _FAILURES:
        if isinstance(error, kind):
            logger.warning("console request failed: %r", error)
            return _error_page(status, messages.chinese(because()))
    if current_app.testing:
        raise error  # as the app does under test: the failing test shows its traceback
    logger.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return _error_page(500, messages.chinese(UNEXPECTED()), request_id=g.get("request_id"))


_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "找不到这个页面",
    405: "不能这样打开这个页面",
    409: "无法完成",
    413: "文件太大",
    422: "填写有误",
    429: "操作太频繁",
    500: "系统出错了",
    503: "系统繁忙",
}
#: What a page says when the error brought no words of its own.
_DETAILS = {
    400: "请求的内容不完整或格式不对，请返回上一页重试。",
    401: "请先登录。",
    403: "您的账号不能查看或操作这个页面。",
    404: "这个地址没有页面，或者您要找的记录不在您的管辖范围内。请检查地址，或从首页进入。",
    405: "这个页面不能这样打开，请从首页进入后再操作。",
    413: "上传的文件超过允许的大小。",
    429: "操作次数过多，请稍后再试。",
    503: "系统暂时繁忙，请稍后再试。",
}


def _error_page(status: int, detail: str | None, *, request_id: str | None = None, reasons=()):
    page = render_template(
        "console/error.html",
        status=status,
        title=_TITLES.get(status, "出错了"),
        detail=detail or _DETAILS.get(status),
        reasons=reasons,
        request_id=request_id,
        # A URL no route matched is outside the blueprint, whose context would name these.
        actor=signin.current_console_actor(),
        csrf_token=signin.csrf_token,
    )
    return page, status


def _to_sign_in():
    """Signed out meanwhile (the session expired, the token was revoked): sign in again and
    come back. A form's address answers no GET, so after a post it is the page that had it."""
    target = signin.here() if request.method == "GET" else _referring_console_page()
    return redirect(url_for("console.sign_in_page", next=target))


def _referring_console_page() -> str:
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return ""
    # The referrer's own path and query, as a local address (no scheme, host or fragment).
    path = referrer._replace(scheme="", netloc="", fragment="").geturl()
    return path if signin.safe_next(path) == path else ""


# --- signing in ---------------------------------------------------------------------------


@blp.get("/login")
def sign_in_page():
    if session.get("token") and signin.current_console_actor() is None:
        notice = "登录已过期，请重新登录。"
    else:
        notice = "请先登录。" if request.args.get("next") else None
    return render_template(
        "console/login.html", next=request.args.get("next", ""), error=None, notice=notice
    )


@blp.post("/login")
def sign_in():
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    if not username or not password:
        return _refused_sign_in(username, target, "请输入用户名和密码。", 422)
    try:
        signin.sign_in(username, password)
    except TooManyRequests as error:
        # As the API's 429 does: when to try again.
        headers = {"Retry-After": str(error.retry_after)}
        return _refused_sign_in(username, target, "尝试次数过多，请稍后再试。", 429, headers)
    except DomainError as error:
        return _refused_sign_in(username, target, "用户名或密码错误。", error.status)
    return redirect(signin.safe_next(target))


def _refused_sign_in(username: str, target: str, message: str, status: int, headers=None):
    page = render_template("console/login.html", next=target, error=message, username=username)
    return page, status, headers or {}


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
        query = request.args.get("q", "").strip()
        filters = {"level": RegionLevel.county, "q": query or None}
        counties, pager = listing.paged(regions.list_regions, db.session, filters)
        return render_template("console/counties.html", counties=counties, pager=pager, q=query)
    if actor.role is Role.station:
        return redirect(url_for("console.station_orders"))
    abort(403, description="控制台供官员和服务站使用；买家和采购单位请使用商城。")
