"""Stations, producers, co-operative memberships and buying units.

Who may call what is decided here by role; which rows a caller reaches is decided by
``producers/scoping.py`` inside the services (outside one's scope is a 404). Officials only read.
"""

from flask import request
from flask.views import MethodView

from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.accounts.schemas import UserOut
from marketplace.extensions import db
from marketplace.households.personal_data import shows_personal_numbers
from marketplace.http_api import Blueprint
from marketplace.paging import paged
from marketplace.producers import memberships, payout_accounts, service, stations, units
from marketplace.producers.schemas import (
    MembershipChangeIn,
    MembershipIn,
    MembershipOut,
    MembershipQuery,
    PairingIn,
    PairingOut,
    ProducerIn,
    ProducerOut,
    ProducerPayoutAccountChangeOut,
    ProducerPayoutAccountIn,
    ProducerPayoutAccountOut,
    ProducerQuery,
    ProducerUpdateIn,
    QuotaIn,
    QuotaOut,
    StationIn,
    StationOut,
    StationQuery,
    StationUpdateIn,
    UnitIn,
    UnitOut,
    UnitQuery,
    UnitUpdateIn,
)

blp = Blueprint(
    "producers", __name__, description="Stations, producers, co-operatives and buying units"
)

STAFF = (Role.admin, Role.official, Role.station)
UNIT_READERS = (Role.admin, Role.official, Role.unit)
BEARER = [{"bearerAuth": []}]


# --- stations --------------------------------------------------------------------------------


@blp.route("/stations")
class Stations(MethodView):
    @login_required(*STAFF)
    @blp.arguments(StationQuery, location="query")
    @blp.response(200, StationOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """List stations: admins all, officials their subtree's, a station user its own."""
        return paged(
            pagination_parameters, stations.list_stations, db.session, current_actor(), filters
        )

    @login_required(Role.admin)
    @blp.arguments(StationIn)
    @blp.response(201, StationOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Open a station in a village (admins)."""
        return stations.create_station(db.session, current_actor(), data)


@blp.route("/stations/<id:station_id>")
class StationById(MethodView):
    @login_required(*STAFF)
    @blp.response(200, StationOut)
    @blp.doc(security=BEARER)
    def get(self, station_id):
        return stations.get_station(db.session, current_actor(), station_id)

    @login_required(Role.admin, Role.station)
    @blp.arguments(StationUpdateIn)
    @blp.response(200, StationOut)
    @blp.doc(security=BEARER)
    def patch(self, data, station_id):
        """Change a station (admins); its own operators may change its address and phone."""
        return stations.update_station(db.session, current_actor(), station_id, data)


@blp.route("/stations/<id:station_id>/operators")
class StationOperators(MethodView):
    @login_required(*STAFF)
    @blp.response(200, UserOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, station_id, pagination_parameters):
        """The users who operate the station (admins create them through /users)."""
        return paged(
            pagination_parameters, stations.list_operators, db.session, current_actor(), station_id
        )


# --- producers -------------------------------------------------------------------------------


@blp.route("/producers")
class Producers(MethodView):
    @login_required(*STAFF)
    @blp.arguments(ProducerQuery, location="query")
    @blp.response(200, ProducerOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """List producers in scope; filter by kind, region subtree (``within``), station, name."""
        return paged(
            pagination_parameters, service.list_producers, db.session, current_actor(), filters
        )

    @login_required(Role.admin, Role.station)
    @blp.arguments(ProducerIn)
    @blp.response(201, ProducerOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Register a producer.

        A station user registers it for its own station; an admin names ``station_id``. The
        producer must lie within the managing station's county. A household (``household_id``)
        sells from its own village under its head's name unless ``name`` is given, and only
        once; a co-operative (in a village) or an enterprise (any level) needs a valid, unique
        credit code.
        """
        return service.create_producer(db.session, current_actor(), data)


@blp.route("/producers/<id:producer_id>")
class ProducerById(MethodView):
    @login_required(*STAFF)
    @blp.response(200, ProducerOut)
    @blp.doc(security=BEARER)
    def get(self, producer_id):
        return service.get_producer(db.session, current_actor(), producer_id)

    @login_required(Role.admin, Role.station)
    @blp.arguments(ProducerUpdateIn)
    @blp.response(200, ProducerOut)
    @blp.doc(security=BEARER)
    def patch(self, data, producer_id):
        """Change a producer; only admins move it to another station."""
        return service.update_producer(db.session, current_actor(), producer_id, data)


@blp.route("/producers/<id:producer_id>/payout-account")
class ProducerPayoutAccountView(MethodView):
    @login_required(*STAFF)
    @shows_personal_numbers
    @blp.response(200, ProducerPayoutAccountOut)
    @blp.doc(security=BEARER)
    def get(self, producer_id):
        """The co-operative's or enterprise's payout account (its number masked but for
        admins)."""
        return payout_accounts.get_account(db.session, current_actor(), producer_id)

    @login_required(Role.admin)
    @shows_personal_numbers
    @blp.arguments(ProducerPayoutAccountIn)
    @blp.response(200, ProducerPayoutAccountOut)
    @blp.doc(security=BEARER)
    def put(self, data, producer_id):
        """Set or replace the payout account (admins only; every change is kept, see
        ``/changes``). Its payout lines then go into the bank's batch file and are settled
        from the bank's return, matched on the producer's credit code and this number."""
        return payout_accounts.put_account(
            db.session, current_actor(), producer_id, data, remote_addr=request.remote_addr
        )


@blp.route("/producers/<id:producer_id>/payout-account/changes")
class ProducerPayoutAccountChanges(MethodView):
    @login_required(Role.admin)
    @blp.response(200, ProducerPayoutAccountChangeOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, producer_id):
        """Every setting of the payout account, latest first: who, when, from where, and the
        account before and after (masked)."""
        return payout_accounts.changes(db.session, current_actor(), producer_id)


@blp.route("/producers/<id:producer_id>/members")
class CooperativeMembers(MethodView):
    @login_required(*STAFF)
    @blp.arguments(MembershipQuery, location="query")
    @blp.response(200, MembershipOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, producer_id, pagination_parameters):
        """A co-operative's memberships: every period, or those in force ``on`` one day."""
        return paged(
            pagination_parameters,
            memberships.list_members,
            db.session,
            current_actor(),
            producer_id,
            filters,
        )

    @login_required(Role.admin, Role.station)
    @blp.arguments(MembershipIn)
    @blp.response(201, MembershipOut)
    @blp.doc(security=BEARER)
    def post(self, data, producer_id):
        """A household of the co-operative's county joins it with a number of shares."""
        return memberships.add_member(db.session, current_actor(), producer_id, data)


@blp.route("/producers/<id:producer_id>/members/<id:membership_id>")
class CooperativeMember(MethodView):
    @login_required(Role.admin, Role.station)
    @blp.arguments(MembershipChangeIn)
    @blp.response(200, MembershipOut)
    @blp.doc(security=BEARER)
    def patch(self, data, producer_id, membership_id):
        """End a membership (``left_on``) or change its shares from ``effective_from``.

        A share change never rewrites history: the membership ends the day before
        ``effective_from`` and a new one starts then; the response is the new one.
        """
        return memberships.change_member(
            db.session, current_actor(), producer_id, membership_id, data
        )


# --- buying units ----------------------------------------------------------------------------


@blp.route("/units")
class Units(MethodView):
    @login_required(*UNIT_READERS)
    @blp.arguments(UnitQuery, location="query")
    @blp.response(200, UnitOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """List buying units: admins all, officials those seated in or paired with their
        subtree, a unit's users their own."""
        return paged(pagination_parameters, units.list_units, db.session, current_actor(), filters)

    @login_required(Role.admin)
    @blp.arguments(UnitIn)
    @blp.response(201, UnitOut)
    @blp.doc(security=BEARER)
    def post(self, data):
        """Register a buying unit (admins)."""
        return units.create_unit(db.session, current_actor(), data)


@blp.route("/units/<id:unit_id>")
class UnitById(MethodView):
    @login_required(*UNIT_READERS)
    @blp.response(200, UnitOut)
    @blp.doc(security=BEARER)
    def get(self, unit_id):
        return units.get_unit(db.session, current_actor(), unit_id)

    @login_required(Role.admin, Role.unit)
    @blp.arguments(UnitUpdateIn)
    @blp.response(200, UnitOut)
    @blp.doc(security=BEARER)
    def patch(self, data, unit_id):
        """Change a unit (admins); its own users may change its contact details."""
        return units.update_unit(db.session, current_actor(), unit_id, data)


@blp.route("/units/<id:unit_id>/users")
class UnitUsers(MethodView):
    @login_required(*UNIT_READERS)
    @blp.response(200, UserOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, unit_id, pagination_parameters):
        """The users acting for the unit (admins create them through /users)."""
        return paged(
            pagination_parameters, units.list_unit_users, db.session, current_actor(), unit_id
        )


@blp.route("/units/<id:unit_id>/pairings")
class UnitPairings(MethodView):
    @login_required(*UNIT_READERS)
    @blp.response(200, PairingOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, unit_id, pagination_parameters):
        """The villages the unit is paired with (结对帮扶)."""
        return paged(
            pagination_parameters, units.list_pairings, db.session, current_actor(), unit_id
        )

    @login_required(Role.admin)
    @blp.arguments(PairingIn)
    @blp.response(201, PairingOut)
    @blp.doc(security=BEARER)
    def post(self, data, unit_id):
        """Pair the unit with a village (admins)."""
        return units.add_pairing(db.session, current_actor(), unit_id, data)


@blp.route("/units/<id:unit_id>/pairings/<id:pairing_id>")
class UnitPairing(MethodView):
    @login_required(Role.admin)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, unit_id, pairing_id):
        """End a pairing (admins)."""
        units.remove_pairing(db.session, current_actor(), unit_id, pairing_id)


@blp.route("/units/<id:unit_id>/quotas")
class UnitQuotas(MethodView):
    @login_required(*UNIT_READERS)
    @blp.response(200, QuotaOut(many=True))
    @blp.paginate()
    @blp.doc(security=BEARER)
    def get(self, unit_id, pagination_parameters):
        """The unit's yearly purchase quotas, by year."""
        return paged(pagination_parameters, units.list_quotas, db.session, current_actor(), unit_id)


@blp.route("/units/<id:unit_id>/quotas/<int(min=1000, max=9999):year>")
class UnitQuota(MethodView):
    @login_required(Role.admin)
    @blp.arguments(QuotaIn)
    @blp.response(200, QuotaOut)
    @blp.doc(security=BEARER)
    def put(self, data, unit_id, year):
        """Set the unit's purchase quota for a year, in fen (admins)."""
        return units.set_quota(db.session, current_actor(), unit_id, year, data)
