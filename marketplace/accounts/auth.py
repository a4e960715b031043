"""Who is calling: bearer tokens to an ``Actor``, and the decorator views use to require one.

Services receive the ``Actor`` explicitly; only views read it from the request.
"""

import copy
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, request

from marketplace.accounts import known_tokens
from marketplace.accounts.models import ApiToken, Role, User
from marketplace.db import utcnow
from marketplace.errors import NotAuthenticated, PermissionDenied
from marketplace.extensions import db
from marketplace.reasons import reason

BEARER_EXPECTED = reason("auth.bearer_expected", "Send 'Authorization: Bearer <token>'.")
TOKEN_REFUSED = reason("auth.token_refused", "The token is unknown, expired or revoked.")
LOGIN_REQUIRED = reason("auth.login_required", "Log in first: POST /api/v1/auth/tokens.")
ROLE_REQUIRED = reason("auth.role_required", "This needs one of the roles: {roles}.")


@dataclass(frozen=True)
class Actor:
    """The acting user with everything scoping needs, loaded once per request."""

    user_id: int
    username: str
    role: Role
    station_id: int | None = None
    #: the village of the station a ``station`` user operates
    station_village_id: int | None = None
    region_id: int | None = None
    #: materialized path of an official's region (``/1/4/``): their subtree's prefix
    region_path: str | None = None
    unit_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the hash that is stored for it."""
    token = "mkt_" + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_users, _tokens = User.__table__, ApiToken.__table__
# Every domain imports accounts, so accounts imports none: of the tables a user's scope refers
# to (its foreign keys), the lookup names just the columns it reads.
_stations = sa.table("stations", sa.column("id"), sa.column("village_id"))
_regions = sa.table("regions", sa.column("id"), sa.column("path"))


def _actor_select() -> sa.Select:
    """A user as an Actor: its columns and what its scope refers to."""
    return sa.select(
        _users.c.id,
        _users.c.username,
        _users.c.role,
        _users.c.station_id,
        sa.select(_stations.c.village_id)
        .where(_stations.c.id == _users.c.station_id)
        .scalar_subquery(),
        _users.c.region_id,
        _regions.c.path,
        _users.c.unit_id,
    ).where(_users.c.is_active.is_(True))


#: Every authenticated request runs this, so it is built once: a statement object keeps its
#: compiled form in SQLAlchemy's cache, and Core rows skip the ORM's per-row work.
_ACTOR_FOR_TOKEN = (
    _actor_select()
    .add_columns(_tokens.c.expires_at)
    .select_from(
        _users.join(_tokens, _tokens.c.user_id == _users.c.id).outerjoin(
            _regions, _regions.c.id == _users.c.region_id
        )
    )
    .where(
        _tokens.c.token_hash == sa.bindparam("token_hash"),
        _tokens.c.revoked_at.is_(None),
        _tokens.c.expires_at > sa.bindparam("now", type_=_tokens.c.expires_at.type),
    )
)

_ACTOR_FOR_USERNAME = (
    _actor_select()
    .select_from(_users.outerjoin(_regions, _regions.c.id == _users.c.region_id))
    .where(_users.c.username == sa.bindparam("username"))
)


def actor_for_token(session, token: str) -> Actor | None:
    """The actor a bearer token stands for, or None when it names no active user's live
    token. Read from the database, or from what this worker read a moment ago
    (``known_tokens``)."""
    token_hash, now = hash_token(token), utcnow()
    known = known_tokens.for_session(session)
    epoch = None
    if known is not None:
        max_age = timedelta(seconds=current_app.config["TOKEN_CACHE_SECONDS"])
        actor, epoch = known.look_up(token_hash, now=now, max_age=max_age)
        if actor is not None:
            return actor
    row = (
        session.connection()
        .execute(_ACTOR_FOR_TOKEN, {"token_hash": token_hash, "now": now})
        .one_or_none()
    )
    if row is None:
        return None
    *values, expires_at = row
    actor = Actor(*values)
    if known is not None:
        known.remember(token_hash, actor, expires_at=expires_at, read_at=now, epoch=epoch)
    return actor


_ACTOR_FOR_USER_ID = (
    _actor_select()
    .select_from(_users.outerjoin(_regions, _regions.c.id == _users.c.region_id))
    .where(_users.c.id == sa.bindparam("user_id"))
)


def actor_for_user_id(session, user_id: int) -> Actor | None:
    """An active user as the Actor a request of theirs would carry: for work done later on
    their behalf (a job they started)."""
    row = session.connection().execute(_ACTOR_FOR_USER_ID, {"user_id": user_id}).one_or_none()
    return None if row is None else Actor(*row)


def actor_for_username(session, username: str) -> Actor | None:
    """An active user as the Actor a request of theirs would carry: for commands run on the
    user's behalf (``flask ... --as``) and the demo loader."""
    row = session.connection().execute(_ACTOR_FOR_USERNAME, {"username": username}).one_or_none()
    return None if row is None else Actor(*row)


def bearer_token(authorization: str) -> str | None:
    """The token an ``Authorization`` header carries, or None when it is no bearer token."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def actor_from_request() -> Actor | None:
    """The request's actor, or None when it carries no bearer token."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    if not header:
        g.actor = None
        return None
    token = bearer_token(header)
    if token is None:
        raise NotAuthenticated(BEARER_EXPECTED())
    actor = actor_for_token(db.session, token)
    if actor is None:
        raise NotAuthenticated(TOKEN_REFUSED())
    g.actor = actor
    return actor


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise NotAuthenticated(LOGIN_REQUIRED())
    return actor


def _documented(wrapper, *, required: bool):
    """Tell the API document (http_api.Blueprint) that the view authenticates, so it lists
    the 401 (and, when a login is required, the 403) it may answer."""
    wrapper._apidoc = {
        **copy.deepcopy(getattr(wrapper, "_apidoc", {})),
        "auth": {"required": required},
    }
    return wrapper


def login_required(*roles: Role):
    """Require a valid token, and one of ``roles`` when given."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            actor = actor_from_request()
            if actor is None:
                raise NotAuthenticated(LOGIN_REQUIRED())
            if roles and actor.role not in roles:
                allowed = ", ".join(sorted(r.value for r in roles))
                raise PermissionDenied(ROLE_REQUIRED(roles=allowed))
            return view(*args, **kwargs)

        wrapper._login_roles = roles
        return _documented(wrapper, required=True)

    return decorate


def optional_login(view):
    """Resolve a token if one is sent (a bad one is still a 401), allow anonymous calls."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        actor_from_request()
        return view(*args, **kwargs)

    return _documented(wrapper, required=False)
