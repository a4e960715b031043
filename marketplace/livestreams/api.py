"""Livestream sessions: scheduling, going live, ending, the SKUs they feature at live prices.

Stations manage their own sessions, admins county-led ones (and any other); officials read the
sessions of their subtree. Anyone may read a scheduled or live session's public page by its
code.
"""

from flask import current_app, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.errors import NotFound, PayloadTooLarge, ValidationFailed, handle_domain_error
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.livestreams import importing, platform_products, pledges, results, service
from marketplace.livestreams.models import Platform, SessionState
from marketplace.livestreams.schemas import (
    FeaturedOut,
    FeatureIn,
    ImportFormIn,
    ImportOut,
    ImportQuery,
    ImportUploadIn,
    LayoutIn,
    LayoutOut,
    MoveIn,
    PlatformProductOut,
    PlatformProductQuery,
    PlatformProductsIn,
    PlatformProductsOut,
    PledgeIn,
    PledgeOut,
    PublicSessionOut,
    ResultsOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
    SessionQuery,
    SessionUpdateIn,
)
from marketplace.paging import paged

blp = Blueprint(
    "livestreams",
    __name__,
    description="Livestream sessions, their live prices, imported platform sales, pledges "
    "and results",
)

READERS = (Role.admin, Role.official, Role.station)
MANAGERS = (Role.admin, Role.station)
BEARER = [{"bearerAuth": []}]


def _detail(live_session):
    return service.with_featured(db.session, [live_session])[0]


@blp.route("/livestreams")
class Sessions(MethodView):
    @login_required(*READERS)
    @blp.arguments(SessionQuery, location="query")
    @blp.response(200, SessionOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Sessions you may see, latest scheduled first; filter by state, platform, organiser
        and scheduled start."""
        return paged(
            pagination_parameters, service.list_sessions, db.session, current_actor(), filters
        )

    @login_required(*MANAGERS)
    @blp.arguments(SessionIn)
    @blp.response(201, SessionDetailOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Schedule a session. A station organises its own; an admin names the station, or
        the region of a county-led session. Its code (generated unless given) is what buyers
        name at checkout."""
        return _detail(service.create_session(db.session, current_actor(), data))


@blp.route("/livestreams/<id:session_id>")
class SessionById(MethodView):
    @login_required(*READERS)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """A session with its featured SKUs and its history of states."""
        return _detail(service.get_session(db.session, current_actor(), session_id))

    @login_required(*MANAGERS)
    @blp.arguments(SessionUpdateIn)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER)
    def patch(self, data, session_id):
        """Change a session; its platform, room and schedule only while it is scheduled. Send
        the ``version`` you read (409 when it changed since)."""
        return _detail(service.update_session(db.session, current_actor(), session_id, data))


def _mover(target: SessionState, summary: str):
    @login_required(*MANAGERS)
    @blp.arguments(MoveIn)
    @blp.response(200, SessionDetailOut)
    @blp.doc(security=BEARER, summary=summary)
    def post(self, data, session_id):
        moved = service.move(db.session, current_actor(), session_id, target, reason=data["reason"])
        return _detail(moved)

    return post


@blp.route("/livestreams/<id:session_id>/start")
class StartSession(MethodView):
    post = _mover(
        SessionState.live,
        "Go live: the featured SKUs cost their live prices at checkout. Two sessions are "
        "never live in one room (409).",
    )


@blp.route("/livestreams/<id:session_id>/end")
class EndSession(MethodView):
    post = _mover(SessionState.ended, "End a live session: its live prices stop applying.")


@blp.route("/livestreams/<id:session_id>/cancel")
class CancelSession(MethodView):
    post = _mover(SessionState.cancelled, "Cancel a scheduled session.")


@blp.route("/livestreams/<id:session_id>/featured/<id:sku_id>")
class Featured(MethodView):
    @login_required(*MANAGERS)
    @blp.arguments(FeatureIn)
    @blp.response(200, FeaturedOut(many=True))
    @blp.doc(security=BEARER)
    def put(self, data, session_id, sku_id):
        """Feature a SKU at a live price (above 0, not above its catalog price), with an
        optional cap on the units sold at it; or change them (a cap below what was sold is a
        422). A station features its own SKUs; a county-led session those of its region's
        stations. Returns the session's featured SKUs."""
        return service.feature(db.session, current_actor(), session_id, sku_id, data)

    @login_required(*MANAGERS)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, session_id, sku_id):
        """Stop featuring a SKU that sold nothing at its live price."""
        service.unfeature(db.session, current_actor(), session_id, sku_id)


@blp.route("/live-sessions/<string:code>")
class PublicSession(MethodView):
    @blp.response(200, PublicSessionOut)
    def get(self, code):
        """A scheduled or live session's public page: what its viewers may order, at which
        price, and how many live-price units are left."""
        return service.public_session(db.session, code)


# --- platform exports -------------------------------------------------------------------------


@blp.before_request
def _allow_large_exports():
    # Exports are far larger than anything else uploaded; only their endpoint takes them.
    if request.endpoint == "livestreams.PlatformImports" and request.method == "POST":
        request.max_content_length = current_app.config["PLATFORM_IMPORT_MAX_BYTES"] + 64 * 1024


@blp.errorhandler(RequestEntityTooLarge)
def _export_too_large(error):
    limit = current_app.config["PLATFORM_IMPORT_MAX_BYTES"]
    return handle_domain_error(
        PayloadTooLarge(
            f"An upload may be at most {limit} bytes; import larger exports in parts (by "
            "date), or with `flask livestreams import`.",
            errors={"file": [f"larger than {limit} bytes"]},
        )
    )


@blp.route("/stations/<id:station_id>/platform-products")
class PlatformProducts(MethodView):
    @login_required(*READERS)
    @blp.arguments(PlatformProductQuery, location="query")
    @blp.response(200, PlatformProductOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, station_id, pagination_parameters):
        """The station's map of platform product ids to its SKUs."""
        return paged(
            pagination_parameters,
            platform_products.list_products,
            db.session,
            current_actor(),
            station_id,
            filters,
        )

    @login_required(*MANAGERS)
    @blp.arguments(PlatformProductsIn)
    @blp.response(200, PlatformProductsOut)
    @blp.doc(security=BEARER)
    def post(self, data, station_id):
        """Map platform product ids (抖店商品ID, 快手商品ID, 拼多多样式ID, 淘宝商家编码 …) to the
        station's SKUs, replacing earlier maps of the same ids; up to 1000 at once, all or
        nothing."""
        return platform_products.map_products(
            db.session, current_actor(), station_id, data["products"]
        )


@blp.route("/stations/<id:station_id>/platform-products/<string:platform>/<string:outside_id>")
class PlatformProductById(MethodView):
    @login_required(*MANAGERS)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, station_id, platform, outside_id):
        """Forget a product id's map (sales already imported keep their SKU)."""
        platform_products.unmap_product(
            db.session, current_actor(), station_id, _platform(platform), outside_id
        )


def _platform(text: str) -> Platform:
    try:
        return Platform(text)
    except ValueError:
        raise NotFound(f"No platform {text}.") from None


@blp.route("/stations/<id:station_id>/import-layouts")
class ImportLayouts(MethodView):
    @login_required(*READERS)
    @blp.response(200, LayoutOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, station_id):
        """The export layouts the station described."""
        return platform_products.list_layouts(db.session, current_actor(), station_id)


@blp.route("/stations/<id:station_id>/import-layouts/<string:name>")
class ImportLayoutByName(MethodView):
    @login_required(*MANAGERS)
    @blp.arguments(LayoutIn)
    @blp.response(200, LayoutOut)
    @blp.doc(security=BEARER)
    def put(self, data, station_id, name):
        """Describe an export layout we have no mapping for: which column holds each of our
        fields, and which of its values mean what. Name it at upload (``layout``)."""
        if not 1 <= len(name) <= 64:
            raise ValidationFailed({"name": ["1 to 64 characters"]})
        return platform_products.save_layout(db.session, current_actor(), station_id, name, data)


@blp.route("/stations/<id:station_id>/platform-imports")
class PlatformImports(MethodView):
    @login_required(*READERS)
    @blp.arguments(ImportQuery, location="query")
    @blp.response(200, ImportOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, station_id, pagination_parameters):
        """The station's uploads, latest first."""
        return paged(
            pagination_parameters,
            importing.list_imports,
            db.session,
            current_actor(),
            station_id,
            filters,
        )

    @login_required(*MANAGERS)
    @blp.arguments(ImportUploadIn, location="files")
    @blp.arguments(ImportFormIn, location="form")
    @blp.response(201, ImportOut)
    @blp.alt_response(200, schema=ImportOut, description="A dry run's report; nothing written.")
    @blp.doc(security=BEARER)
    def post(self, files, form, station_id):
        """Import a platform's order export (multipart: ``file``, Taobao's ``items``, and
        ``platform``, ``session_id``, ``layout``, ``dry_run``). Each paid row becomes a paid
        order of channel ``imported``, tied to its session; a row imported before only
        moves on and has new refunds applied. Rows that cannot be taken are listed in
        ``problems`` with their line; the rest import. The file as a whole unreadable (its
        encoding, its header) is a 422 naming ``file``; larger than
        PLATFORM_IMPORT_MAX_BYTES a 413."""
        upload = importing.Upload(
            platform=form["platform"],
            stream=files["file"].stream,
            filename=files["file"].filename,
            items=files["items"].stream if files.get("items") else None,
            layout_name=form["layout"],
            session_id=form["session_id"],
            dry_run=form["dry_run"],
        )
        report = importing.import_export(db.session, current_actor(), station_id, upload)
        return report, 200 if report.dry_run else 201


@blp.route("/platform-imports/<id:import_id>")
class PlatformImportById(MethodView):
    @login_required(*READERS)
    @blp.response(200, ImportOut)
    @blp.doc(security=BEARER)
    def get(self, import_id):
        """An upload's report: its counts and every problem kept, by line."""
        return importing.get_import(db.session, current_actor(), import_id)


# --- pledges ----------------------------------------------------------------------------------


@blp.route("/livestreams/<id:session_id>/pledges")
class SessionPledges(MethodView):
    @login_required(*READERS)
    @blp.response(200, PledgeOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """The session's pledges: what was promised, and how far it got (funded, disbursed)."""
        return pledges.list_pledges(db.session, current_actor(), session_id)

    @login_required(*MANAGERS)
    @blp.arguments(PledgeIn)
    @blp.response(201, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, data, session_id):
        """Record a pledge made in a scheduled or live session: ``per_household`` (an amount
        to each household named) or ``share_of_net`` (basis points of the session's net sales
        to a village's registered households), paid by a producer of the organiser from what
        it is owed, or by an outside payer. A producer owed less than a per-household pledge
        is a 409 with the figures. When the session ends the pledge becomes a fund."""
        return pledges.create_pledge(db.session, current_actor(), session_id, data)


@blp.route("/pledges/<id:pledge_id>")
class PledgeById(MethodView):
    @login_required(*READERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def get(self, pledge_id):
        """A pledge, its households and their amounts."""
        return pledges.get_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/fund")
class FundPledge(MethodView):
    @login_required(*MANAGERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Fund a pledge the session's end could not (its payer was owed too little then):
        the money moves into a new assistance fund and the disbursement is proposed, with you
        as its maker. 409 once funded, or while the payer is still owed too little."""
        return pledges.fund_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/approve")
class ApprovePledge(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Approve a funded pledge's disbursement: the households have the money. Not by its
        maker (403); once only (409)."""
        return pledges.approve_pledge(db.session, current_actor(), pledge_id)


@blp.route("/pledges/<id:pledge_id>/cancel")
class CancelPledge(MethodView):
    @login_required(*MANAGERS)
    @blp.response(200, PledgeOut)
    @blp.doc(security=BEARER)
    def post(self, pledge_id):
        """Withdraw a pledge not yet funded."""
        return pledges.cancel_pledge(db.session, current_actor(), pledge_id)


@blp.route("/livestreams/<id:session_id>/results")
class SessionResults(MethodView):
    @login_required(*READERS)
    @blp.response(200, ResultsOut)
    @blp.doc(security=BEARER)
    def get(self, session_id):
        """What the session did, to the fen: gross, refunds, net, orders, units and buyers, by
        SKU, by producer and by source (own checkout, each platform imported); the households
        that gained (the ledger's attribution on its lines, and its disbursed pledges); its
        pledges. Live while it runs, final once it ended. A station sees its own lines, an
        official those of their subtree."""
        return results.session_results(db.session, current_actor(), session_id)
