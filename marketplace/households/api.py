from flask import current_app, url_for
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.errors import DomainError, PayloadTooLarge, ValidationFailed
from marketplace.extensions import db
from marketplace.households import registry_jobs, service, status
from marketplace.households.personal_data import shows_personal_numbers
from marketplace.households.schemas import (
    HouseholdIn,
    HouseholdLookupIn,
    HouseholdOut,
    HouseholdQuery,
    HouseholdRegisteredOut,
    HouseholdUpdateIn,
    PayoutAccountIn,
    PayoutAccountOut,
    RegistryImportIn,
    StatusChangeIn,
    StatusChangeOut,
)
from marketplace.http_api import Blueprint, large_uploads
from marketplace.jobs.schemas import JobOut
from marketplace.paging import paged
from marketplace.reasons import reason

blp = Blueprint(
    "households",
    __name__,
    description="The household registry (建档立卡户): status history and one-card payout "
    "accounts. ID and card numbers are masked for everyone but admins.",
)

ID_NUMBER_IN_URL = reason(
    "household.id_number_in_url",
    "An ID number is never sent in a URL (proxies and access logs keep them): POST it as "
    "id_number in a JSON body to /api/v1/households/lookup.",
)

#: Buyers and units have no business in the registry at all: 403 by role.
READERS = (Role.admin, Role.station, Role.official)
#: Officials read their subtree but never edit the registry.
WRITERS = (Role.admin, Role.station)
SECURITY = [{"bearerAuth": []}]


@blp.route("/households")
class Households(MethodView):
    @login_required(*READERS)
    @shows_personal_numbers
    @blp.arguments(HouseholdQuery, location="query")
    @blp.response(200, HouseholdOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, filters, pagination_parameters):
        """List the households in your scope. A head is found by exact ID number with
        ``POST /households/lookup`` (an ``id_number`` here is a 400: URLs end up in logs)."""
        if "id_number" in filters:
            raise DomainError(ID_NUMBER_IN_URL(), errors={"id_number": [ID_NUMBER_IN_URL()]})
        return paged(
            pagination_parameters, service.list_households, db.session, current_actor(), filters
        )

    @login_required(*WRITERS)
    @shows_personal_numbers
    @blp.arguments(HouseholdIn)
    @blp.response(201, HouseholdRegisteredOut)
    @blp.doc(security=SECURITY)
    def post(self, data):
        """Register a household with its initial status. A station registers in its own
        village only (otherwise 422 on ``village_id``). An initial status dated in a month
        already closed is kept as dated, but the closed months' reports stay as they were
        signed off: ``reported_from`` says from which month the household is counted."""
        return service.create_household(db.session, current_actor(), data)


@blp.route("/households/lookup")
class HouseholdLookup(MethodView):
    @login_required(*READERS)
    @shows_personal_numbers
    @blp.arguments(HouseholdLookupIn)
    @blp.response(200, HouseholdOut(many=True))
    @blp.doc(security=SECURITY)
    def post(self, data):
        """The households in your scope whose head has this national ID number (none, or
        one): the number travels in the body, never in a URL. Reads nothing it writes."""
        found, _ = service.list_households(
            db.session, current_actor(), {"id_number": data["id_number"]}, page=1, page_size=10
        )
        return found


@blp.route("/households/<id:household_id>")
class HouseholdById(MethodView):
    @login_required(*READERS)
    @shows_personal_numbers
    @blp.response(200, HouseholdOut)
    @blp.doc(security=SECURITY)
    def get(self, household_id):
        return service.get_household(db.session, current_actor(), household_id)

    @login_required(*WRITERS)
    @shows_personal_numbers
    @blp.arguments(HouseholdUpdateIn)
    @blp.response(200, HouseholdOut)
    @blp.doc(security=SECURITY)
    def patch(self, data, household_id):
        """Edit a household; send the ``version`` you read (409 when it changed since)."""
        return service.update_household(db.session, current_actor(), household_id, data)

    @login_required(Role.admin)
    @shows_personal_numbers
    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self, household_id):
        """Remove a household (admins); 409 while producers or memberships reference it."""
        service.delete_household(db.session, current_actor(), household_id)


@blp.route("/households/<id:household_id>/status-history")
class StatusHistory(MethodView):
    @login_required(*READERS)
    @shows_personal_numbers
    @blp.response(200, StatusChangeOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, household_id, pagination_parameters):
        """The household's status changes, oldest effective date first."""
        return paged(
            pagination_parameters,
            status.list_status_history,
            db.session,
            current_actor(),
            household_id,
        )


@blp.route("/households/<id:household_id>/status-changes")
class StatusChanges(MethodView):
    @login_required(*WRITERS)
    @shows_personal_numbers
    @blp.arguments(StatusChangeIn)
    @blp.response(201, StatusChangeOut)
    @blp.doc(security=SECURITY)
    def post(self, data, household_id):
        """Record a dated status change, back-dated or future. The household's current
        status follows the latest change effective today (Asia/Shanghai). A change dated in a
        month closed for the household's village is refused (409: the problem's ``close``
        names the close and ``first_open_month`` the earliest month it may be dated in)."""
        return status.record_status_change(db.session, current_actor(), household_id, data)


@blp.route("/households/<id:household_id>/payout-account")
class PayoutAccountOfHousehold(MethodView):
    @login_required(*READERS)
    @shows_personal_numbers
    @blp.response(200, PayoutAccountOut)
    @blp.doc(security=SECURITY)
    def get(self, household_id):
        """The household's one-card account (惠民惠农一卡通)."""
        return service.get_payout_account(db.session, current_actor(), household_id)

    @login_required(*WRITERS)
    @shows_personal_numbers
    @blp.arguments(PayoutAccountIn)
    @blp.response(200, PayoutAccountOut)
    @blp.doc(security=SECURITY)
    def put(self, data, household_id):
        """Set or replace the payout account. The holder may be a relative of the head; a
        holder who is the head (本人) must carry the head's name and ID number."""
        return service.put_payout_account(db.session, current_actor(), household_id, data)


REGISTRY_TOO_LARGE = reason(
    "registry_import.too_large", "A registry file to import is at most {max_bytes} bytes."
)
FILE_TOO_LARGE = reason("registry_import.file_too_large", "larger than {max_bytes} bytes")
FILE_EMPTY = reason("registry_import.file_empty", "empty")


# Registry files are far larger than anything else uploaded here; only imports take them.
large_uploads(
    blp,
    "households.RegistryImports",
    "REGISTRY_IMPORT_MAX_BYTES",
    REGISTRY_TOO_LARGE,
    FILE_TOO_LARGE,
)


@blp.route("/households/imports")
class RegistryImports(MethodView):
    @login_required(Role.admin, Role.official)
    @blp.arguments(RegistryImportIn, location="multipart")
    @blp.response(
        202,
        JobOut,
        headers={"Location": {"description": "The job's link.", "schema": {"type": "string"}}},
    )
    @blp.doc(security=SECURITY)
    def post(self, form):
        """Import a registry CSV file as a job: 202 with the job's link in ``Location``; poll
        it. A worker validates every row (an official may name villages of their region only)
        and imports all of them or none; the rows it refuses are the job's
        ``failed_rows.csv``. Larger than REGISTRY_IMPORT_MAX_BYTES is a 413."""
        limit = current_app.config["REGISTRY_IMPORT_MAX_BYTES"]
        data = form["file"].stream.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(
                REGISTRY_TOO_LARGE(max_bytes=limit),
                errors={"file": [FILE_TOO_LARGE(max_bytes=limit)]},
            )
        if not data:
            raise ValidationFailed({"file": [FILE_EMPTY()]})
        job = registry_jobs.start_registry_import(
            db.session,
            current_actor(),
            data,
            dry_run=form["dry_run"],
            skip_existing=form["skip_existing"],
        )
        location = url_for("jobs.JobById", job_id=job.id)
        return job, 202, {"Location": location}
