"""One upload under way, batch by batch: each row classified (new, seen before, a repeat in the
same file, a failure) against what the database holds, then handed to ``lines.py``. What is
remembered across batches is in the database (each line's last upload, line and digest; each
problem, with the (sub-)order id a line failed for), so memory stays flat however long the
file, and an import resumed after its worker died knows what the batches before it found. The
upload's record keeps the first ``MAX_PROBLEMS`` problems; every one is an ``ImportProblem``."""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from marketplace.catalog.models import Product, Sku
from marketplace.livestreams.models import Platform
from marketplace.orders.models import OrderLine
from marketplace.platform_sales import lines
from marketplace.platform_sales.models import ImportedLine, ImportProblem, PlatformProduct
from marketplace.platform_sales.rows import PlatformRow, Problem, RowStatus
from marketplace.platform_sales.sessions import SessionMatcher
from marketplace.reasons import Message, reason

MAX_PROBLEMS = 1000
#: The longest (sub-)order id we keep (ImportedLine.outside_line_id).
_MAX_ID = 64

ORDER_ID_TOO_LONG = reason(
    "platform_row.order_id_too_long", "an order id longer than {max_length} characters"
)
SAME_AS_FAILED_LINE = reason("platform_row.same_as_failed_line", "same sub-order as line {line}")
OTHER_STATION_LINE = reason("platform_row.imported_by_other_station", "imported by another station")
DUPLICATE_LINE = reason("platform_row.duplicate", "duplicate of line {line}: taken once")
CONTRADICTS_LINE = reason(
    "platform_row.contradicts_line", "same sub-order as line {line}, with other values"
)
PRODUCT_NOT_MAPPED = reason(
    "platform_row.product_not_mapped",
    "no SKU of this station is mapped to {platform} product {product_key}",
)
PAID_NOTHING = reason("platform_row.paid_nothing", "paid nothing")


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
    job_id: int | None = None
    complete: bool = True

    def add_problem(self, problem: Problem, on_problem=None) -> None:
        if on_problem is not None:
            on_problem(problem)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem.as_dict())
        else:
            self.problems_not_kept += 1


@dataclass(frozen=True)
class Known:
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
class SkuFacts:
    sku_id: int
    product_id: int
    station_id: int
    producer_id: int
    product_name: str
    spec: str
    price_fen: int


class ImportRun:
    """One upload under way: what it found so far, batch by batch."""

    def __init__(self, session, station, platform, import_id, chosen, on_problem, layout):
        self.session, self.station, self.platform = session, station, platform
        #: problems name the file's columns, as the station sees them
        self.layout = layout
        self.import_id, self.on_problem = import_id, on_problem
        self.report = Report(
            id=None,
            station_id=station.id,
            platform=platform,
            filename="",
            sha256="",
            session_id=chosen.id if chosen else None,
            dry_run=False,
        )
        self.sessions = SessionMatcher(session, station, platform, chosen, self.column)
        #: outside product id -> the SKU it maps to (None: not mapped); grows with the file's
        #: distinct products, which are few
        self.products: dict[str, SkuFacts | None] = {}
        #: line ids of this batch that failed in this upload, and where: a later copy fails
        #: the same way (read from the problems kept before the batch, grown by the batch)
        self.failed: dict[str, int] = {}
        #: this batch's problems, written with it
        self.pending: list[dict] = []

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
        if rows:
            self._classify(rows)
        self._keep_problems()

    def _classify(self, rows: list[PlatformRow]) -> None:
        report = self.report
        known = self._known([row.line_id for row in rows])
        self.failed = self._failed_before([row.line_id for row in rows])
        self._map_products({row.product_key for row in rows})
        seen: dict[str, tuple[int, str]] = {}
        new_rows: list[tuple[PlatformRow, str, SkuFacts, int | None]] = []
        updates: list[tuple[PlatformRow, str, Known]] = []
        for row in rows:
            if len(row.line_id) > _MAX_ID or len(row.order_id) > _MAX_ID:
                self.fail_row(row, None, ORDER_ID_TOO_LONG(max_length=_MAX_ID))
                continue
            digest = lines.digest(row)
            earlier = seen.get(row.line_id)
            if earlier is None and row.line_id in known:
                line = known[row.line_id]
                if line.last_import_id == self.import_id:
                    earlier = (line.source_line, line.row_digest)
            if earlier is None and row.line_id in self.failed:
                self.fail_row(row, None, SAME_AS_FAILED_LINE(line=self.failed[row.line_id]))
                continue
            if earlier is not None:
                self._repeat(row, digest, earlier)
                continue
            seen[row.line_id] = (row.line, digest)
            if row.line_id in known:
                # A line imported before keeps its SKU, whatever the map says now.
                line = known[row.line_id]
                if line.station_id != self.station.id:
                    self.fail_row(row, None, OTHER_STATION_LINE())
                    continue
                updates.append((row, digest, line))
                continue
            problem = self._check(row)
            if problem is not None:
                self.fail_row(row, *problem)
                continue
            if row.status == RowStatus.unpaid or row.paid_at is None:
                report.skipped_lines += 1
                continue
            facts = self.products[row.product_key]
            matched = self.sessions.match(row)
            if isinstance(matched, Problem):
                self.fail_row(row, matched.column, matched.reason)
                continue
            new_rows.append((row, digest, facts, matched))
        lines.create(self, new_rows)
        lines.update(self, updates)

    def _fail(self, problems: list[Problem], failed_line_id: str | None = None) -> None:
        self.report.failed_lines += 1
        for problem in problems:
            self._problem(problem, failed_line_id)

    def _problem(self, problem: Problem, failed_line_id: str | None = None) -> None:
        self.report.add_problem(problem, self.on_problem)
        self.pending.append(
            {
                "import_id": self.import_id,
                "line": problem.line,
                "column": problem.column,
                "reason": {"code": problem.reason.code, "params": problem.reason.params},
                "failed_line_id": failed_line_id,
            }
        )

    def fail_row(self, row: PlatformRow, column: str | None, reason: Message) -> None:
        first = row.line_id not in self.failed
        self.failed.setdefault(row.line_id, row.line)
        failed_line_id = row.line_id[:_MAX_ID] if first else None
        self._fail([Problem(row.line, column, reason)], failed_line_id)

    def _keep_problems(self) -> None:
        if self.pending:
            self.session.execute(sa.insert(ImportProblem.__table__), self.pending)
        self.pending = []

    def _failed_before(self, line_ids: list[str]) -> dict[str, int]:
        """Which of these (sub-)orders failed earlier in this upload, and on which line."""
        rows = self.session.execute(
            sa.select(ImportProblem.failed_line_id, sa.func.min(ImportProblem.line))
            .where(
                ImportProblem.import_id == self.import_id,
                ImportProblem.failed_line_id.in_({line_id[:_MAX_ID] for line_id in line_ids}),
            )
            .group_by(ImportProblem.failed_line_id)
        )
        return {line_id: line for line_id, line in rows}

    def _repeat(self, row: PlatformRow, digest: str, earlier: tuple[int, str]) -> None:
        line, earlier_digest = earlier
        if digest == earlier_digest:
            self.report.duplicate_lines += 1
            self._problem(Problem(row.line, None, DUPLICATE_LINE(line=line)))
        else:
            self._fail([Problem(row.line, None, CONTRADICTS_LINE(line=line))])

    def _check(self, row: PlatformRow) -> tuple[str | None, Message] | None:
        if self.products.get(row.product_key) is None:
            return (
                self.column("product_key"),
                PRODUCT_NOT_MAPPED(platform=self.platform.value, product_key=row.product_key),
            )
        if row.status != RowStatus.unpaid and row.paid_fen == 0:
            return self.column("paid"), PAID_NOTHING()
        return None

    # --- what is known already ------------------------------------------------------------

    def column(self, name: str) -> str | None:
        return getattr(self.layout, name, None) if self.layout else None

    def _known(self, line_ids: list[str]) -> dict[str, Known]:
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
        return {row[0]: Known(*row[1:]) for row in rows}

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
        found = {row[0]: SkuFacts(*row[1:]) for row in rows}
        for key in wanted:
            self.products[key] = found.get(key)
