"""Importing a platform's order export: each paid (sub-)order becomes a paid order of channel
``imported``, tied to its livestream session, its SKU found through the station's map of the
platform's product ids.

The platform's (sub-)order id is unique per platform (``ImportedLine``), so the same file
twice, or a later export that overlaps an earlier one, creates nothing twice: a line seen
before only moves on (shipped, completed) and has its new refunds applied, each reversing
exactly what the line attributed. Rows that cannot be taken are reported with their line,
column and reason; the others import. The whole upload is one transaction, and a dry run is
the same work rolled back, so it reports exactly what the upload would do.

The file is read as a stream, in batches of ``BATCH`` rows, each written with a constant
number of statements (``recording.record_sales``); what is remembered across batches is
in the database (each line's last upload, line and digest), so memory stays flat however long
the file. The upload's own problems are kept up to ``MAX_PROBLEMS``; their count is exact.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.db import page_of
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import formats
from marketplace.platform_sales.layouts import generic_layout
from marketplace.platform_sales.models import ImportLayout, ImportProblem, PlatformImport
from marketplace.platform_sales.rows import FileProblem, Problem
from marketplace.platform_sales.run import ImportRun, Report
from marketplace.platform_sales.scoping import IMPORTS
from marketplace.platform_sales.sessions import station_sessions
from marketplace.producers.models import Station
from marketplace.producers.scoping import STATIONS
from marketplace.reasons import reason

BATCH = 1000

FOR_STATIONS_AND_ADMINS = reason(
    "platform_import.role_refused", "Platform exports are imported by their station or by admins."
)
NO_SUCH_LAYOUT = reason("platform_import.no_such_layout", "this station has no layout {layout!r}")
LAYOUT_OF_OTHER_PLATFORM = reason(
    "platform_import.layout_of_other_platform",
    "describes a {layout_platform} export, not {platform}",
)
NO_SUCH_SESSION = reason(
    "platform_import.no_such_session",
    "no {platform} session of this station (or of its county) that ran has this id",
)


@dataclass
class Upload:
    """What the station sends: the export (and Taobao's item report), and how to read it."""

    platform: Platform
    stream: object
    filename: str
    items: object | None = None
    layout_name: str | None = None
    session_id: int | None = None
    dry_run: bool = False


class Hashing:
    """A binary stream that hashes what is read from it and tells how far it got."""

    def __init__(self, stream, on_bytes: Callable[[int], None] | None):
        self.stream, self.on_bytes = stream, on_bytes
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return data


def import_export(
    session,
    actor: Actor,
    station_id: int,
    upload: Upload,
    *,
    on_bytes: Callable[[int], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    batch_rows: int = BATCH,
) -> Report:
    """Import one export for one station in one transaction (the command line, a dry run).
    A 422 names ``file`` (or ``items``, ``layout``, ``session_id``) when the upload as a whole
    cannot be read; row problems are in the report. Nothing is written in a dry run, nor when
    the file fails part way through."""
    station, layout, chosen = prepare(session, actor, station_id, upload)
    stream = Hashing(upload.stream, on_bytes)
    items = Hashing(upload.items, None) if upload.items is not None else None
    savepoint = session.begin_nested()
    try:
        record = new_record(session, actor, station, upload, chosen)
        columns = layout or formats.layout_for(upload.platform)
        run = ImportRun(session, station, upload.platform, record.id, chosen, on_problem, columns)
        rows = formats.platform_rows(upload.platform, stream, items=items, layout=layout)
        for batch in batched(rows, batch_rows):
            run.apply(batch)
            if on_rows is not None:
                on_rows(run.report.rows)
    except FileProblem as problem:
        savepoint.rollback()
        raise ValidationFailed({problem.field: [problem.reason]}) from None
    except BaseException:
        savepoint.rollback()
        raise
    report = run.report
    report.sha256 = stream.digest.hexdigest()
    report.filename, report.dry_run = record.filename, upload.dry_run
    keep_counts(session, record.id, report)
    session.refresh(record)
    report.created_at = record.created_at
    if upload.dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        report.id = record.id
    return report


def prepare(session, actor: Actor, station_id: int, upload: Upload):
    """What an upload is checked against before a row is read: who sends it, for which
    station (taking the station's import lock), read with which layout, into which session."""
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied(FOR_STATIONS_AND_ADMINS())
    station = STATIONS.get(session, station_id, actor)
    lock_station(session, station.id)
    return station, _layout(session, station.id, upload), _chosen_session(session, station, upload)


def lock_station(session, station_id: int) -> None:
    """One upload per station at a time: a second one reads what the first committed, so two
    uploads of overlapping exports can neither apply a refund twice nor deadlock. (NO KEY
    UPDATE: checkouts inserting the station's order lines are not held up.)"""
    session.execute(
        sa.select(Station.id).where(Station.id == station_id).with_for_update(key_share=True)
    )


def batched(rows, size: int):
    """The file's rows, ``size`` at a time (the last batch may be empty)."""
    batch: list = []
    for parsed in rows:
        batch.append(parsed)
        if len(batch) >= size:
            yield batch
            batch = []
    yield batch


def keep_counts(session, import_id: int, report: Report, **values) -> None:
    """Write the report's counts and kept problems to the upload's record."""
    counts = {name: getattr(report, name) for name in COUNTS}
    session.execute(
        sa.update(PlatformImport).where(PlatformImport.id == import_id).values(**counts, **values)
    )


#: What an upload's record keeps of its report.
COUNTS = (
    "rows",
    "created_lines",
    "updated_lines",
    "unchanged_lines",
    "duplicate_lines",
    "skipped_lines",
    "failed_lines",
    "problems",
    "problems_not_kept",
    "sha256",
)


def new_record(session, actor: Actor, station, upload: Upload, chosen, **values) -> PlatformImport:
    record = PlatformImport(
        station_id=station.id,
        platform=upload.platform,
        filename=(upload.filename or "upload.csv")[:200],
        sha256="",
        session_id=chosen.id if chosen else None,
        rows=0,
        created_lines=0,
        updated_lines=0,
        unchanged_lines=0,
        duplicate_lines=0,
        skipped_lines=0,
        failed_lines=0,
        problems=[],
        problems_not_kept=0,
        imported_by_id=actor.user_id,
        **values,
    )
    session.add(record)
    session.flush()
    return record


def _layout(session, station_id: int, upload: Upload):
    if upload.layout_name is None:
        return None
    found = session.execute(
        sa.select(ImportLayout).where(
            ImportLayout.station_id == station_id, ImportLayout.name == upload.layout_name
        )
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed({"layout": [NO_SUCH_LAYOUT(layout=upload.layout_name)]})
    if found.platform != upload.platform:
        raise ValidationFailed(
            {
                "layout": [
                    LAYOUT_OF_OTHER_PLATFORM(
                        layout_platform=found.platform.value, platform=upload.platform.value
                    )
                ]
            }
        )
    return generic_layout(found.platform, found.columns, found.values)


def _chosen_session(session, station: Station, upload: Upload):
    if upload.session_id is None:
        return None
    # The station's own sessions and its county's (which a station may not manage, but sells
    # in); SESSIONS would show it only its own.
    chosen = next(
        (
            s
            for s in station_sessions(session, station, upload.platform)
            if s.id == upload.session_id
        ),
        None,
    )
    if chosen is None:
        raise ValidationFailed({"session_id": [NO_SUCH_SESSION(platform=upload.platform.value)]})
    return chosen


def list_imports(session, actor: Actor, station_id: int, filters: dict, *, page, page_size):
    station = STATIONS.get(session, station_id, actor)
    stmt = IMPORTS.restrict(
        sa.select(PlatformImport).where(PlatformImport.station_id == station.id), actor
    )
    if filters.get("platform") is not None:
        stmt = stmt.where(PlatformImport.platform == filters["platform"])
    return page_of(
        session,
        stmt,
        order_by=[PlatformImport.created_at.desc(), PlatformImport.id.desc()],
        page=page,
        page_size=page_size,
    )


def get_import(session, actor: Actor, import_id: int) -> PlatformImport:
    return IMPORTS.get(session, import_id, actor)


def list_problems(session, actor: Actor, import_id: int, *, page, page_size):
    """An upload's problems in line order, every one of them (its record keeps the first
    ``MAX_PROBLEMS``): each line's column and reason as kept, its code and parameters."""
    record = get_import(session, actor, import_id)
    return page_of(
        session,
        sa.select(ImportProblem).where(ImportProblem.import_id == record.id),
        order_by=[ImportProblem.line, ImportProblem.id],
        page=page,
        page_size=page_size,
    )
