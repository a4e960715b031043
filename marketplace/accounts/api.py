from flask import current_app, request
from flask.views import MethodView

from marketplace.accounts import service
from marketplace.accounts.auth import current_actor, login_required
from marketplace.accounts.models import Role
from marketplace.accounts.schemas import (
    LoginIn,
    TokenOut,
    UserIn,
    UserOut,
    UserQuery,
    UserUpdateIn,
)
from marketplace.extensions import db
from marketplace.http_api import Blueprint
from marketplace.paging import paged

blp = Blueprint("accounts", __name__, description="Logins, tokens and users")


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @blp.arguments(LoginIn)
    @blp.response(201, TokenOut)
    @blp.doc(responses={401: "UNAUTHORIZED", 429: "TOO_MANY_REQUESTS"})
    def post(self, credentials):
        """Log in: exchange a username and password for a bearer token.

        Repeated failures are throttled (429 with Retry-After): for one username from one
        client address; and, from addresses the user has not logged in from before, for one
        username or one address over many attempts.
        """
        config = current_app.config
        row, token = service.login(
            db.session,
            credentials["username"],
            credentials["password"],
            remote_addr=request.remote_addr or "unknown",
            lifetime=config["TOKEN_LIFETIME"],
            limits=service.LoginLimits.from_config(config),
        )
        token_out = {"id": row.id, "token": token, "expires_at": row.expires_at, "user": row.user}
        # The token is a secret: no cache along the way may keep the response.
        return token_out, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blp.route("/auth/tokens/current")
class CurrentToken(MethodView):
    @login_required()
    @blp.response(204)
    @blp.doc(security=[{"bearerAuth": []}])
    def delete(self):
        """Log out: revoke the token this request carries."""
        _, _, token = request.headers["Authorization"].partition(" ")
        service.revoke_presented_token(db.session, token.strip())


@blp.route("/auth/tokens/<id:token_id>")
class TokenById(MethodView):
    @login_required()
    @blp.response(204)
    @blp.doc(security=[{"bearerAuth": []}])
    def delete(self, token_id):
        """Revoke a token by id: your own, or anyone's for an admin."""
        service.revoke_token(db.session, current_actor(), token_id)


@blp.route("/me")
class Me(MethodView):
    @login_required()
    @blp.response(200, UserOut)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self):
        """The logged-in user."""
        actor = current_actor()
        return service.get_user(db.session, actor, actor.user_id)


@blp.route("/users")
class Users(MethodView):
    @login_required(Role.admin)
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, UserOut(many=True))
    @blp.paginate()
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, filters, pagination_parameters):
        """List users (admins)."""
        return paged(pagination_parameters, service.list_users, db.session, filters)

    @login_required(Role.admin)
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, data):
        """Create a user (admins). Station, official and unit users name their scope."""
        return service.create_user(db.session, current_actor(), data)


@blp.route("/users/<id:user_id>")
class UserById(MethodView):
    @login_required(Role.admin)
    @blp.response(200, UserOut)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, user_id):
        return service.get_user(db.session, current_actor(), user_id)

    @login_required(Role.admin)
    @blp.arguments(UserUpdateIn)
    @blp.response(200, UserOut)
    @blp.doc(security=[{"bearerAuth": []}])
    def patch(self, data, user_id):
        """Change a user; a new password revokes the user's tokens."""
        return service.update_user(db.session, current_actor(), user_id, data)
