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
number of statements (``platform_sales.record_sales``); what is remembered across batches is
in the database (each line's last upload, line and digest), so memory stays flat however long
the file. The upload's own problems are kept up to ``MAX_PROBLEMS``; their count is exact.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, Sku
from marketplace.db import page_of, utcnow
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.livestreams import platform_files
from marketplace.livestreams.models import (
    ImportedLine,
    ImportLayout,
    LivestreamSession,
    Platform,
    PlatformImport,
    PlatformProduct,
    SessionState,
)
from marketplace.livestreams.platform_files import (
    FileProblem,
    PlatformRow,
    Problem,
    RefundState,
    RowStatus,
)
from marketplace.livestreams.scoping import IMPORTS
from marketplace.orders.models import OrderLine, OrderStatus
from marketplace.payments import platform_sales
from marketplace.producers.models import Station
from marketplace.producers.scoping import STATIONS
from marketplace.regions.models import Region

BATCH = 1000
MAX_PROBLEMS = 1000
WINDOW_GRACE = timedelta(minutes=2)
#: The platform's statuses in the order a sale moves through them.
_ORDER_STATUS = {
    RowStatus.paid: OrderStatus.paid,
    RowStatus.shipped: OrderStatus.shipped,
    RowStatus.completed: OrderStatus.completed,
    # Closed after payment: recorded as paid, then refunded in full.
    RowStatus.closed: OrderStatus.paid,
}
_PROGRESS = (RowStatus.paid, RowStatus.shipped, RowStatus.completed)
#: The longest (sub-)order id we keep (ImportedLine.outside_line_id).
_MAX_ID = 64


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


@dataclass
class Report:
    """What an upload did (or, in a dry run, would do)."""

    id: int | None
    station_id: int
    platform: Platform
    filename: str
    sha256: str
    session_id: int | None
    dry_run: bool
    rows: int = 0
    created_lines: int = 0
    updated_lines: int = 0
    unchanged_lines: int = 0
    duplicate_lines: int = 0
    skipped_lines: int = 0
    failed_lines: int = 0
    problems: list = field(default_factory=list)
    problems_not_kept: int = 0
    created_at: datetime | None = None

    def add_problem(self, problem: Problem, on_problem=None) -> None:
        if on_problem is not None:
            on_problem(problem)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem.as_dict())
        else:
            self.problems_not_kept += 1


class _Hashing:
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
) -> Report:
    """Import one export for one station. A 422 names ``file`` (or ``items``, ``layout``,
    ``session_id``) when the upload as a whole cannot be read; row problems are in the report.
    Nothing is written in a dry run, nor when the file fails part way through."""
    if actor.role not in (Role.admin, Role.station):
        raise PermissionDenied("Platform exports are imported by their station or by admins.")
    station = STATIONS.get(session, station_id, actor)
    # One upload per station at a time: a second one reads what the first committed, so two
    # uploads of overlapping exports can neither apply a refund twice nor deadlock. (NO KEY
    # UPDATE: checkouts inserting the station's order lines are not held up.)
    session.execute(
        sa.select(Station.id).where(Station.id == station.id).with_for_update(key_share=True)
    )
    layout = _layout(session, station.id, upload)
    chosen = _chosen_session(session, station, upload)
    stream = _Hashing(upload.stream, on_bytes)
    items = _Hashing(upload.items, None) if upload.items is not None else None
    savepoint = session.begin_nested()
    try:
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
        )
        session.add(record)
        session.flush()
        columns = layout or platform_files.layout_for(upload.platform)
        run = _Run(session, station, upload.platform, record.id, chosen, on_problem, columns)
        rows = platform_files.platform_rows(upload.platform, stream, items=items, layout=layout)
        batch: list = []
        for parsed in rows:
            batch.append(parsed)
            if len(batch) >= BATCH:
                run.apply(batch)
                batch = []
        run.apply(batch)
    except FileProblem as problem:
        savepoint.rollback()
        raise ValidationFailed({problem.field: [problem.reason]}) from None
    except BaseException:
        savepoint.rollback()
        raise
    report = run.report
    report.sha256 = stream.digest.hexdigest()
    report.filename, report.dry_run = record.filename, upload.dry_run
    for name in (
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
    ):
        setattr(record, name, getattr(report, name))
    session.flush()
    report.created_at = record.created_at
    if upload.dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        report.id = record.id
    return report


def _layout(session, station_id: int, upload: Upload):
    if upload.layout_name is None:
        return None
    found = session.execute(
        sa.select(ImportLayout).where(
            ImportLayout.station_id == station_id, ImportLayout.name == upload.layout_name
        )
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed({"layout": [f"this station has no layout {upload.layout_name!r}"]})
    if found.platform != upload.platform:
        raise ValidationFailed(
            {"layout": [f"describes a {found.platform.value} export, not {upload.platform.value}"]}
        )
    return platform_files.generic_layout(found.platform, found.columns, found.values)


def _chosen_session(session, station: Station, upload: Upload):
    if upload.session_id is None:
        return None
    # The station's own sessions and its county's (which a station may not manage, but sells
    # in); SESSIONS would show it only its own.
    chosen = next(
        (
            s
            for s in _station_sessions(session, station, upload.platform)
            if s.id == upload.session_id
        ),
        None,
    )
    if chosen is None:
        raise ValidationFailed(
            {
                "session_id": [
                    f"no {upload.platform.value} session of this station (or of its county) "
                    "that ran has this id"
                ]
            }
        )
    return chosen


def _station_sessions(session, station: Station, platform: Platform) -> list[LivestreamSession]:
    """The sessions a station's sales on ``platform`` may belong to: its own, and the
    county-led sessions of a region its village is in; never a cancelled one."""
    village_path = session.execute(
        sa.select(Region.path).where(Region.id == station.village_id)
    ).scalar_one()
    # A region's path lists its ancestors' ids: /county/township/village/.
    regions = [int(part) for part in village_path.strip("/").split("/")]
    return list(
        session.execute(
            sa.select(LivestreamSession)
            .where(
                LivestreamSession.platform == platform,
                LivestreamSession.state != SessionState.cancelled,
                sa.or_(
                    LivestreamSession.station_id == station.id,
                    LivestreamSession.region_id.in_(regions),
                ),
            )
            .order_by(LivestreamSession.scheduled_start)
        ).scalars()
    )


def _window(live_session: LivestreamSession) -> tuple[datetime, datetime]:
    """When the session's sales were made: its actual times (its schedule where it has none),
    widened by ``WINDOW_GRACE`` on each side, since exports give times to the second by the
    platform's clock, not ours."""
    start = live_session.actual_start or live_session.scheduled_start
    if live_session.actual_end is not None:
        end = live_session.actual_end
    elif live_session.state is SessionState.live:
        end = max(utcnow(), live_session.scheduled_end)
    else:
        end = live_session.scheduled_end
    return start - WINDOW_GRACE, end + WINDOW_GRACE


@dataclass(frozen=True)
class _Known:
    """A line imported before, as this upload needs it."""

    id: int
    station_id: int
    order_id: int
    order_line_id: int
    status: str
    refunded_fen: int
    last_import_id: int
    source_line: int
    row_digest: str
    line_total_fen: int
    quantity: int


@dataclass(frozen=True)
class _SkuFacts:
    sku_id: int
    product_id: int
    station_id: int
    producer_id: int
    product_name: str
    spec: str
    price_fen: int


class _Run:
    """One upload under way: what it found so far, batch by batch."""

    def __init__(self, session, station, platform, import_id, chosen, on_problem, layout):
        self.session, self.station, self.platform = session, station, platform
        #: problems name the file's columns, as the station sees them
        self.layout = layout
        self.import_id, self.chosen, self.on_problem = import_id, chosen, on_problem
        self.report = Report(
            id=None,
            station_id=station.id,
            platform=platform,
            filename="",
            sha256="",
            session_id=chosen.id if chosen else None,
            dry_run=False,
        )
        self.sessions = [(s, *_window(s)) for s in _station_sessions(session, station, platform)]
        #: outside product id -> the SKU it maps to (None: not mapped); grows with the file's
        #: distinct products, which are few
        self.products: dict[str, _SkuFacts | None] = {}
        #: line ids that failed in this upload, and where: a later copy fails the same way
        self.failed: dict[str, int] = {}

    # --- a batch --------------------------------------------------------------------------

    def apply(self, batch: list) -> None:
        report = self.report
        report.rows += len(batch)
        rows: list[PlatformRow] = []
        for row, problems in batch:
            if row is None:
                self._fail(problems)
            else:
                rows.append(row)
        if not rows:
            return
        known = self._known([row.line_id for row in rows])
        self._map_products({row.product_key for row in rows})
        seen: dict[str, tuple[int, str]] = {}
        new_rows: list[tuple[PlatformRow, str, _SkuFacts, int | None]] = []
        updates: list[tuple[PlatformRow, str, _Known]] = []
        for row in rows:
            if len(row.line_id) > _MAX_ID or len(row.order_id) > _MAX_ID:
                self._fail_row(row, None, f"an order id longer than {_MAX_ID} characters")
                continue
            digest = _digest(row)
            earlier = seen.get(row.line_id)
            if earlier is None and row.line_id in known:
                line = known[row.line_id]
                if line.last_import_id == self.import_id:
                    earlier = (line.source_line, line.row_digest)
            if earlier is None and row.line_id in self.failed:
                self._fail_row(row, None, f"same sub-order as line {self.failed[row.line_id]}")
                continue
            if earlier is not None:
                self._repeat(row, digest, earlier)
                continue
            seen[row.line_id] = (row.line, digest)
            if row.line_id in known:
                # A line imported before keeps its SKU, whatever the map says now.
                line = known[row.line_id]
                if line.station_id != self.station.id:
                    self._fail_row(row, None, "imported by another station")
                    continue
                updates.append((row, digest, line))
                continue
            problem = self._check(row)
            if problem is not None:
                self._fail_row(row, *problem)
                continue
            if row.status == RowStatus.unpaid or row.paid_at is None:
                report.skipped_lines += 1
                continue
            facts = self.products[row.product_key]
            matched = self._session_for(row)
            if isinstance(matched, Problem):
                self._fail_row(row, matched.column, matched.reason)
                continue
            new_rows.append((row, digest, facts, matched))
        self._create(new_rows)
        self._update(updates)

    def _fail(self, problems: list[Problem]) -> None:
        self.report.failed_lines += 1
        for problem in problems:
            self.report.add_problem(problem, self.on_problem)

    def _fail_row(self, row: PlatformRow, column: str | None, reason: str) -> None:
        self.failed.setdefault(row.line_id, row.line)
        self._fail([Problem(row.line, column, reason)])

    def _repeat(self, row: PlatformRow, digest: str, earlier: tuple[int, str]) -> None:
        line, earlier_digest = earlier
        if digest == earlier_digest:
            self.report.duplicate_lines += 1
            problem = Problem(row.line, None, f"duplicate of line {line}: taken once")
            self.report.add_problem(problem, self.on_problem)
        else:
            self._fail(
                [Problem(row.line, None, f"same sub-order as line {line}, with other values")]
            )

    def _check(self, row: PlatformRow) -> tuple[str | None, str] | None:
        if self.products.get(row.product_key) is None:
            return (
                self._column("product_key"),
                f"no SKU of this station is mapped to {self.platform.value} product "
                f"{row.product_key}",
            )
        if row.status != RowStatus.unpaid and row.paid_fen == 0:
            return self._column("paid"), "paid nothing"
        return None

    # --- what is known already ------------------------------------------------------------

    def _column(self, name: str) -> str | None:
        return getattr(self.layout, name, None) if self.layout else None

    def _known(self, line_ids: list[str]) -> dict[str, _Known]:
        rows = self.session.execute(
            sa.select(
                ImportedLine.outside_line_id,
                ImportedLine.id,
                ImportedLine.station_id,
                ImportedLine.order_id,
                ImportedLine.order_line_id,
                ImportedLine.status,
                ImportedLine.refunded_fen,
                ImportedLine.last_import_id,
                ImportedLine.source_line,
                ImportedLine.row_digest,
                OrderLine.line_total_fen,
                OrderLine.quantity,
            )
            .join(OrderLine, OrderLine.id == ImportedLine.order_line_id)
            .where(
                ImportedLine.platform == self.platform,
                ImportedLine.outside_line_id.in_(set(line_ids)),
            )
        )
        return {row[0]: _Known(*row[1:]) for row in rows}

    def _map_products(self, keys: set[str]) -> None:
        wanted = keys - self.products.keys()
        if not wanted:
            return
        rows = self.session.execute(
            sa.select(
                PlatformProduct.outside_id,
                Sku.id,
                Sku.product_id,
                Sku.station_id,
                Product.producer_id,
                Product.name,
                Sku.spec,
                Sku.price_fen,
            )
            .join(Sku, Sku.id == PlatformProduct.sku_id)
            .join(Product, Product.id == Sku.product_id)
            .where(
                PlatformProduct.station_id == self.station.id,
                PlatformProduct.platform == self.platform,
                PlatformProduct.outside_id.in_(wanted),
                # A map is kept per station: a SKU since moved elsewhere is not this station's.
                Sku.station_id == self.station.id,
            )
        )
        found = {row[0]: _SkuFacts(*row[1:]) for row in rows}
        for key in wanted:
            self.products[key] = found.get(key)

    def _session_for(self, row: PlatformRow) -> int | Problem | None:
        """The session the sale belongs to (its id), None for a sale made outside any, or the
        problem: a live sale outside every session, or one that fits two."""
        if row.live is False:
            return None
        candidates = [self.chosen] if self.chosen is not None else None
        fitting = [
            s
            for s, start, end in self.sessions
            if (candidates is None or s in candidates)
            and start <= row.placed_at <= end
            and not (row.host_account and s.host_account and s.host_account != row.host_account)
        ]
        if len(fitting) > 1 and row.host_account:
            by_host = [s for s in fitting if s.host_account == row.host_account]
            fitting = by_host or fitting
        if len(fitting) == 1:
            return fitting[0].id
        when = row.placed_at.strftime("%Y-%m-%d %H:%M")
        if len(fitting) > 1:
            codes = ", ".join(s.code for s in fitting)
            return Problem(
                row.line,
                self._column("placed_at"),
                f"placed at {when}, in sessions {codes}: choose one",
            )
        if self.chosen is not None and row.live is not False:
            return Problem(
                row.line,
                self._column("placed_at"),
                f"placed at {when}, outside session {self.chosen.code}",
            )
        if row.live:
            return Problem(
                row.line,
                self._column("placed_at"),
                f"sold live at {when}, outside any {self.platform.value} session of this "
                "station: schedule the session first, or choose it at upload",
            )
        return None  # the platform does not say it was live, and no session ran then

    # --- writing --------------------------------------------------------------------------

    def _create(self, new_rows) -> None:
        if not new_rows:
            return
        sales = [self._sale(row, facts, session_id) for row, _, facts, session_id in new_rows]
        recorded = platform_sales.record_sales(self.session, sales)
        self.session.execute(
            sa.insert(ImportedLine.__table__),
            [
                {
                    "platform": self.platform.name,
                    "outside_line_id": row.line_id,
                    "outside_order_id": row.order_id,
                    "station_id": self.station.id,
                    "order_id": order_id,
                    "order_line_id": line_ids[0],
                    "status": row.status.value,
                    "refund_state": row.refund_state.value,
                    # The refund it arrives with is applied just below.
                    "refunded_fen": _refunded_target(row) or 0,
                    "last_import_id": self.import_id,
                    "source_line": row.line,
                    "row_digest": digest,
                    "created_at": utcnow(),
                }
                for (row, digest, _, _), (order_id, line_ids) in zip(
                    new_rows, recorded, strict=True
                )
            ],
        )
        self.report.created_lines += len(new_rows)
        for (row, _, _, _), (order_id, line_ids) in zip(new_rows, recorded, strict=True):
            target = _refunded_target(row)
            if target:
                self._refund(row, order_id, line_ids[0], 0, target)

    def _sale(self, row: PlatformRow, facts: _SkuFacts, session_id) -> platform_sales.Sale:
        unit_price = row.unit_price_fen
        note = f"{self.platform.value} order {row.order_id}"
        if row.line_id != row.order_id:
            note += f", sub-order {row.line_id}"
        return platform_sales.Sale(
            platform=self.platform.value,
            reference=row.line_id,
            number="IM" + hashlib.sha1(f"{self.platform}:{row.line_id}".encode()).hexdigest()[:16],
            note=note,
            placed_at=row.placed_at,
            paid_at=row.paid_at,
            livestream_session_id=session_id,
            status=_ORDER_STATUS[row.status],
            lines=(
                platform_sales.SaleLine(
                    sku_id=facts.sku_id,
                    product_id=facts.product_id,
                    station_id=facts.station_id,
                    producer_id=facts.producer_id,
                    product_name=facts.product_name,
                    sku_spec=facts.spec,
                    unit_price_fen=unit_price,
                    quantity=row.quantity,
                    line_total_fen=row.paid_fen,
                    list_price_fen=facts.price_fen,
                ),
            ),
        )

    def _update(self, updates) -> None:
        changes = []
        for row, digest, line in updates:
            changed = False
            target = _refunded_target(row, line.line_total_fen)
            if target is not None and target < line.refunded_fen:
                self._fail_row(
                    row,
                    self._column("refunded") or self._column("refund_state"),
                    f"refunds {_yuan(target)} yuan, less than the {_yuan(line.refunded_fen)} "
                    "an earlier export refunded",
                )
                continue
            if _further(row.status, line.status):
                changed |= platform_sales.advance(
                    self.session, line.order_id, _ORDER_STATUS[row.status], reason=self._reason(row)
                )
            if target is not None and target > line.refunded_fen:
                self._refund(
                    row, line.order_id, line.order_line_id, line.refunded_fen, target, line
                )
                changed = True
            status = row.status.value if _further(row.status, line.status) else line.status
            changes.append(
                {
                    "id": line.id,
                    "status": status,
                    "refund_state": row.refund_state.value,
                    "refunded_fen": max(line.refunded_fen, target or 0),
                    "last_import_id": self.import_id,
                    "source_line": row.line,
                    "row_digest": digest,
                }
            )
            if changed:
                self.report.updated_lines += 1
            else:
                self.report.unchanged_lines += 1
        if changes:
            self.session.execute(sa.update(ImportedLine), changes)

    def _refund(self, row, order_id, order_line_id, already, target, line=None) -> None:
        quantity = line.quantity if line else row.quantity
        total = line.line_total_fen if line else row.paid_fen
        amount = target - already
        # Units go back with the last fen: a refund of the whole line returns its units.
        units = quantity if target == total else 0
        platform_sales.refund(
            self.session, order_id, [(order_line_id, amount, units)], reason=self._reason(row)
        )

    def _reason(self, row: PlatformRow) -> str:
        return f"{self.platform.value} export, line {row.line} (import {self.import_id})"


def _digest(row: PlatformRow) -> str:
    return hashlib.blake2b(repr(row.fingerprint).encode(), digest_size=16).hexdigest()


def _further(status: str, than: str) -> bool:
    if status not in _PROGRESS or than not in _PROGRESS:
        return False
    return _PROGRESS.index(status) > _PROGRESS.index(than)


def _refunded_target(row: PlatformRow, line_total: int | None = None) -> int | None:
    """What the platform says was refunded of the line so far; None: nothing said."""
    total = row.paid_fen if line_total is None else line_total
    if row.status == RowStatus.closed:
        return total
    if row.refund_state == RefundState.refunded:
        return total if row.refunded_fen is None else min(row.refunded_fen, total)
    return None


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# --- reading uploads --------------------------------------------------------------------------


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
