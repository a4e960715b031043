"""What a station keeps to read its platform exports (its map of product ids, the layouts it
described) and what each upload did, line by line."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, created_at, enum_type, intpk
from marketplace.livestreams.models import Platform


class PlatformProduct(Base):
    """A station's map from an outside platform's product id (its SKU or style id, or the
    merchant code the platform carries) to the SKU it sells here."""

    __tablename__ = "platform_products"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"))
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    outside_id: Mapped[str] = mapped_column(sa.String(64))
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id"), index=True)
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("station_id", "platform", "outside_id"),)


class ImportLayout(Base):
    """A station's description of an export layout we have no mapping for: which of its
    columns holds each of our fields, and which of its values mean what."""

    __tablename__ = "import_layouts"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    columns: Mapped[dict] = mapped_column(sa.JSON)
    #: {"statuses": {"paid": [...], ...}, "refund_states": {...}, "live": [...]}
    values: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("station_id", "name"),)


class PlatformImport(Base):
    """One upload of a platform's export: what it did, and every line it could not take."""

    __tablename__ = "platform_imports"

    id: Mapped[intpk]
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: SHA-256 of the file's bytes: the same file twice is visible at a glance
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: the session the upload named for all its rows, if any
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("livestream_sessions.id"))
    rows: Mapped[int]
    created_lines: Mapped[int]
    updated_lines: Mapped[int]
    unchanged_lines: Mapped[int]
    #: the same (sub-)order again in the file, with the same values: taken once
    duplicate_lines: Mapped[int]
    #: not paid on the platform: nothing to record
    skipped_lines: Mapped[int]
    failed_lines: Mapped[int]
    #: the problems beyond the first ``MAX_PROBLEMS`` kept in ``problems``
    problems_not_kept: Mapped[int] = mapped_column(default=0)
    #: [{"line": 12, "column": "商品ID", "reason": "..."}]
    problems: Mapped[list] = mapped_column(sa.JSON)
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: the job that imported it, batch by batch (an upload through the API or the console)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), unique=True)
    #: the whole file was read; False while its job runs, and for good when the job was
    #: cancelled or failed part way (its counts are those of the batches it committed)
    complete: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]

    #: a stored upload was not a dry run (a dry run's report is never stored)
    dry_run = False


class ImportedLine(Base):
    """A platform's (sub-)order as imported: the order line it became, and the state and
    refunds the platform last reported, so that a later export applies only what is new."""

    __tablename__ = "imported_lines"

    id: Mapped[intpk]
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, 16))
    #: the platform's sub-order id (its order id where it has none); unique per platform
    outside_line_id: Mapped[str] = mapped_column(sa.String(64))
    outside_order_id: Mapped[str] = mapped_column(sa.String(64))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_lines.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    refund_state: Mapped[str] = mapped_column(sa.String(16))
    #: what was refunded of the line so far, as applied from the platform's exports
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: the upload that last read this (sub-)order, its line there and a digest of its cells:
    #: the same id again in that upload is a duplicate row, or a contradiction
    last_import_id: Mapped[int] = mapped_column(sa.ForeignKey("platform_imports.id"))
    source_line: Mapped[int]
    row_digest: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[created_at]

    __table_args__ = (sa.UniqueConstraint("platform", "outside_line_id"),)


class ImportProblem(Base):
    """A problem an upload met on one of its lines, kept whole (the record's ``problems``
    holds the first ``MAX_PROBLEMS``): the failed rows file is made of these, and an import
    resumed part way learns from them which (sub-)orders failed before."""

    __tablename__ = "import_problems"

    id: Mapped[intpk]
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("platform_imports.id", ondelete="CASCADE"))
    line: Mapped[int]
    column: Mapped[str | None] = mapped_column(sa.String(100))
    #: the reason as kept: its code and parameters
    reason: Mapped[dict] = mapped_column(sa.JSON)
    #: the (sub-)order id the line failed for, where it has one: a later line with the same id
    #: fails the same way
    failed_line_id: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.Index("ix_import_problems_import_id_line", "import_id", "line"),
        sa.Index("ix_import_problems_import_id_failed_line_id", "import_id", "failed_line_id"),
    )
