"""Reports benchmark: the officials' income report on a big county, against the same figures
computed by one hand-written SQL statement, in the same run.

    python bench/reports.py [--db sqlite|postgres] [--households 50000] [--months 24] \
        [--duration 10] [--strict]

Builds a scratch database (a temporary SQLite file, or a fresh PostgreSQL database dropped
afterwards), migrates it and loads the generated county 云杉县 with ``flask seed county`` (about
ten million postings at the default size on PostgreSQL), then:

  * **correctness**: for every report measured, compares the report's figures (each row and
    the totals: gross, refunds and net by source, paid out, households registered and reached,
    members, per capita, coverage by status) with those of the raw SQL statement, to the fen;
  * **statements**: counts the SQL statements of one report request in process (Flask test
    client on the scratch database, a ``before_cursor_execute`` listener) for the county and
    for a village, each for a month and for a year: per level the two counts must be equal;
  * **the raw SQL baseline**: one statement per report, straight from postings, journal
    entries, households and regions, run in a loop on one connection of the driver (psycopg 3
    or sqlite3) with no endpoint around it, its median time per call;
  * **the served report**: gunicorn, one connection (wrk -c1, or the Python client), so no
    request queues and its median latency is its time per request; ping before and after as
    the other benchmarks do.

It prints each report's time per request as a ratio to its raw SQL's (target: at most 0.1x on
PostgreSQL: the report reads the household income rollup, a row per household and month, where
the raw statement sums every posting) and each row's rate as a ratio to ping. ``--strict``
exits 1 when a target is missed; a failed check always exits 1. It stops gunicorn and drops the
scratch database however it ends.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from harness import (
    HOST,
    PING,
    PROJECT_ROOT,
    Gunicorn,
    add_common_arguments,
    app_environment,
    apply_smoke,
    baseline_rate,
    choose_client,
    client_name,
    free_port,
    get_targets,
    log,
    login,
    print_table,
    request,
    scratch_session,
    wait_until_healthy,
)

OFFICIAL = {"username": "bench_official", "password": "bench-official-2024"}
REPORT = "/api/v1/reports/income"
CHANNELS = "/api/v1/reports/channels"
#: The report's time per request as a share of the raw SQL's at most (PostgreSQL): it reads the
#: rollup the ledger keeps with its postings, the raw SQL the postings themselves.
TARGET_RATIO = 0.1
SOURCES = (
    "own_sales",
    "coop_dividends",
    "enterprise_linking",
    "assistance_funds",
    "livestream_pledges",
)
STATUSES = ("in_poverty", "lifted", "monitoring")
EARNING = ("attribution", "refund_reversal", "fund_disbursement", "minimum_dividend")
PAYOUT = ("payout_approved", "payout_returned")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, products=0)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--loaded-database",
        metavar="URL",
        help="measure this PostgreSQL database, already loaded by `flask seed county` (and "
        "migrated), instead of loading a scratch one: kept afterwards. The load takes most of a "
        "run at the default size; this measures the same county again in minutes",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the report's statements and of the raw one (PostgreSQL)",
    )
    parser.set_defaults(concurrency=1)
    args = parser.parse_args()
    apply_smoke(args, households=200, months=3, duration=1, warmup=0, workers=2)
    return args


def main() -> int:
    args = parse_args()
    measure = choose_client(args)
    if measure is None:
        return 2
    if args.loaded_database:
        with tempfile.TemporaryDirectory(prefix="mkt-bench-") as folder:
            database = LoadedDatabase(args.loaded_database)
            return run(args, Path(folder), database, measure)
    with scratch_session(args) as (folder, database):
        return run(args, folder, database, measure)


class LoadedDatabase:
    """``--loaded-database``: a county loaded before the run, measured as a scratch one is."""

    kind = "postgres"

    def __init__(self, url: str):
        self.url = url.replace("postgresql://", "postgresql+psycopg://", 1)


# --- periods and the raw statement ------------------------------------------------------------


def periods(months: int) -> dict[str, str]:
    """The month, quarter and year the run reports on: the window's last month, the last
    quarter wholly inside the window (else the last month's), and the last year with most of
    its months in it."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from seed.county import window

    firsts = window(months)
    last = firsts[-1]
    quarter = None
    for first in reversed(firsts):
        if first.month in (1, 4, 7, 10) and date(first.year, first.month + 2, 1) <= last:
            quarter = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
            break
    quarter = quarter or f"{last.year}-Q{(last.month - 1) // 3 + 1}"
    years = {}
    for first in firsts:
        years[first.year] = years.get(first.year, 0) + 1
    year = max(years, key=lambda y: (years[y], y))
    return {"month": f"{last:%Y-%m}", "quarter": quarter, "year": str(year)}


def period_days(label: str) -> tuple[date, date]:
    from marketplace.periods import parse_period

    period = parse_period(label)
    return period.start, period.end


def raw_statement(level: str, marker) -> str:
    """One statement computing the report's figures straight from the tables. ``level`` is the
    level of the region reported on; its rows are grouped by child region (a household at
    village level). ``marker(name)`` writes the driver's parameter marker."""
    group = {"county": "v.parent_id", "township": "h.village_id", "village": "h.id"}[level]
    earning = ", ".join(f"'{kind}'" for kind in EARNING)
    payout = ", ".join(f"'{kind}'" for kind in PAYOUT)
    start, end, path = marker("start"), marker("end"), marker("path")
    in_region = f"v.level = 'village' AND v.path LIKE {path}"
    return f"""
WITH money AS (
    SELECT p.household_id, {group} AS grp, e.kind,
           CASE WHEN e.kind = 'fund_disbursement' THEN
                    CASE WHEN f.bound THEN 'livestream_pledges' ELSE 'assistance_funds' END
                WHEN e.kind = 'minimum_dividend' THEN 'coop_dividends'
                WHEN pr.kind = 'household' THEN 'own_sales'
                WHEN pr.kind = 'cooperative' THEN 'coop_dividends'
                ELSE 'enterprise_linking' END AS source,
           SUM(p.amount_fen) AS amount
    FROM postings p
    JOIN ledger_accounts a ON a.id = p.account_id
    JOIN households h ON h.id = p.household_id
    JOIN regions v ON v.id = h.village_id
    JOIN journal_entries e ON e.id = p.entry_id
    LEFT JOIN order_lines ol ON ol.id = p.order_line_id
    LEFT JOIN producers pr ON pr.id = ol.producer_id
    LEFT JOIN fund_disbursements fd ON fd.id = e.fund_disbursement_id
    LEFT JOIN assistance_funds f ON f.id = fd.fund_id
    WHERE a.kind = 'household_income' AND {in_region}
      AND p.effective_on BETWEEN {start} AND {end}
      AND e.kind IN ({earning}, {payout})
    GROUP BY p.household_id, {group}, e.kind, 4
),
status_at AS (
    SELECT household_id, status FROM (
        SELECT household_id, status, row_number() OVER (
            PARTITION BY household_id ORDER BY effective_from DESC, id DESC) AS rank
        FROM household_status_changes WHERE effective_from <= {end}
    ) ranked WHERE rank = 1
)
SELECT 'money' AS part, grp, source AS label,
       SUM(CASE WHEN kind IN ({payout}, 'refund_reversal') THEN 0 ELSE -amount END),
       SUM(CASE WHEN kind = 'refund_reversal' THEN amount ELSE 0 END),
       SUM(CASE WHEN kind IN ({payout}) THEN amount ELSE 0 END)
FROM money GROUP BY grp, source
UNION ALL
SELECT 'households', {group}, COALESCE(s.status, ''), COUNT(*),
       SUM(CASE WHEN r.household_id IS NULL THEN 0 ELSE 1 END),
       SUM(CASE WHEN r.household_id IS NULL THEN 0 ELSE h.members_count END)
FROM households h
JOIN regions v ON v.id = h.village_id
LEFT JOIN status_at s ON s.household_id = h.id
LEFT JOIN (SELECT DISTINCT household_id FROM money WHERE kind IN ({earning})) r
       ON r.household_id = h.id
WHERE {in_region}
GROUP BY {group}, s.status
"""


def raw_channels_statement(marker) -> str:
    """One statement computing the channel report's figures by channel straight from the
    postings of the region's produce: orders attributed, gross, refunds and attributed income.
    ``marker(name)`` writes the driver's parameter marker."""
    start, end, path = marker("start"), marker("end"), marker("path")
    return f"""
SELECT CASE WHEN o.channel = 'imported' THEN 'imported:' || (
            SELECT pay.method FROM payments pay
            WHERE pay.order_id = o.id AND pay.gateway = 'platform' AND pay.state = 'succeeded'
            LIMIT 1)
       ELSE o.channel END AS channel,
       COUNT(DISTINCT CASE WHEN e.kind = 'attribution' THEN o.id END),
       SUM(CASE WHEN a.kind = 'gateway_clearing' AND e.kind = 'attribution'
                THEN p.amount_fen ELSE 0 END),
       SUM(CASE WHEN a.kind = 'gateway_clearing' AND e.kind = 'refund_reversal'
                THEN -p.amount_fen ELSE 0 END),
       SUM(CASE WHEN a.kind = 'household_income' THEN -p.amount_fen ELSE 0 END)
FROM postings p
JOIN journal_entries e ON e.id = p.entry_id
JOIN ledger_accounts a ON a.id = p.account_id
JOIN order_lines ol ON ol.id = p.order_line_id
JOIN products pr ON pr.id = ol.product_id
JOIN regions v ON v.id = pr.origin_village_id
JOIN orders o ON o.id = ol.order_id
WHERE p.effective_on BETWEEN {start} AND {end}
  AND e.kind IN ('attribution', 'refund_reversal') AND v.path LIKE {path}
GROUP BY 1
"""


def channel_differences(report: dict, rows: list[tuple]) -> list[str]:
    """Where the channel report's figures by channel differ from the raw statement's."""
    expected = {
        channel: {
            "orders": int(orders),
            "gross_fen": int(gross),
            "refunds_fen": int(refunds),
            "net_fen": int(gross) - int(refunds),
            "attributed_fen": int(attributed),
        }
        for channel, orders, gross, refunds, attributed in rows
    }
    named = ("orders", "gross_fen", "refunds_fen", "net_fen", "attributed_fen")
    got = {row["channel"]: {name: row[name] for name in named} for row in report["by_channel"]}
    found = []
    for channel in sorted(set(expected) | set(got)):
        if expected.get(channel) != got.get(channel):
            found.append(f"{channel}: report {got.get(channel)}, raw SQL {expected.get(channel)}")
    return found


class RawSql:
    """The driver itself (psycopg 3 or sqlite3), one connection, no SQLAlchemy."""

    def __init__(self, database):
        self.kind = database.kind
        if self.kind == "postgres":
            import psycopg

            url = database.url.replace("postgresql+psycopg://", "postgresql://", 1)
            self.connection = psycopg.connect(url, autocommit=True)
            # As the app's own connections are set (marketplace/db.py): the same server, the
            # same settings on both sides of the ratio.
            self.connection.execute("SET jit = off")
            self.marker = lambda name: f"%({name})s"
        else:
            import sqlite3

            self.connection = sqlite3.connect(database.url.removeprefix("sqlite:///"))
            self.marker = lambda name: f":{name}"

    def statement(self, level: str) -> str:
        return raw_statement(level, self.marker)

    def parameters(self, path: str, label: str) -> dict:
        start, end = period_days(label)
        if self.kind == "sqlite":
            start, end = start.isoformat(), end.isoformat()
        return {"path": path + "%", "start": start, "end": end}

    def fetch(self, sql: str, parameters: dict) -> list[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


def fold(rows: list[tuple]) -> dict:
    """The raw statement's rows as {group: figures}, figures shaped as the report's."""

    def empty():
        return {
            "by_source": {s: {"gross_fen": 0, "refunds_fen": 0, "net_fen": 0} for s in SOURCES},
            "gross_fen": 0,
            "refunds_fen": 0,
            "net_fen": 0,
            "paid_out_fen": 0,
            "households_registered": 0,
            "households_reached": 0,
            "members_reached": 0,
            "per_capita_fen": 0,
            "coverage": {s: {"registered": 0, "reached": 0} for s in STATUSES},
        }

    groups: dict = {}
    for part, group, label, a, b, c in rows:
        figures = groups.setdefault(group, empty())
        a, b, c = int(a or 0), int(b or 0), int(c or 0)
        if part == "money":
            source = figures["by_source"][label]
            source["gross_fen"] += a
            source["refunds_fen"] += b
            figures["gross_fen"] += a
            figures["refunds_fen"] += b
            figures["paid_out_fen"] += c
        else:
            figures["households_registered"] += a
            figures["households_reached"] += b
            figures["members_reached"] += c
            if label:
                figures["coverage"][label]["registered"] += a
                figures["coverage"][label]["reached"] += b
    totals = empty()
    for figures in groups.values():
        for source in SOURCES:
            for name in ("gross_fen", "refunds_fen"):
                totals["by_source"][source][name] += figures["by_source"][source][name]
        for name in (
            "gross_fen",
            "refunds_fen",
            "paid_out_fen",
            "households_registered",
            "households_reached",
            "members_reached",
        ):
            totals[name] += figures[name]
        for status in STATUSES:
            for name in ("registered", "reached"):
                totals["coverage"][status][name] += figures["coverage"][status][name]
    for figures in [*groups.values(), totals]:
        for part in figures["by_source"].values():
            part["net_fen"] = part["gross_fen"] - part["refunds_fen"]
        figures["net_fen"] = figures["gross_fen"] - figures["refunds_fen"]
        members, net = figures["members_reached"], figures["net_fen"]
        # Half up to the fen, away from zero: worked out here again, not imported.
        rounded = (2 * abs(net) + members) // (2 * members) if members else 0
        figures["per_capita_fen"] = -rounded if net < 0 else rounded
    return {"groups": groups, "totals": totals, "empty": empty()}


FIGURES = (
    "gross_fen",
    "refunds_fen",
    "net_fen",
    "paid_out_fen",
    "households_registered",
    "households_reached",
    "members_reached",
    "per_capita_fen",
)


def differences(report: dict, raw: dict, key: str) -> list[str]:
    """Every figure of the report that the raw statement does not give, named."""
    found = []

    def compare(where: str, mine: dict, theirs: dict) -> None:
        for name in FIGURES:
            if mine[name] != theirs[name]:
                found.append(f"{where} {name}: report {mine[name]}, raw SQL {theirs[name]}")
        for source in SOURCES:
            for name in ("gross_fen", "refunds_fen", "net_fen"):
                a, b = mine["by_source"][source][name], theirs["by_source"][source][name]
                if a != b:
                    found.append(f"{where} {source}.{name}: report {a}, raw SQL {b}")
        for status in STATUSES:
            for name in ("registered", "reached"):
                a, b = mine["coverage"][status][name], theirs["coverage"][status][name]
                if a != b:
                    found.append(f"{where} coverage.{status}.{name}: report {a}, raw SQL {b}")

    listed = {row[key] for row in report["rows"]}
    for row in report["rows"]:
        compare(f"{key} {row[key]}", row, raw["groups"].get(row[key], raw["empty"]))
    for group in raw["groups"].keys() - listed:
        found.append(f"{key} {group}: in the raw SQL's figures, not among the report's rows")
    compare("totals", report["totals"], raw["totals"])
    return found


# --- the run -----------------------------------------------------------------------------------


def load_county(env: dict, args) -> float:
    log(f"migrating the scratch {args.db} database")
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    log(f"generating the county: {args.households} households, {args.months} months")
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "flask", "seed", "county",
            "--households", str(args.households),
            "--months", str(args.months),
            "--seed", str(args.seed),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=6 * 3600,
    )  # fmt: skip
    return time.monotonic() - started


def in_process(args, env: dict, labels: dict) -> dict:
    """The county's regions, the statement counts and each report's JSON, through the Flask
    test client on the scratch database (this process only; the server is gunicorn)."""
    os.environ.update(env)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    import sqlalchemy as sa
    from sqlalchemy import event

    from marketplace import create_app
    from marketplace.extensions import db
    from marketplace.households.models import Household
    from marketplace.regions.models import Region
    from seed.county import COUNTY_CODE

    app = create_app()
    with app.app_context():
        county = db.session.execute(
            sa.select(Region.id, Region.path).where(Region.code == COUNTY_CODE)
        ).one()
        village = db.session.execute(
            sa.select(Region.id, Region.path)
            .join(Household, Household.village_id == Region.id)
            .where(Region.path.startswith(county.path), Region.level == "village")
            .group_by(Region.id, Region.path)
            .order_by(sa.func.count().desc(), Region.id)
            .limit(1)
        ).one()
        regions = {
            "county": (county.id, county.path, "county"),
            "village": (village.id, village.path, "village"),
        }
        db.session.remove()  # the requests below start from a session of their own
        client = app.test_client()
        answer = client.post("/api/v1/auth/tokens", json=OFFICIAL)
        if answer.status_code != 201:
            raise RuntimeError(f"in-process login failed: {answer.status_code}")
        headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}

        def get(region_id: int, label: str, report: str = REPORT) -> dict:
            response = client.get(f"{report}?region_id={region_id}&period={label}", headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"report {region_id} {label}: {response.status_code}")
            return response.get_json()

        get(county.id, labels["month"])  # warm-up: nothing done once per process is counted
        counts, executed = {}, {}
        for level in ("county", "village"):
            for which in ("month", "quarter", "year"):
                statements = []

                sent = executed.setdefault(level, []) if which == "month" else []

                def record(conn, cursor, statement, parameters, *_, into=statements, sent=sent):
                    into.append(" ".join(statement.split()))
                    sent.append((statement, parameters))

                event.listen(db.engine, "before_cursor_execute", record)
                try:
                    get(regions[level][0], labels[which])
                finally:
                    event.remove(db.engine, "before_cursor_execute", record)
                counts[(level, which)] = statements
        reports = {name: get(regions[level][0], labels[which]) for name, level, which in SCENARIOS}
        reports.update(
            (name, get(regions[level][0], labels[which], CHANNELS))
            for name, level, which in CHANNEL_SCENARIOS
        )
    return {"regions": regions, "counts": counts, "reports": reports, "executed": executed}


#: (name, level of the region, period)
SCENARIOS = (
    ("county, one month", "county", "month"),
    ("county, one quarter", "county", "quarter"),
    ("village, one month", "village", "month"),
)
#: The channel report (sales and attributed income by channel), read from the sales rollup,
#: against one statement over the postings: measured, no target set.
CHANNEL_SCENARIOS = (
    ("channels: county, one month", "county", "month"),
    ("channels: county, one quarter", "county", "quarter"),
)


def explain(raw: RawSql, executed: dict, regions: dict, labels: dict) -> None:
    """EXPLAIN ANALYZE of the month reports' own statements (as they were sent, with their
    parameters) and of the raw statement: where the time goes."""
    for level in ("county", "village"):
        for statement, parameters in executed.get(level, []):
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            print(f"\n--- report, {level}, one month: {' '.join(statement.split())[:120]}...")
            print("\n".join(line for (line,) in plan))
        _, path, region_level = regions[level]
        plan = raw.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS) {raw.statement(region_level)}",
            raw.parameters(path, labels["month"]),
        )
        print(f"\n--- raw SQL, {level}, one month")
        print("\n".join(line for (line,) in plan))


def time_raw(raw: RawSql, sql: str, parameters: dict, seconds: float) -> tuple[float, int]:
    """Median seconds per call of the statement (rows fetched) over ``seconds`` (at least
    three calls), and the number of calls."""
    raw.fetch(sql, parameters)  # warm-up
    times, started = [], time.perf_counter()
    while True:
        before = time.perf_counter()
        raw.fetch(sql, parameters)
        times.append(time.perf_counter() - before)
        if time.perf_counter() - started >= seconds and len(times) >= 3:
            return statistics.median(times), len(times)


def run(args, folder: Path, database, measure) -> int:
    env = app_environment(folder, database)
    load_seconds = 0.0 if isinstance(database, LoadedDatabase) else load_county(env, args)
    labels = periods(args.months)
    log(f"periods: {labels}")
    found = in_process(args, env, labels)
    regions = found["regions"]
    failures = []

    # Statements: constant per level, whatever the period's size. A month also looks for the
    # snapshot a close of the month would have stored (one statement); it is shown apart.
    print()
    print("SQL statements per report request (in process; + the closed-month snapshot lookup):")
    for level in ("county", "village"):
        counted = {}
        for which in ("month", "quarter", "year"):
            statements = found["counts"][(level, which)]
            lookups = sum("report_snapshots" in s for s in statements)
            counted[which] = (len(statements) - lookups, lookups)
        same = len({n for n, _ in counted.values()}) == 1
        print(
            f"  {level:<8}"
            + "".join(f"{w} {n:>2} + {k}   " for w, (n, k) in counted.items())
            + ("equal" if same else "DIFFERENT")
        )
        if not same:
            failures.append(f"{level}: statements per period differ: {counted}")

    # Correctness and the raw SQL baseline.
    raw = RawSql(database)
    raw_times = {}
    try:
        for name, level, which in (*SCENARIOS, *CHANNEL_SCENARIOS):
            _, path, region_level = regions[level]
            parameters = raw.parameters(path, labels[which])
            report = found["reports"][name]
            if name.startswith("channels:"):
                sql = raw_channels_statement(raw.marker)
                diff = channel_differences(report, raw.fetch(sql, parameters))
                note = f"{len(report['by_channel'])} channels"
            else:
                sql = raw.statement(region_level)
                key = "household_id" if level == "village" else "region_id"
                diff = differences(report, fold(raw.fetch(sql, parameters)), key)
                note = f"{len(report['rows'])} rows"
            note += f", net {report['totals']['net_fen']} fen"
            if diff:
                failures.append(f"{name}: {len(diff)} figures differ from the raw SQL")
                print(f"{name}: DIFFERENT from the raw SQL ({note}):")
                for line in diff[:20]:
                    print(f"    {line}")
            else:
                print(f"{name}: equal to the raw SQL to the fen ({note})")
            log(f"timing the raw SQL of {name} for {args.duration} s")
            raw_times[name] = time_raw(raw, sql, parameters, args.duration)
        if args.explain and raw.kind == "postgres":
            explain(raw, found["executed"], regions, labels)
    finally:
        raw.close()

    # The served report, one connection, between two pings.
    port = free_port()
    log(f"starting gunicorn with {args.workers} workers on {HOST}:{port}")
    results = []
    with Gunicorn(env, port, args.workers, folder / "gunicorn.log") as server:
        wait_until_healthy(server, port)
        headers = login(port, OFFICIAL)
        scenarios = [(f"GET {PING} (baseline)", get_targets([(PING, {})]))]
        for name, level, which, report in [
            *((name, level, which, REPORT) for name, level, which in SCENARIOS),
            *((name, level, which, CHANNELS) for name, level, which in CHANNEL_SCENARIOS),
        ]:
            path = f"{report}?region_id={regions[level][0]}&period={labels[which]}"
            status, _, body = request(port, "GET", path, headers=headers, timeout=120)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            served = json.loads(body)
            if served["totals"] != found["reports"][name]["totals"]:
                failures.append(f"{name}: the served report's totals differ from in process")
            scenarios.append((f"report: {name}", get_targets([(path, headers)])))
        scenarios.append((f"GET {PING} (baseline, again)", get_targets([(PING, {})])))
        for name, targets in scenarios:
            if args.warmup:
                measure(name, port, targets, args.warmup, args.concurrency, folder)
            log(f"measuring {name} for {args.duration} s")
            results.append(measure(name, port, targets, args.duration, args.concurrency, folder))
        if not server.alive():
            raise RuntimeError(f"gunicorn died during the run; see {folder / 'gunicorn.log'}")

    return report_figures(args, results, raw_times, load_seconds, labels, failures, measure)


def report_figures(args, results, raw_times, load_seconds, labels, failures, measure) -> int:
    baseline = baseline_rate(results)
    print()
    print(
        f"reports benchmark on {args.db}: {args.households} households, {args.months} months "
        f"(periods {labels['month']}, {labels['quarter']}), county loaded in "
        f"{load_seconds:,.0f} s; gunicorn {args.workers} workers, {client_name(measure)} with "
        f"{args.concurrency} connection(s), {args.duration} s per row"
    )
    print(f"baseline = mean of the two ping runs = {baseline:,.0f} req/s")
    print_table(results, baseline, lambda r: None)
    print()
    header = f"{'report':<31}{'report ms':>11}{'n':>5}{'raw SQL ms':>12}{'n':>5}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    missed = []
    by_name = {r.name.removeprefix("report: "): r for r in results}
    for name, _, _ in (*SCENARIOS, *CHANNEL_SCENARIOS):
        served = by_name[name]
        if not served.requests:
            failures.append(f"{name}: no request completed")
            continue
        per_request = served.p50_ms / 1000
        raw_seconds, calls = raw_times[name]
        ratio = per_request / raw_seconds
        met = ratio <= TARGET_RATIO
        targeted = not name.startswith("channels:")
        binding = args.db == "postgres" and targeted
        note = "" if args.db == "postgres" else " (set for PostgreSQL)"
        verdict = f"target <= {TARGET_RATIO}x: {'met' if met else 'MISSED'}{note}"
        print(
            f"{name:<31}{per_request * 1000:>11.1f}{served.requests:>5}"
            f"{raw_seconds * 1000:>12.1f}{calls:>5}{ratio:>7.2f}x"
            f"   {verdict if targeted else 'no target set'}"
        )
        if not met and binding:
            missed.append(name)
        if served.errors:
            failures.append(f"{name}: {served.errors} errors under load")
    print(
        "report ms = the served report's median time per request on one connection (HTTP, "
        "token check and JSON included); raw SQL ms = the median execute + fetch of one "
        "statement on the driver; n = requests or calls timed"
    )
    if failures:
        print()
        print("FAILED checks:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
