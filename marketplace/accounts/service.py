"""Logins, tokens and user administration."""

from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from marketplace.accounts.auth import Actor, hash_token, new_token
from marketplace.accounts.models import ApiToken, LoginAttempt, Role, User
from marketplace.db import keep_despite_failure, page_of, utcnow
from marketplace.errors import NotAuthenticated, NotFound, TooManyRequests, ValidationFailed

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


def _check_throttle(session, username: str, remote_addr: str, *, max_failures: int, window):
    since = utcnow() - window
    by_name, by_addr = session.execute(
        sa.select(
            sa.func.count().filter(LoginAttempt.username == username),
            sa.func.count().filter(LoginAttempt.remote_addr == remote_addr),
        ).where(
            LoginAttempt.attempted_at > since,
            sa.or_(LoginAttempt.username == username, LoginAttempt.remote_addr == remote_addr),
        )
    ).one()
    if by_name >= max_failures or by_addr >= max_failures * 4:
        raise TooManyRequests(
            "Too many failed logins; wait before trying again.",
            retry_after=int(window.total_seconds()),
        )


def login(
    session,
    username: str,
    password: str,
    *,
    remote_addr: str,
    lifetime: timedelta,
    max_failures: int,
    failure_window: timedelta,
) -> tuple[ApiToken, str]:
    """A new token for valid credentials. Failures are recorded and throttle further tries.

    Returns the token row and the token itself, which exists only in this response.
    """
    _check_throttle(
        session, username, remote_addr, max_failures=max_failures, window=failure_window
    )
    user = session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    valid = _password_matches(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.is_active:
        record_failed_login(session, username, remote_addr)
        raise NotAuthenticated("Wrong username or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, token_hash = new_token()
    row = ApiToken(user=user, token_hash=token_hash, expires_at=utcnow() + lifetime)
    session.add(row)
    session.flush()
    return row, token


def record_failed_login(session, username: str, remote_addr: str) -> None:
    # The request fails (401) and rolls back; the attempt must still count.
    keep_despite_failure(
        session,
        sa.insert(LoginAttempt).values(
            username=username, remote_addr=remote_addr, attempted_at=utcnow()
        ),
    )


def revoke_token(session, actor: Actor, token_id: int) -> None:
    """Revoke one of the actor's own tokens (admins may revoke anyone's)."""
    stmt = sa.select(ApiToken).where(ApiToken.id == token_id)
    if not actor.is_admin:
        stmt = stmt.where(ApiToken.user_id == actor.user_id)
    token = session.execute(stmt).scalar_one_or_none()
    if token is None:
        raise NotFound(f"Token {token_id} not found.")
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
            errors[field] = [f"required for role {role.value}"]
        elif role is not scoped_role and data.get(field) is not None:
            errors[field] = [f"only for role {scoped_role.value}"]
        elif data.get(field) is not None and not _referenced_row_exists(
            session, User.__table__.c[field], data[field]
        ):
            errors[field] = [f"no {names} with id {data[field]}"]
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
        raise ValidationFailed({"username": ["already taken"]})
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
        session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    for key, value in data.items():
        setattr(user, key, value)
    session.flush()
    return user


def get_user(session, actor: Actor, user_id: int) -> User:
    if not actor.is_admin and user_id != actor.user_id:
        raise NotFound(f"User {user_id} not found.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def list_users(session, filters: dict, *, page: int, page_size: int) -> tuple[list[User], int]:
    stmt = sa.select(User)
    if filters.get("role") is not None:
        stmt = stmt.where(User.role == filters["role"])
    if filters.get("station_id") is not None:
        stmt = stmt.where(User.station_id == filters["station_id"])
    return page_of(session, stmt, order_by=[User.id], page=page, page_size=page_size)
