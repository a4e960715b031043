"""Import a registry file into the household registry.

Every row is validated first, against the same rules as the API and against the database;
then either everything is inserted in one transaction, in bulk, or nothing is. The caller
(the ``flask households import`` command, or the registry import job of ``registry_jobs``)
owns the transaction and the progress display.
"""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.households import service
from marketplace.households.models import Household, HouseholdStatusChange, PayoutAccount
from marketplace.households.registry_file import (
    RegistryRow,
    RowProblem,
    decode_registry_file,
    parse_row,
    read_headers,
)
from marketplace.regions.models import Region, RegionLevel
from marketplace.regions.service import in_subtree_of

#: Rows per INSERT statement, and values per IN (...) lookup.
BATCH_SIZE = 500

Progress = Callable[..., Iterable]


def _no_progress(iterable, **kwargs):
    return iterable


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    with_payout_account: int = 0
    skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def import_registry(
    session,
    raw: bytes,
    *,
    dry_run: bool = False,
    skip_existing: bool = False,
    today: date | None = None,
    progress: Progress = _no_progress,
    within_region_id: int | None = None,
) -> ImportReport:
    """Validate every row of a registry file, then insert all of it or nothing.

    A row whose registry number is already registered is a problem, unless ``skip_existing``:
    then it is skipped (counted, left unchanged) when it names the same head ID number, so an
    interrupted or repeated import can be run again. ``within_region_id``: only villages of
    that region's subtree may be named (an official's import).
    """
    today = today or shanghai_today()
    report = ImportReport()
    try:
        text = decode_registry_file(raw)
    except UnicodeDecodeError:
        report.problems.append(RowProblem(1, "", "the file is neither UTF-8 nor GB18030 text"))
        return report
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers, report.problems = read_headers(reader)
        if not report.ok:
            return report
        records = [(reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)]
    except csv.Error as error:
        # An unclosed quote, or a cell longer than any registry field could be.
        report.problems.append(RowProblem(reader.line_num, "", f"not CSV here: {error}"))
        return report
    rows = [
        parse_row(line, headers, cells, today)
        for line, cells in progress(records, desc="validating", unit=" rows")
    ]
    report.rows = len(rows)
    if not rows:
        report.problems.append(RowProblem(1, "", "the file has no data rows"))
        return report
    new_rows, report.skipped = _check_against_registry(
        session, rows, skip_existing=skip_existing, within_region_id=within_region_id
    )
    for row in rows:
        report.problems.extend(row.problems)
    if not report.ok or dry_run:
        return report
    _insert(session, new_rows, progress)
    report.created = len(new_rows)
    report.with_payout_account = sum(1 for row in new_rows if row.payout is not None)
    return report


def _chunks(items: list, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_against_registry(
    session, rows: list[RegistryRow], *, skip_existing: bool, within_region_id: int | None
):
    """Villages, duplicates in the file and in the registry, each checked in bulk queries.

    Returns the rows to insert and how many were skipped as already registered.
    """
    _resolve_villages(session, rows, within_region_id)
    first_line_of_number, first_line_of_head = _repeats_in_file(rows)
    # registry number -> head ID lookup hash, and back, of the households already registered
    registered_heads = _lookup(
        session, Household.registry_number, Household.head_id_lookup, first_line_of_number
    )
    heads_in_use = _lookup(
        session, Household.head_id_lookup, Household.registry_number, first_line_of_head
    )
    to_insert, skipped = [], 0
    for row in rows:
        number = row.registry_number
        if number in registered_heads:
            skipped += 1
            if not skip_existing:
                row.problem("建档立卡编号", "already registered (--skip-existing skips such rows)")
            elif row.head_id_lookup not in (None, registered_heads[number]):
                row.problem("身份证号", "differs from the head registered under this number")
            continue
        if row.head_id_lookup in heads_in_use:
            row.problem("身份证号", "already registered as the head of another household")
        if row.household:
            to_insert.append(row)
    return to_insert, skipped


def _lookup(session, key, value, keys, *conditions) -> dict:
    """``{key: value}`` of the rows whose ``key`` column holds one of ``keys``, in batches."""
    found = {}
    for chunk in _chunks(sorted(keys)):
        found.update(
            session.execute(sa.select(key, value).where(key.in_(chunk), *conditions)).all()
        )
    return found


def _resolve_villages(session, rows: list[RegistryRow], within_region_id: int | None) -> None:
    """Each row's village from its code, or a problem with the code."""
    codes = {row.village_code for row in rows if row.village_code}
    conditions = [Region.level == RegionLevel.village]
    if within_region_id is not None:
        conditions.append(in_subtree_of(Region.id, within_region_id))
    villages = _lookup(session, Region.code, Region.id, codes, *conditions)
    for row in rows:
        if row.village_code and row.village_code not in villages:
            if within_region_id is None:
                row.problem("村代码", "is not the 12-digit code of a known village")
            else:
                row.problem("村代码", "is not the 12-digit code of a village of your region")
        elif row.household:
            row.household["village_id"] = villages[row.village_code]


def _repeats_in_file(rows: list[RegistryRow]) -> tuple[dict, dict]:
    """A problem on each row repeating an earlier row's registry number or head; returns the
    first line of each registry number and of each head (ID lookup hash)."""
    first_line_of_number, first_line_of_head = {}, {}
    for row in rows:
        number, head = row.registry_number, row.head_id_lookup
        if number is not None and number in first_line_of_number:
            row.problem("建档立卡编号", f"repeats line {first_line_of_number[number]}")
        if head is not None and head in first_line_of_head:
            row.problem("身份证号", f"repeats line {first_line_of_head[head]}")
        if number is not None:
            first_line_of_number.setdefault(number, row.line)
        if head is not None:
            first_line_of_head.setdefault(head, row.line)
    return first_line_of_number, first_line_of_head


def _insert(session, rows: list[RegistryRow], progress: Progress) -> None:
    # render_nulls: rows with empty optional cells join the others' multi-row INSERT instead
    # of being batched apart by which keys they carry.
    bulk = {"render_nulls": True}
    batches = list(_chunks(rows))
    for batch in progress(batches, desc="importing", unit=" batches"):
        household_values = []
        for row in batch:
            data = row.household
            encrypted, lookup, masked = service.protect_number(data["head_id_number"])
            household_values.append(
                {
                    "registry_number": data["registry_number"],
                    "head_name": data["head_name"],
                    "head_id_encrypted": encrypted,
                    "head_id_lookup": lookup,
                    "head_id_masked": masked,
                    "phone": data["phone"],
                    "members_count": data["members_count"],
                    "village_id": data["village_id"],
                    "address": data["address"],
                    "poverty_causes": [cause.value for cause in data["poverty_causes"]],
                    "helper_name": data["helper_name"],
                    "helper_phone": data["helper_phone"],
                    "status": data["status"],
                    "monitoring_type": data["monitoring_type"],
                }
            )
        # Matched back by registry number: a multi-row INSERT need not return rows in order.
        id_of = dict(
            session.execute(
                sa.insert(Household).returning(Household.registry_number, Household.id),
                household_values,
                execution_options=bulk,
            ).all()
        )
        ids = [id_of[row.household["registry_number"]] for row in batch]
        session.execute(
            sa.insert(HouseholdStatusChange),
            [
                {
                    "household_id": household_id,
                    "status": row.household["status"],
                    "monitoring_type": row.household["monitoring_type"],
                    "effective_from": row.household["status_effective_from"],
                    "note": "imported from a registry file",
                }
                for household_id, row in zip(ids, batch, strict=True)
            ],
            execution_options=bulk,
        )
        accounts = [
            {"household_id": household_id, **service.payout_account_columns(row.payout)}
            for household_id, row in zip(ids, batch, strict=True)
            if row.payout is not None
        ]
        if accounts:
            session.execute(sa.insert(PayoutAccount), accounts, execution_options=bulk)
