from flask.views import MethodView

from marketplace.accounts.auth import login_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.paging import paged
from marketplace.regions import service
from marketplace.regions.schemas import RegionIn, RegionOut, RegionQuery

blp = Blueprint("regions", __name__, description="County, township and village tree")


@blp.route("/regions")
class Regions(MethodView):
    @blp.arguments(RegionQuery, location="query")
    @blp.response(200, RegionOut(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List regions, in tree order; filter by level, parent or subtree (``within``)."""
        return paged(pagination_parameters, service.list_regions, db.session, filters)

    @login_required(Role.admin)
    @blp.arguments(RegionIn)
    @blp.response(201, RegionOut)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, data):
        """Add a region under ``parent_id`` (none: a county). Its level follows the parent's."""
        return service.create_region(db.session, data)


@blp.route("/regions/<id:region_id>")
class RegionById(MethodView):
    @blp.response(200, RegionOut)
    def get(self, region_id):
        return service.get_region(db.session, region_id)
