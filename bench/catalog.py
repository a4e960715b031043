"""Catalog benchmark: the storefront list against the trivial endpoint, in the same run.

    python bench/catalog.py [--db sqlite|postgres] [--duration 10] [--concurrency 16]

Builds a scratch database (a temporary SQLite file, or a fresh PostgreSQL database that is
dropped afterwards), migrates it, generates 10,000 products / 30,000 SKUs with ``flask seed
scale``, serves the app with gunicorn on a free loopback port, and measures requests per second
for:

  * GET /api/v1/ping, the baseline: what the framework and server cost on their own;
  * the filtered, paginated product list (20 products with their SKUs) sent with a bearer
    token, which bypasses the shared page cache;
  * the same list anonymous, served from the cache, with and without If-None-Match.

Each list is printed as a ratio to the ping baseline, so figures from different machines can
be compared. The load comes from ``wrk`` when it is installed, else from a multi-process
keep-alive client built on http.client (which competes with the server for the CPUs, so its
ratios understate the gaps; prefer wrk). gunicorn's sync workers close the connection after
each response, so every request, the baseline's too, pays a loopback TCP connect. Every run is
bounded in time and only ever talks to 127.0.0.1. The script stops gunicorn and drops the
scratch database however it ends.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
LIST_QUERY = "category=fruit&sort=price_asc&page_size=20"
#: Distinct pages the list scenarios cycle through (fewer when the category has fewer).
MAX_PAGES = 50
TARGETS = {"uncached": 0.12, "cached": 0.50}
#: The buyer `flask seed scale` creates (seed/scale.py); signed-in lists skip the page cache.
BUYER = {"username": "bench_buyer", "password": "bench-buyer-2024"}


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args():
    cpus = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--workers", type=int, default=cpus * 2, help="gunicorn workers (default 2 x CPUs)"
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--skus-per-product", type=int, default=3)
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the scratch database on (--db postgres)",
    )
    parser.add_argument(
        "--client", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target ratio is missed"
    )
    return parser.parse_args()


# --- scratch database -----------------------------------------------------------------------


class ScratchDatabase:
    """A database that exists for one run: created on enter, dropped on exit."""

    def __init__(self, kind: str, folder: Path, pg_url: str):
        self.kind, self.folder, self.pg_url = kind, folder, pg_url
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        self.url = None

    def __enter__(self):
        if self.kind == "sqlite":
            self.url = f"sqlite:///{self.folder / 'bench.sqlite3'}"
        else:
            with self._server().connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = (
                self._server().url.set(database=self.name).render_as_string(hide_password=False)
            )
        return self

    def __exit__(self, *exc):
        if self.kind == "postgres" and self.url:
            server = self._server()
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            server.dispose()
            log(f"dropped database {self.name}")

    def _server(self):
        import sqlalchemy as sa

        url = self.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def run_flask(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=PROJECT_ROOT, env=env, check=True, timeout=600
    )


class Gunicorn:
    def __init__(self, env: dict, port: int, workers: int, log_path: Path):
        self.env = {**env, "HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
        self.log_path = log_path
        self.process = None

    def __enter__(self):
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the workers go with it
        )
        return self

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            group = os.getpgid(self.process.pid)
            os.killpg(group, signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self.process.wait()
            log("gunicorn stopped")
        self.log_file.close()

    def alive(self) -> bool:
        return self.process.poll() is None


def request(port, method, path, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def wait_until_healthy(server: Gunicorn, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"gunicorn exited early; see {server.log_path}")
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"/healthz did not answer within {timeout} s")


# --- load generators --------------------------------------------------------------------------


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


WRK_SCRIPT = """
local targets = { %s }
local counter = 0
function init(args)
  counter = math.random(#targets)
end
function request()
  counter = counter + 1
  local target = targets[(counter %% #targets) + 1]
  return wrk.format("GET", target[1], target[2])
end
function done(summary, latency, requests)
  io.write(string.format(
    "BENCH_RESULT %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(name, port, targets, seconds, concurrency, folder: Path) -> Result:
    entries = []
    for path, headers in targets:
        header_table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
        entries.append(f"{{ {lua_string(path)}, {{ {header_table} }} }}")
    script = folder / "targets.lua"
    script.write_text(WRK_SCRIPT % ", ".join(entries))
    threads = max(1, min(concurrency, os.cpu_count() or 1))
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{HOST}:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_RESULT"))
    requests, duration_us, errors, p50_us, p99_us = map(int, line.split()[1:])
    return Result(name, requests, duration_us / 1e6, errors, p50_us / 1000, p99_us / 1000)


def _client_loop(port, targets, seconds, max_requests, offset):
    """One keep-alive connection sending requests until the deadline or the request bound."""
    latencies, errors = [], 0
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    started = time.monotonic()
    deadline = started + seconds
    n = offset
    while time.monotonic() < deadline and len(latencies) + errors < max_requests:
        path, headers = targets[n % len(targets)]
        n += 1
        sent = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
            latencies.append(time.perf_counter() - sent)
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=10)
    connection.close()
    return latencies, errors, time.monotonic() - started


def run_python(name, port, targets, seconds, concurrency, folder: Path) -> Result:
    max_per_client = 2_000_000 // concurrency
    # "spawn", not "fork": a forked child can inherit a lock some thread held at fork time
    # and hang; and the wait is bounded, so a stuck client fails the run instead of hanging it.
    with multiprocessing.get_context("spawn").Pool(concurrency) as pool:
        outcomes = pool.starmap_async(
            _client_loop,
            [(port, targets, seconds, max_per_client, i * 7) for i in range(concurrency)],
        ).get(timeout=seconds + 60)
    latencies = sorted(x for lat, _, _ in outcomes for x in lat)
    errors = sum(e for _, e, _ in outcomes)
    elapsed = max(t for _, _, t in outcomes)
    if not latencies:
        return Result(name, 0, elapsed, errors, None, None)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return Result(name, len(latencies), elapsed, errors, p50, p99)


# --- the run ----------------------------------------------------------------------------------


def check_ok(port, path, headers, expected, label):
    status, response_headers, body = request(port, "GET", path, headers=headers)
    if status != expected:
        raise RuntimeError(
            f"{label}: GET {path} answered {status}, expected {expected}: {body[:300]!r}"
        )
    return response_headers, body


def main() -> int:
    args = parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    if args.client == "wrk" and not shutil.which("wrk"):
        log("wrk is not installed")
        return 2
    measure = run_wrk if use_wrk else run_python
    interrupted = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup below still runs
    try:
        with tempfile.TemporaryDirectory(prefix="mkt-bench-") as scratch:
            folder = Path(scratch)
            with ScratchDatabase(args.db, folder, args.pg_url) as database:
                return run(args, folder, database, measure)
    finally:
        signal.signal(signal.SIGTERM, interrupted)


def run(args, folder: Path, database: ScratchDatabase, measure) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "MARKETPLACE_INSTANCE_DIR": str(folder / "instance"),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "FLASK_APP": "wsgi",
    }
    log(f"migrating the scratch {args.db} database")
    run_flask(env, "db", "upgrade")
    log(f"generating {args.products} products x {args.skus_per_product} SKUs")
    run_flask(
        env,
        "seed",
        "scale",
        "--products",
        str(args.products),
        "--skus-per-product",
        str(args.skus_per_product),
    )
    port = free_port()
    log(f"starting gunicorn with {args.workers} workers on {HOST}:{port}")
    with Gunicorn(env, port, args.workers, folder / "gunicorn.log") as server:
        wait_until_healthy(server, port)
        status, _, body = request(port, "POST", "/api/v1/auth/tokens", body=BUYER)
        if status != 201:
            raise RuntimeError(f"login as {BUYER['username']} failed: {status} {body[:300]!r}")
        signed_in = {"Authorization": f"Bearer {json.loads(body)['token']}"}

        first = f"/api/v1/products?{LIST_QUERY}&page=1"
        status, headers, body = request(port, "GET", first, headers=signed_in)
        if status != 200:
            log(f"the product list is not available ({status}): measuring the baseline only")
            pages = []
        else:
            total_pages = json.loads(headers.get("X-Pagination", "{}")).get("total_pages", 1)
            pages = [
                f"/api/v1/products?{LIST_QUERY}&page={page}"
                for page in range(1, min(total_pages, MAX_PAGES) + 1)
            ]
            products_on_page = len(json.loads(body))
            log(f"list: {total_pages} pages of fruit; page 1 has {products_on_page} products")

        scenarios = [("GET /api/v1/ping (baseline)", [("/api/v1/ping", {})])]
        if pages:
            etags = {}
            for path in pages:  # fills the page cache and learns each page's ETag
                response_headers, _ = check_ok(port, path, {}, 200, "anonymous list")
                etags[path] = response_headers["ETag"]
            check_ok(port, pages[0], {"If-None-Match": etags[pages[0]]}, 304, "If-None-Match")
            scenarios += [
                ("products, signed in (uncached)", [(p, signed_in) for p in pages]),
                ("products, anonymous (cached)", [(p, {}) for p in pages]),
                (
                    "products, anonymous + If-None-Match (304)",
                    [(p, {"If-None-Match": etags[p]}) for p in pages],
                ),
            ]
        scenarios.append(("GET /api/v1/ping (baseline, again)", [("/api/v1/ping", {})]))

        results = []
        for name, targets in scenarios:
            if args.warmup:
                measure(name, port, targets, args.warmup, args.concurrency, folder)
            log(f"measuring {name} for {args.duration} s")
            results.append(measure(name, port, targets, args.duration, args.concurrency, folder))
        if not server.alive():
            raise RuntimeError(f"gunicorn died during the run; see {folder / 'gunicorn.log'}")

    return report(args, results, client="wrk" if measure is run_wrk else "python http.client")


def report(args, results: list[Result], client: str) -> int:
    pings = [r for r in results if r.name.startswith("GET /api/v1/ping")]
    baseline = statistics.mean(r.rate for r in pings)
    print()
    print(
        f"catalog benchmark on {args.db}: {args.products} products x {args.skus_per_product} "
        f"SKUs, gunicorn {args.workers} workers, {client} with {args.concurrency} "
        f"connections, {args.duration} s per row"
    )
    print(f"baseline = mean of the two ping runs = {baseline:,.0f} req/s")
    header = f"{'endpoint':<44}{'req/s':>10}{'ratio':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    missed = []
    for r in results:
        ratio = r.rate / baseline if baseline else 0.0
        p50 = f"{r.p50_ms:.1f}" if r.p50_ms is not None else "-"
        p99 = f"{r.p99_ms:.1f}" if r.p99_ms is not None else "-"
        line = f"{r.name:<44}{r.rate:>10,.0f}{ratio:>8.1%}{p50:>9}{p99:>9}{r.errors:>8}"
        target = None
        if "(uncached)" in r.name:
            target = TARGETS["uncached"]
        elif "(cached)" in r.name:
            target = TARGETS["cached"]
        if target is not None:
            met = ratio >= target
            scope = "" if args.db == "postgres" or "(cached)" in r.name else " (set for PostgreSQL)"
            line += f"   target >= {target:.0%}: {'met' if met else 'MISSED'}{scope}"
            if not met and (args.db == "postgres" or "(cached)" in r.name):
                missed.append(r.name)
        print(line)
    if any(r.errors for r in results):
        print("errors count responses >= 400 and failed connections; check before trusting rates")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
