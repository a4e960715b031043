import functools

from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.households import service
from marketplace.households.schemas import (
    HouseholdIn,
    HouseholdOut,
    HouseholdQuery,
    HouseholdUpdateIn,
    PayoutAccountIn,
    PayoutAccountOut,
    StatusChangeIn,
    StatusChangeOut,
    personal_numbers_revealed,
)
from marketplace.http_api import Blueprint
from marketplace.paging import paged

blp = Blueprint(
    "households",
    __name__,
    description="The household registry (建档立卡户): status history and one-card payout "
    "accounts. ID and card numbers are masked for everyone but admins.",
)

#: Buyers and units have no business in the registry at all: 403 by role.
READERS = (Role.admin, Role.station, Role.official)
#: Officials read their subtree but never edit the registry.
WRITERS = (Role.admin, Role.station)
SECURITY = [{"bearerAuth": []}]


def registry_view(*roles: Role):
    """``login_required(*roles)``, and the response shows full ID and card numbers only to the
    actors the registry service allows."""

    def decorate(view):
        @functools.wraps(view)
        def serialized_for_actor(*args, **kwargs):
            reveal = service.may_see_personal_numbers(current_actor())
            with personal_numbers_revealed(reveal):
                return view(*args, **kwargs)

        return login_required(*roles)(serialized_for_actor)

    return decorate


@blp.route("/households")
class Households(MethodView):
    @registry_view(*READERS)
    @blp.arguments(HouseholdQuery, location="query")
    @blp.response(200, HouseholdOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, filters, pagination_parameters):
        """List the households in your scope; ``id_number`` finds a head by exact ID."""
        return paged(pagination_parameters, service.list_households, filters)

    @registry_view(*WRITERS)
    @blp.arguments(HouseholdIn)
    @blp.response(201, HouseholdOut)
    @blp.doc(security=SECURITY)
    def post(self, data):
        """Register a household with its initial status. A station registers in its own
        village only (otherwise 422 on ``village_id``)."""
        return service.create_household(db.session, current_actor(), data)


@blp.route("/households/<int:household_id>")
class HouseholdById(MethodView):
    @registry_view(*READERS)
    @blp.response(200, HouseholdOut)
    @blp.doc(security=SECURITY)
    def get(self, household_id):
        return service.get_household(db.session, current_actor(), household_id)

    @registry_view(*WRITERS)
    @blp.arguments(HouseholdUpdateIn)
    @blp.response(200, HouseholdOut)
    @blp.doc(security=SECURITY)
    def patch(self, data, household_id):
        """Edit a household; send the ``version`` you read (409 when it changed since)."""
        return service.update_household(db.session, current_actor(), household_id, data)

    @registry_view(Role.admin)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self, household_id):
        """Remove a household (admins); 409 while producers or memberships reference it."""
        service.delete_household(db.session, current_actor(), household_id)


@blp.route("/households/<int:household_id>/status-history")
class StatusHistory(MethodView):
    @registry_view(*READERS)
    @blp.response(200, StatusChangeOut(many=True))
    @blp.paginate()
    @blp.doc(security=SECURITY)
    def get(self, household_id, pagination_parameters):
        """The household's status changes, oldest effective date first."""
        return paged(pagination_parameters, service.list_status_history, household_id)


@blp.route("/households/<int:household_id>/status-changes")
class StatusChanges(MethodView):
    @registry_view(*WRITERS)
    @blp.arguments(StatusChangeIn)
    @blp.response(201, StatusChangeOut)
    @blp.doc(security=SECURITY)
    def post(self, data, household_id):
        """Record a dated status change, back-dated or future. The household's current
        status follows the latest change effective today (Asia/Shanghai)."""
        return service.record_status_change(db.session, current_actor(), household_id, data)


@blp.route("/households/<int:household_id>/payout-account")
class PayoutAccountOfHousehold(MethodView):
    @registry_view(*READERS)
    @blp.response(200, PayoutAccountOut)
    @blp.doc(security=SECURITY)
    def get(self, household_id):
        """The household's one-card account (惠民惠农一卡通)."""
        return service.get_payout_account(db.session, current_actor(), household_id)

    @registry_view(*WRITERS)
    @blp.arguments(PayoutAccountIn)
    @blp.response(200, PayoutAccountOut)
    @blp.doc(security=SECURITY)
    def put(self, data, household_id):
        """Set or replace the payout account. The holder may be a relative of the head; a
        holder who is the head (本人) must carry the head's name and ID number."""
        return service.put_payout_account(db.session, current_actor(), household_id, data)
