"""Sales on outside platforms: a station's map of their product ids to its SKUs, the layouts
of exports we have no mapping for, and the uploads of their order exports."""

from flask import url_for
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.http_api import Blueprint, large_uploads
from marketplace.jobs.schemas import JobOut
from marketplace.livestreams.models import Platform
from marketplace.paging import paged
from marketplace.platform_sales import import_jobs, importing, mapping
from marketplace.platform_sales.schemas import (
    ImportOut,
    ImportQuery,
    ImportUploadIn,
    LayoutIn,
    LayoutOut,
    PlatformProductOut,
    PlatformProductQuery,
    PlatformProductsIn,
    PlatformProductsOut,
)
from marketplace.reasons import reason

blp = Blueprint(
    "platform_sales",
    __name__,
    description="Sales on outside platforms (Douyin, Kuaishou, Pinduoduo, Taobao): product "
    "maps, export layouts and the uploads of their order exports",
)

READERS = (Role.admin, Role.official, Role.station)
MANAGERS = (Role.admin, Role.station)
BEARER = [{"bearerAuth": []}]

EXPORT_TOO_LARGE = reason(
    "platform_import.too_large",
    "An upload may be at most {max_bytes} bytes; import larger exports in parts (by date).",
)
FILE_TOO_LARGE = reason("platform_import.file_too_large", "larger than {max_bytes} bytes")
NO_SUCH_PLATFORM = reason("platform.no_such_platform", "No platform {platform}.")
LAYOUT_NAME_LENGTH = reason("import_layout.name_length", "1 to 64 characters")


# Exports are far larger than anything else uploaded; only their endpoint takes them.
large_uploads(
    blp,
    "platform_sales.PlatformImports",
    "PLATFORM_IMPORT_MAX_BYTES",
    EXPORT_TOO_LARGE,
    FILE_TOO_LARGE,
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
            mapping.list_products,
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
        return mapping.map_products(db.session, current_actor(), station_id, data["products"])


@blp.route("/stations/<id:station_id>/platform-products/<string:platform>/<string:outside_id>")
class PlatformProductById(MethodView):
    @login_required(*MANAGERS)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, station_id, platform, outside_id):
        """Forget a product id's map (sales already imported keep their SKU)."""
        mapping.unmap_product(
            db.session, current_actor(), station_id, _platform(platform), outside_id
        )


def _platform(text: str) -> Platform:
    try:
        return Platform(text)
    except ValueError:
        raise NotFound(NO_SUCH_PLATFORM(platform=text)) from None


@blp.route("/stations/<id:station_id>/import-layouts")
class ImportLayouts(MethodView):
    @login_required(*READERS)
    @blp.response(200, LayoutOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, station_id):
        """The export layouts the station described."""
        return mapping.list_layouts(db.session, current_actor(), station_id)


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
            raise ValidationFailed({"name": [LAYOUT_NAME_LENGTH()]})
        return mapping.save_layout(db.session, current_actor(), station_id, name, data)


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
    @blp.arguments(ImportUploadIn, location="multipart")
    @blp.response(
        202,
        JobOut,
        headers={"Location": {"description": "The job's link.", "schema": {"type": "string"}}},
    )
    @blp.doc(security=BEARER)
    def post(self, form, station_id):
        """Import a platform's order export (multipart: ``file``, Taobao's ``items``, and
        ``platform``, ``session_id``, ``layout``, ``dry_run``) as a job: 202 with the job's
        link in ``Location``; poll it. The file as a whole unreadable (its encoding, its
        header) is a 422 naming ``file`` before anything is queued; larger than
        PLATFORM_IMPORT_MAX_BYTES a 413. A worker imports it a batch at a time, each batch
        committed: each paid row becomes a paid order of channel ``imported``, tied to its
        session; a row imported before only moves on and has new refunds applied. The job's
        result links to the upload's record (its counts and problems by line) and, when a
        row had a problem, to ``failed_rows.csv``. A station's imports run one at a time, in
        the order they were uploaded. A dry run's job writes nothing: its report is in its
        result."""
        upload = importing.Upload(
            platform=form["platform"],
            stream=form["file"].stream,
            filename=form["file"].filename,
            items=form["items"].stream if form.get("items") else None,
            layout_name=form["layout"],
            session_id=form["session_id"],
            dry_run=form["dry_run"],
        )
        job = import_jobs.start_platform_import(db.session, current_actor(), station_id, upload)
        return job, 202, {"Location": url_for("jobs.JobById", job_id=job.id)}


@blp.route("/platform-imports/<id:import_id>")
class PlatformImportById(MethodView):
    @login_required(*READERS)
    @blp.response(200, ImportOut)
    @blp.doc(security=BEARER)
    def get(self, import_id):
        """An upload's report: its counts and every problem kept, by line."""
        return importing.get_import(db.session, current_actor(), import_id)
