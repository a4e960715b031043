"""What every console page shares: the blueprint, signing in and out, the home page that
sends each role to its pages, error pages, the CSRF check on every form, template filters.

Pages are thin views over the services the API uses, with their scoping, so they show a user
exactly what the API would; out of scope is the services' NotFound, shown as a 404 page. A
refused form is shown again with the services' messages beside its fields, answered with the
error's status so the request cycle rolls back whatever the attempt wrote.
"""

from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from marketplace.accounts.models import Role
from marketplace.clock import SHANGHAI
from marketplace.console import messages, signin, words
from marketplace.errors import DomainError, TooManyRequests
from marketplace.extensions import db
from marketplace.regions import service as regions
from marketplace.regions.models import RegionLevel

#: an admin's list of counties (a deployment serves a handful)
COUNTIES_LISTED = 100

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
        signin.check_csrf()


@blp.after_request
def _kept_by_no_cache(response):
    """Pages name households and carry a form token: no shared cache or back-button copy may
    keep them after the user signs out. The stylesheet may be cached."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    return _error_page(error.status, messages.chinese(error.detail))


@blp.errorhandler(400)
@blp.errorhandler(403)
@blp.errorhandler(404)
@blp.errorhandler(413)
def _http_error(error):
    if error.code == 413:
        return _error_page(413, "上传的文件超过允许的大小。")
    return _error_page(error.code, error.description)


def _error_page(status: int, detail: str | None):
    titles = {
        400: "请求有误",
        403: "没有权限",
        404: "找不到这个页面",
        409: "无法完成",
        413: "文件太大",
    }
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
        counties, _ = regions.list_regions(
            db.session, {"level": RegionLevel.county}, page=1, page_size=COUNTIES_LISTED
        )
        return render_template("console/counties.html", counties=counties)
    if actor.role is Role.station:
        return redirect(url_for("console.station_orders"))
    abort(403, description="控制台供官员和服务站使用；买家和采购单位请使用商城。")
