"""On PostgreSQL, with a registry and a ledger large enough that the planner means it (the
county reported on is a twentieth of a province's households, each with two years of monthly
income), every statement of a county's month, quarter and year report, and of a village's month,
reads an index and scans no table that grows with the ledger or the province: not the rollups
it reads the money from (the village rollup above a village), not the postings (only those of
the few entries that adjust a closed month, found from their entries), not the households, not
their status history; and nothing but an index probe runs once per household."""

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from marketplace.extensions import db as flask_db

pytestmark = pytest.mark.postgres

#: Households in the county reported on, and in the rest of the province.
COUNTY_HOUSEHOLDS = 1_000
PROVINCE_HOUSEHOLDS = 19_000
MONTHS = 24
#: Tables that grow with the ledger or the province: never read whole.
GROWING = {
    "household_income_months",
    "postings",
    "journal_entries",
    "households",
    "household_status_changes",
    "village_income_months",
    "village_reach_months",
}


@pytest.fixture
def province(session, regions, shop):
    """Households spread over the county's four villages and the other county's village, each
    with a status and a year of income, some from the co-op, some paid out; analysed."""
    villages = [
        regions.village_a1.id,
        regions.village_a2.id,
        regions.village_b1.id,
        regions.village_b2.id,
    ]
    total = COUNTY_HOUSEHOLDS + PROVINCE_HOUSEHOLDS
    session.execute(
        sa.text(
            """
            INSERT INTO households (registry_number, head_name, head_id_encrypted,
                head_id_lookup, head_id_masked, members_count, village_id, poverty_causes,
                status, created_at, updated_at, version)
            SELECT 'P' || n, '户主' || n, 'x', 'lookup-' || n, 'masked', 1 + n % 5,
                CASE WHEN n <= :county THEN (:villages)[1 + n % 4] ELSE :far END,
                '["illness"]', 'lifted', now(), now(), 1
            FROM generate_series(1, :total) AS n
            """
        ),
        {"county": COUNTY_HOUSEHOLDS, "villages": villages, "far": regions.other_village.id,
         "total": total},
    )  # fmt: skip
    session.execute(
        sa.text(
            """
            INSERT INTO household_status_changes (household_id, status, effective_from,
                recorded_at)
            SELECT id, 'lifted', DATE '2016-01-01', now() FROM households
            WHERE registry_number LIKE 'P%'
            """
        )
    )
    session.execute(
        sa.text(
            """
            INSERT INTO household_income_months (household_id, month, kind, producer_id,
                fund_id, amount_fen, postings)
            SELECT h.id, (DATE '2025-01-01' + make_interval(months => m))::date, k.kind,
                CASE WHEN k.kind = 'attribution' THEN :producer ELSE 0 END, 0,
                CASE WHEN k.kind = 'attribution' THEN -1000 - h.id % 97 ELSE 500 END, 3
            FROM households h
            CROSS JOIN generate_series(0, :months - 1) AS m
            CROSS JOIN (VALUES ('attribution'), ('payout_approved')) AS k(kind)
            WHERE h.registry_number LIKE 'P%'
            """
        ),
        {"producer": shop.producer.id, "months": MONTHS},
    )
    for table in ("households", "household_status_changes", "household_income_months"):
        session.execute(sa.text(f"ANALYZE {table}"))
    session.flush()


def _statements_of(client, headers, url, query) -> list[tuple[str, object]]:
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(flask_db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url, query_string=query, headers=headers)
    finally:
        event.remove(flask_db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.json
    return sent


def tables_read(session, statements, growing: set[str]) -> set[str]:
    """The tables the statements' plans read, each plan asserted to scan none of ``growing``
    and to run nothing but an index probe of them once per row of an outer node."""
    # The test has a province's proportions, not its size: at 20,000 households a parallel
    # sequential scan of them costs about what the county's index range does, and which one
    # the planner takes then turns on the table's last analysis. At a province's millions the
    # parallel scan is not close; without it, the plans here are the ones a province gets.
    session.connection().exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    read = set()
    for statement, parameters in statements:
        document = (
            session.connection()
            .exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            .scalar_one()
        )
        if isinstance(document, str):
            document = json.loads(document)
        plan = document[0]["Plan"]
        for node, per_row in _nodes(plan):
            table = node.get("Relation Name")
            read.add(table)
            # Run once per row, a subplan may only probe an index (a bitmap heap scan reads
            # the rows its index scan found): anything else reads the table again for every
            # household (a year's report once took minutes so).
            assert not (per_row and table in growing and not _probes_an_index(node)), (
                f"{node['Node Type']} on {table} per row in: {' '.join(statement.split())}"
            )
            assert not (table in growing and node["Node Type"] == "Seq Scan"), (
                f"{node['Node Type']} on {table} in: {' '.join(statement.split())}\n"
                + json.dumps(plan, indent=1)
            )
    return read


def _probes_an_index(node: dict) -> bool:
    if node["Node Type"] == "Bitmap Heap Scan":
        return all(_probes_an_index(child) for child in node.get("Plans", []))
    return "Index" in node["Node Type"] or node["Node Type"] in ("BitmapAnd", "BitmapOr")


def _nodes(plan: dict, per_row: bool = False):
    """Each node, with whether it runs once per row of an outer one (a subplan not hashed)."""
    yield plan, per_row
    for child in plan.get("Plans", []):
        again = child.get("Parent Relationship") == "SubPlan" and not child.get(
            "Subplan Name", ""
        ).startswith("hashed")
        yield from _nodes(child, per_row or again)


#: The regions and periods a report's plan is read for: a county's month, quarter and year,
#: and a village's month.
REGIONS_AND_PERIODS = pytest.mark.parametrize(
    ("region", "period"),
    [("county", "2026-06"), ("county", "2026-Q2"), ("county", "2026"), ("village_a1", "2026-06")],
)


@REGIONS_AND_PERIODS
def test_a_report_reads_indexes_only(client, session, money, regions, province, region, period):
    statements = _statements_of(
        client,
        money.admin_headers,
        "/api/v1/reports/income",
        {"region_id": getattr(regions, region).id, "period": period},
    )
    assert statements
    read = tables_read(session, statements, GROWING)
    # Above a village the money is the village rollup's; a village's is its households'.
    money = "village_income_months" if region == "county" else "household_income_months"
    assert money in read
