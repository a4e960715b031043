"""What the benchmarks share: a scratch database, the served app, the load, the ratio table.

A benchmark builds its run from these pieces:

  * ``scratch_session(args)``: a temporary folder and a scratch database (a SQLite file in the
    folder, or a fresh PostgreSQL database dropped afterwards), with SIGTERM turned into a
    normal exit so that every ``with`` block below still cleans up;
  * ``prepare_database(...)``: migrations, then ``flask seed scale``;
  * ``Gunicorn``: the app on a free 127.0.0.1 port, its whole process group stopped on exit;
  * ``run_wrk`` / ``run_python``: load for a bounded time, returning a ``Result``;
  * ``print_table``: each row as a ratio to the ping baseline measured in the same run.

Everything only ever talks to 127.0.0.1, and every wait is bounded.
"""

import argparse
import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: The buyer `flask seed scale` creates (seed/scale.py).
BUYER = {"username": "bench_buyer", "password": "bench-buyer-2024"}
#: The trivial JSON endpoint every benchmark measures as its baseline.
PING = "/api/v1/ping"


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    #: counts a scenario asks for beyond the common ones (expected statuses, requests in flight)
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def add_smoke_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a run of seconds, on a tiny data set, proving the benchmark still works (CI runs "
        "it): its checks count, its figures mean nothing",
    )


def apply_smoke(args, **small) -> None:
    """Under ``--smoke``, replace the arguments that set a run's size by ``small`` ones."""
    if args.smoke:
        for name, value in small.items():
            setattr(args, name, value)


def add_common_arguments(parser: argparse.ArgumentParser, *, products: int) -> None:
    add_smoke_argument(parser)
    cpus = os.cpu_count() or 2
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--workers", type=int, default=cpus * 2, help="gunicorn workers (default 2 x CPUs)"
    )
    parser.add_argument("--products", type=int, default=products)
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


def choose_client(args):
    """``run_wrk`` or ``run_python`` as asked; None when wrk was asked for and is missing."""
    if args.client == "wrk" and not shutil.which("wrk"):
        log("wrk is not installed")
        return None
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    return run_wrk if use_wrk else run_python


def client_name(measure) -> str:
    return "wrk" if measure is run_wrk else "python http.client"


# --- scratch database -----------------------------------------------------------------------


def pg_engine(url: str, **options):
    import sqlalchemy as sa

    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.create_engine(url, poolclass=sa.NullPool, **options)


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
            server = self._server()
            with server.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = server.url.set(database=self.name).render_as_string(hide_password=False)
        return self

    def __exit__(self, *exc):
        if self.kind == "postgres" and self.url:
            server = self._server()
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            server.dispose()
            log(f"dropped database {self.name}")

    def engine(self):
        """An engine on the scratch database, for a benchmark's own set-up and checks."""
        import sqlalchemy as sa

        if self.kind == "sqlite":
            return sa.create_engine(self.url, poolclass=sa.NullPool)
        return pg_engine(self.url)

    def _server(self):
        return pg_engine(self.pg_url, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def _sigterm_exits():
    """SIGTERM raises SystemExit, so the ``with`` blocks around it stop gunicorn and drop the
    database as they would on a normal end."""
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def scratch_session(args):
    """Yields (folder, database) for one run; both are gone afterwards, however it ends."""
    with (
        _sigterm_exits(),
        tempfile.TemporaryDirectory(prefix="mkt-bench-") as scratch,
        ScratchDatabase(args.db, Path(scratch), args.pg_url) as database,
    ):
        yield Path(scratch), database


def app_environment(folder: Path, database: ScratchDatabase, **extra: str) -> dict:
    """The environment the flask commands and gunicorn run with: the scratch database, and an
    instance folder (its generated data key, its uploads) inside the scratch folder."""
    return {
        **os.environ,
        "DATABASE_URL": database.url,
        "MARKETPLACE_INSTANCE_DIR": str(folder / "instance"),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "FLASK_APP": "wsgi",
        **extra,
    }


def run_flask(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=PROJECT_ROOT, env=env, check=True, timeout=600
    )


def prepare_database(env: dict, args) -> None:
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


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Gunicorn:
    def __init__(self, env: dict, port: int, workers: int, log_path: Path):
        self.env = {**env, "HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
        self.port = port
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


def login(port, credentials: dict) -> dict:
    """Bearer headers for a user, from POST /api/v1/auth/tokens."""
    status, _, body = request(port, "POST", "/api/v1/auth/tokens", body=credentials)
    if status != 201:
        raise RuntimeError(f"login as {credentials['username']} failed: {status} {body[:300]!r}")
    return {"Authorization": f"Bearer {json.loads(body)['token']}"}


# --- load generators --------------------------------------------------------------------------
#
# A scenario is a list of targets, each (method, path, headers, body bytes or None), sent in
# turn. ``unique_header`` names a header that gets a value never sent before on every request
# (an Idempotency-Key); ``expected_status`` makes the result count responses with and without
# that status (extra["expected"], extra["unexpected"]).


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_headers(headers: dict) -> str:
    pairs = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    return "{ " + pairs + " }"


def _lua_target(method, path, headers, body) -> str:
    body_text = lua_string(body.decode()) if body is not None else "nil"
    return f"{{ {lua_string(method)}, {lua_string(path)}, {lua_headers(headers)}, {body_text} }}"


#: Without unique_header or expected_status: wrk's fast path (no per-response Lua callback).
WRK_PLAIN = """
local targets = { %(targets)s }
local counter = 0
function init(args)
  counter = math.random(#targets)
end
function request()
  counter = counter + 1
  local target = targets[(counter %% #targets) + 1]
  return wrk.format(target[1], target[2], target[3], target[4])
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

#: Counts per thread (each wrk thread has its own Lua state; done() sums them), and makes the
#: unique header from a run prefix, the thread number and the thread's counter.
WRK_COUNTING = """
local targets = { %(targets)s }
local unique_header = %(unique_header)s
local expected_status = %(expected_status)d
local prefix = %(prefix)s
local threads = {}
local next_thread = 0
function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  sent = 0
  expected = 0
  unexpected = 0
end
function request()
  counter = counter + 1
  sent = sent + 1
  local target = targets[((counter + thread_number * 7) %% #targets) + 1]
  local headers = {}
  for name, value in pairs(target[3]) do headers[name] = value end
  if unique_header then
    headers[unique_header] = prefix .. "-" .. thread_number .. "-" .. counter
  end
  return wrk.format(target[1], target[2], headers, target[4])
end
function response(status, headers, body)
  if status == expected_status then
    expected = expected + 1
  else
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local total_sent, total_expected, total_unexpected = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_expected = total_expected + thread:get("expected")
    total_unexpected = total_unexpected + thread:get("unexpected")
  end
  local transport = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "BENCH_RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, summary.errors.status + transport,
    latency:percentile(50), latency:percentile(99),
    total_sent, total_expected, total_unexpected, transport))
end
"""


def run_wrk(
    name,
    port,
    targets,
    seconds,
    concurrency,
    folder: Path,
    *,
    unique_header: str | None = None,
    expected_status: int | None = None,
) -> Result:
    entries = ", ".join(_lua_target(*target) for target in targets)
    counting = unique_header is not None or expected_status is not None
    if counting:
        script_text = WRK_COUNTING % {
            "targets": entries,
            "unique_header": lua_string(unique_header) if unique_header else "nil",
            "expected_status": expected_status or 0,
            "prefix": lua_string(uuid.uuid4().hex[:12]),
        }
    else:
        script_text = WRK_PLAIN % {"targets": entries}
    script = folder / "targets.lua"
    script.write_text(script_text)
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
    figures = list(map(int, line.split()[1:]))
    requests, duration_us, errors, p50_us, p99_us = figures[:5]
    extra = {}
    if counting:
        sent, expected, unexpected, transport = figures[5:]
        # Failed connections never reach response(). And wrk stops its threads at the
        # deadline with requests still on the wire, which the server may yet complete.
        extra = {
            "expected": expected,
            "unexpected": unexpected + transport,
            "in_flight": max(0, sent - expected - unexpected - transport),
            "transport": transport,
        }
    return Result(name, requests, duration_us / 1e6, errors, p50_us / 1000, p99_us / 1000, extra)


def _client_loop(port, targets, seconds, max_requests, offset, unique, expected_status):
    """One keep-alive connection sending requests until the deadline or the request bound."""
    latencies, errors, expected, failures = [], 0, 0, 0
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    started = time.monotonic()
    deadline = started + seconds
    n = offset
    while time.monotonic() < deadline and len(latencies) + errors < max_requests:
        method, path, headers, body = targets[n % len(targets)]
        n += 1
        if unique:
            header, prefix = unique
            headers = {**headers, header: f"{prefix}-{offset}-{n}"}
        sent = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
            if response.status == expected_status:
                expected += 1
            latencies.append(time.perf_counter() - sent)
        except (OSError, http.client.HTTPException):
            errors += 1
            failures += 1
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=10)
    connection.close()
    return latencies, errors, expected, failures, time.monotonic() - started


def run_python(
    name,
    port,
    targets,
    seconds,
    concurrency,
    folder: Path,
    *,
    unique_header: str | None = None,
    expected_status: int | None = None,
) -> Result:
    max_per_client = 2_000_000 // concurrency
    unique = (unique_header, uuid.uuid4().hex[:12]) if unique_header else None
    # "spawn", not "fork": a forked child can inherit a lock some thread held at fork time
    # and hang; and the wait is bounded, so a stuck client fails the run instead of hanging it.
    with multiprocessing.get_context("spawn").Pool(concurrency) as pool:
        outcomes = pool.starmap_async(
            _client_loop,
            [
                (port, targets, seconds, max_per_client, i * 7, unique, expected_status)
                for i in range(concurrency)
            ],
        ).get(timeout=seconds + 60)
    latencies = sorted(x for lat, *_ in outcomes for x in lat)
    errors = sum(outcome[1] for outcome in outcomes)
    elapsed = max(outcome[-1] for outcome in outcomes)
    extra = {}
    if expected_status is not None:
        expected = sum(outcome[2] for outcome in outcomes)
        failures = sum(outcome[3] for outcome in outcomes)
        # Each client waits for its last answer before it stops: nothing is left in flight.
        extra = {
            "expected": expected,
            "unexpected": len(latencies) + failures - expected,
            "in_flight": 0,
            "transport": failures,
        }
    if not latencies:
        return Result(name, 0, elapsed, errors, None, None, extra)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return Result(name, len(latencies), elapsed, errors, p50, p99, extra)


def get_targets(pairs) -> list[tuple]:
    """GET targets from (path, headers) pairs."""
    return [("GET", path, headers, None) for path, headers in pairs]


def measure_scenarios(measure, args, port, folder: Path, scenarios, **options) -> list[Result]:
    """Each scenario (name, targets[, options]) warmed up, then measured for --duration."""
    results = []
    for name, targets, *rest in scenarios:
        given = {**options, **(rest[0] if rest else {})}
        if args.warmup:
            measure(name, port, targets, args.warmup, args.concurrency, folder, **given)
        log(f"measuring {name} for {args.duration} s")
        results.append(
            measure(name, port, targets, args.duration, args.concurrency, folder, **given)
        )
    return results


# --- the report -------------------------------------------------------------------------------

TABLE_HEADER = f"{'endpoint':<44}{'req/s':>10}{'ratio':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"


def baseline_rate(results: list[Result]) -> float:
    """The mean rate of the ping rows."""
    return statistics.mean(r.rate for r in results if r.name.startswith(f"GET {PING}"))


def table_row(r: Result, baseline: float) -> tuple[str, float]:
    """One line of the ratio table, and the ratio."""
    ratio = r.rate / baseline if baseline else 0.0
    p50 = f"{r.p50_ms:.1f}" if r.p50_ms is not None else "-"
    p99 = f"{r.p99_ms:.1f}" if r.p99_ms is not None else "-"
    return f"{r.name:<44}{r.rate:>10,.0f}{ratio:>8.1%}{p50:>9}{p99:>9}{r.errors:>8}", ratio


def print_table(results: list[Result], baseline: float, target_of) -> list[str]:
    """Print the table; ``target_of(result)`` returns (target ratio, binding?, note) or None.
    Returns the names of the rows that missed a binding target."""
    print(TABLE_HEADER)
    print("-" * len(TABLE_HEADER))
    missed = []
    for r in results:
        line, ratio = table_row(r, baseline)
        target = target_of(r)
        if target is not None:
            goal, binding, note = target
            met = ratio >= goal
            line += f"   target >= {goal:.0%}: {'met' if met else 'MISSED'}{note}"
            if not met and binding:
                missed.append(r.name)
        print(line)
    if any(r.errors for r in results):
        print("errors count responses >= 400 and failed connections; check before trusting rates")
    return missed
