import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, created_at, enum_type, intpk


class Role(enum.StrEnum):
    admin = "admin"
    #: operates one service station; scoped to it
    station = "station"
    #: scoped to a region subtree; read-only except approvals and period close
    official = "official"
    buyer = "buyer"
    #: a member of a buying organisation (government body, enterprise)
    unit = "unit"


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    role: Mapped[Role] = mapped_column(enum_type(Role, 16))
    #: the station a ``station`` user operates
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    #: the root of the subtree an ``official`` sees
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: the buying organisation a ``unit`` user acts for
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buying_units.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

    region = relationship("Region", lazy="raise")
    station = relationship("Station", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint(
            "(role <> 'station' OR station_id IS NOT NULL)"
            " AND (role <> 'official' OR region_id IS NOT NULL)"
            " AND (role <> 'unit' OR unit_id IS NOT NULL)",
            name="scope_for_role",
        ),
    )


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored: tokens are 256 random bits, so a plain hash
    is not brute-forceable, and a database leak does not leak sessions."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class LoginAttempt(Base):
    """Logins, failed and successful, counted in the database so every worker and machine
    sees the same throttle (a per-process counter would multiply the limit by the number of
    workers). See ``accounts.service.check_throttle`` for how they are counted."""

    __tablename__ = "login_attempts"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(64))
    remote_addr: Mapped[str] = mapped_column(sa.String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: a success makes the address known for the username, and ends the pair's failure count
    succeeded: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    __table_args__ = (
        sa.Index("ix_login_attempts_username_time", "username", "attempted_at"),
        sa.Index("ix_login_attempts_addr_time", "remote_addr", "attempted_at"),
    )
