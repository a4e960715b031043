"""Logins, tokens and user administration."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from marketplace.accounts.auth import Actor, hash_token, new_token
from marketplace.accounts.models import ApiToken, LoginAttempt, Role, User
from marketplace.accounts.scoping import NOT_FOUND
from marketplace.db import keep_despite_failure, page_of, utcnow
from marketplace.errors import NotAuthenticated, NotFound, TooManyRequests, ValidationFailed
from marketplace.reasons import reason

LOGINS_THROTTLED = reason("login.throttled", "Too many failed logins; wait before trying again.")
WRONG_CREDENTIALS = reason("login.wrong_credentials", "Wrong username or password.")
USERNAME_TAKEN = reason("user.username_taken", "already taken")
SCOPE_REQUIRED = reason("user.scope_required", "required for role {role}")
SCOPE_NOT_FOR_ROLE = reason("user.scope_not_for_role", "only for role {role}")
#: ``scope``: what the field names (a station, a region, a buying unit)
NO_SUCH_SCOPE = reason("user.no_such_scope", "no {scope} with id {id}")

_hasher = PasswordHasher()
#: verified against when the username is unknown, so timing does not reveal which names exist
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins within ``window`` lock what (see ``check_throttle``)."""

    per_pair: int
    per_username: int
    per_address: int
    window: timedelta
    known_for: timedelta

    @classmethod
    def from_config(cls, config) -> "LoginLimits":
        return cls(
            per_pair=config["LOGIN_MAX_FAILURES"],
            per_username=config["LOGIN_MAX_FAILURES_PER_USERNAME"],
            per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            window=config["LOGIN_FAILURE_WINDOW"],
            known_for=config["LOGIN_KNOWN_ADDRESS"],
        )


def check_throttle(session, username: str, remote_addr: str, limits: LoginLimits) -> None:
    """Refuse a login attempt (429) that guessing has made too risky, without letting anyone
    lock a named user out:

    - failures of one username from one address, since that pair's last success, lock that
      pair only: someone guessing a user's password elsewhere does not lock the user out;
    - many failures for one username from many addresses (a distributed guess), or from one
      address for many usernames (credential stuffing), lock the attempts that come from an
      address the user has not logged in from within ``known_for``: the user's own computer,
      or the office network the user logs in from, still gets in.
    """
    now = utcnow()
    since = now - limits.window
    attempts = LoginAttempt.__table__.alias("attempts")
    failed = sa.and_(attempts.c.succeeded.is_(False), attempts.c.attempted_at > since)
    pair = sa.and_(attempts.c.username == username, attempts.c.remote_addr == remote_addr)

    def count(*conditions):
        return sa.select(sa.func.count()).select_from(attempts).where(*conditions)

    last_success = (
        sa.select(sa.func.max(attempts.c.attempted_at))
        .where(pair, attempts.c.succeeded.is_(True))
        .scalar_subquery()
    )
    known = sa.exists().where(
        pair, attempts.c.succeeded.is_(True), attempts.c.attempted_at > now - limits.known_for
    )
    by_pair, by_username, by_address, is_known = session.execute(
        sa.select(
            count(
                failed, pair, attempts.c.attempted_at > sa.func.coalesce(last_success, since)
            ).scalar_subquery(),
            count(failed, attempts.c.username == username).scalar_subquery(),
            count(failed, attempts.c.remote_addr == remote_addr).scalar_subquery(),
            known,
        )
    ).one()
    locked = by_pair >= limits.per_pair or (
        not is_known and (by_username >= limits.per_username or by_address >= limits.per_address)
    )
    if locked:
        raise TooManyRequests(
            LOGINS_THROTTLED(),
            retry_after=int(limits.window.total_seconds()),
        )


def login(
    session,
    username: str,
    password: str,
    *,
    remote_addr: str,
    lifetime: timedelta,
    limits: LoginLimits,
) -> tuple[ApiToken, str]:
    """A new token for valid credentials. Failures are recorded and throttle further tries;
    a success is recorded too (it makes the address known, see ``check_throttle``).

    Returns the token row and the token itself, which exists only in this response.
    """
    check_throttle(session, username, remote_addr, limits)
    user = session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    valid = _password_matches(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.is_active:
        record_failed_login(session, username, remote_addr)
        raise NotAuthenticated(WRONG_CREDENTIALS())
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, token_hash = new_token()
    row = ApiToken(user=user, token_hash=token_hash, expires_at=utcnow() + lifetime)
    session.add(row)
    session.add(
        LoginAttempt(
            username=username, remote_addr=remote_addr, attempted_at=utcnow(), succeeded=True
        )
    )
    session.flush()
    return row, token


def record_failed_login(session, username: str, remote_addr: str) -> None:
    # The request fails (401) and rolls back; the attempt must still count.
    keep_despite_failure(
        session,
        sa.insert(LoginAttempt).values(
            username=username, remote_addr=remote_addr, attempted_at=utcnow(), succeeded=False
        ),
    )


def revoke_token(session, actor: Actor, token_id: int) -> None:
    """Revoke one of the actor's own tokens (admins may revoke anyone's)."""
    stmt = sa.select(ApiToken).where(ApiToken.id == token_id)
    if not actor.is_admin:
        stmt = stmt.where(ApiToken.user_id == actor.user_id)
    token = session.execute(stmt).scalar_one_or_none()
    if token is None:
        raise NotFound(NOT_FOUND(kind="Token", id=token_id))
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_presented_token(session, raw_token: str) -> None:
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.token_hash == hash_token(raw_token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


#: The field naming each scoped role's scope, and what it names.
_SCOPE_FIELDS = {
    Role.station: ("station_id", "station"),
    Role.official: ("region_id", "region"),
    Role.unit: ("unit_id", "buying unit"),
}


def _check_role_scope(session, data: dict) -> None:
    role = data["role"]
    errors = {}
    for scoped_role, (field, names) in _SCOPE_FIELDS.items():
        if role is scoped_role and data.get(field) is None:
            errors[field] = [SCOPE_REQUIRED(role=role.value)]
        elif role is not scoped_role and data.get(field) is not None:
            errors[field] = [SCOPE_NOT_FOR_ROLE(role=scoped_role.value)]
        elif data.get(field) is not None and not _referenced_row_exists(
            session, User.__table__.c[field], data[field]
        ):
            errors[field] = [NO_SUCH_SCOPE(scope=names, id=data[field])]
    if errors:
        raise ValidationFailed(errors)


def _referenced_row_exists(session, column: sa.Column, value: int) -> bool:
    """Whether the row ``column``'s foreign key would point to exists. Accounts imports no
    domain (every domain imports it), so it checks a user's scope through the users table's
    own foreign keys rather than through the stations', regions' and units' models."""
    (foreign_key,) = column.foreign_keys
    target = foreign_key.column
    return session.execute(sa.select(target).where(target == value)).first() is not None


def _username_taken(session, username: str) -> bool:
    return session.execute(sa.select(User.id).where(User.username == username)).first() is not None


def create_user(session, actor: Actor, data: dict) -> User:
    _check_role_scope(session, data)
    if _username_taken(session, data["username"]):
        raise ValidationFailed({"username": [USERNAME_TAKEN()]})
    password = data.pop("password")
    user = User(**data, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def update_user(session, actor: Actor, user_id: int, data: dict) -> User:
    user = get_user(session, actor, user_id)
    if "password" in data:
        user.password_hash = hash_password(data.pop("password"))
        # A new password ends every session that the old one opened.
        _revoke_all_tokens(session, user.id)
    if data.get("is_active") is False:
        # Deactivation ends every session for good: reactivating the user later must not
        # bring a token back to life (it needs a new login).
        _revoke_all_tokens(session, user.id)
    for key, value in data.items():
        setattr(user, key, value)
    session.flush()
    return user


def _revoke_all_tokens(session, user_id: int) -> None:
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def get_user(session, actor: Actor, user_id: int) -> User:
    if not actor.is_admin and user_id != actor.user_id:
        raise NotFound(NOT_FOUND(kind="User", id=user_id))
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(NOT_FOUND(kind="User", id=user_id))
    return user


def list_users(session, filters: dict, *, page: int, page_size: int) -> tuple[list[User], int]:
    stmt = sa.select(User)
    if filters.get("role") is not None:
        stmt = stmt.where(User.role == filters["role"])
    if filters.get("station_id") is not None:
        stmt = stmt.where(User.station_id == filters["station_id"])
    return page_of(session, stmt, order_by=[User.id], page=page, page_size=page_size)
