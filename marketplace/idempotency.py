"""Idempotency keys for writes that move money or stock.

The key is recorded inside the write's own transaction (a savepoint around the work), so the
record and the work commit or vanish together. A concurrent request with the same key fails on
the unique constraint when it tries to record, its savepoint (stock included) rolls back, and it
replays the winner's result. The same key with another body is a 422: the client has confused
two operations.
"""

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, UTCDateTime, created_at, intpk, utcnow
from marketplace.errors import ValidationFailed
from marketplace.reasons import reason

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200

KEY_REQUIRED = reason("idempotency.key_required", "this header is required for this request")
KEY_SHAPE = reason("idempotency.key_shape", "must be printable and at most {max_length} long")
KEY_REUSED = reason("idempotency.key_reused", "was already used with a different request body")
KEY_OF_ANOTHER_REQUEST = reason(
    "idempotency.key_of_another_request",
    "This Idempotency-Key belongs to another request; use a new key.",
)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    #: what the key was used for ("checkout", "refund"): keys are unique per user and scope
    scope: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    #: SHA-256 of the canonical JSON of the request body
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    #: the status of the first response, and the id of what it created, to replay it
    response_status: Mapped[int | None]
    resource_id: Mapped[int | None]
    created_at: Mapped[created_at]
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.UniqueConstraint("user_id", "scope", "key"),)


def request_fingerprint(body) -> str:
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ValidationFailed({HEADER: [KEY_REQUIRED()]})
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed({HEADER: [KEY_SHAPE(max_length=MAX_KEY_LENGTH)]})
    return key


def find(session, user_id: int, scope: str, key: str, body) -> IdempotencyKey | None:
    """The earlier request made with this key, if any; a different body under it is a 422."""
    found = session.execute(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key.strip(),
        )
    ).scalar_one_or_none()
    if found is not None and found.request_hash != request_fingerprint(body):
        raise ValidationFailed({HEADER: [KEY_REUSED()]}, detail=KEY_OF_ANOTHER_REQUEST())
    return found


def claim(session, *, user_id: int, scope: str, key: str, body) -> IdempotencyKey | int:
    """Claim ``key`` for this request before doing its work, in the work's own transaction.

    Returns the new claim's id: go ahead, then ``complete()`` it. Or returns the earlier
    request's record: replay it (a different body under the key is a 422). A concurrent request
    with the same key waits on the unique index until this transaction ends: it then finds
    this record (committed) or claims the key itself (rolled back).
    """
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(
            user_id=user_id,
            scope=scope,
            key=key.strip(),
            request_hash=request_fingerprint(body),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "scope", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if claimed is not None:
        return claimed
    earlier = find(session, user_id, scope, key, body)
    if earlier is None:  # the other request rolled back between our insert and our read
        return claim(session, user_id=user_id, scope=scope, key=key, body=body)
    return earlier


def complete(session, claim_id: int, *, status: int, resource_id: int) -> None:
    session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.id == claim_id)
        .values(response_status=status, resource_id=resource_id, completed_at=utcnow())
    )


def perform_once(session, *, user_id: int, scope: str, key: str | None, body, work, replay):
    """Run ``work()``, which creates one row, once per key: the row and the key's record commit
    together, in a savepoint. A repeat, or a concurrent twin that lost the race on the unique
    constraint (its savepoint, and whatever its work did, rolled back), gets ``replay(id)`` of
    the first row instead. Returns the row and whether it is a replay."""
    key = validate_key(key)
    earlier = find(session, user_id, scope, key, body)
    if earlier is None:
        try:
            with session.begin_nested():
                created = work()
                record(
                    session,
                    user_id=user_id,
                    scope=scope,
                    key=key,
                    body=body,
                    status=201,
                    resource_id=created.id,
                )
            return created, False
        except IntegrityError:
            earlier = find(session, user_id, scope, key, body)
            if earlier is None:
                raise
    return replay(earlier.resource_id), True


def record(
    session, *, user_id: int, scope: str, key: str, body, status: int, resource_id: int
) -> IdempotencyKey:
    """Remember what this key produced. Call it inside the same savepoint as the work: a
    concurrent duplicate then fails on the unique constraint and the caller replays the winner."""
    row = IdempotencyKey(
        user_id=user_id,
        scope=scope,
        key=key.strip(),
        request_hash=request_fingerprint(body),
        response_status=status,
        resource_id=resource_id,
        completed_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


# --- inside one statement (PostgreSQL) --------------------------------------------------------


def unclaimed(user_id, scope, key) -> sa.ColumnElement[bool]:
    """Whether no request has claimed the key yet (committed: a claim still in flight is
    found by ``claim_insert``, which waits for it). Arguments are values or bound parameters."""
    return ~sa.exists().where(
        IdempotencyKey.user_id == user_id,
        IdempotencyKey.scope == scope,
        IdempotencyKey.key == key,
    )


#: The columns ``claim_insert`` takes, in its order.
CLAIM_COLUMNS = (
    "user_id",
    "scope",
    "key",
    "request_hash",
    "response_status",
    "resource_id",
    "created_at",
    "completed_at",
)


def claim_insert(rows: sa.Select) -> sa.Insert:
    """Claim a key as a finished request, within a larger statement: the row ``rows`` selects
    (``CLAIM_COLUMNS``), or nothing when the key is taken, committed or not (the insert waits
    for a claim in flight). Returns the claimed ``resource_id``."""
    return (
        pg_insert(IdempotencyKey)
        .from_select(list(CLAIM_COLUMNS), rows)
        .on_conflict_do_nothing(index_elements=["user_id", "scope", "key"])
        .returning(IdempotencyKey.resource_id)
    )
