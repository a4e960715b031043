"""Import benchmark: a generated Douyin order export imported through the job, as a station
does it (upload, poll until done), against a raw bulk INSERT of the same orders, lines,
journal entries and postings in the same run; and checkout's p99 latency while the import
runs, against its p99 with no import running.

    .venv/bin/python bench/import.py [--db postgres|sqlite] [--rows 100000] [--members 10] \
        [--checkout-seconds 60] [--checkout-clients 2] [--checkout-rate 5] [--profile] [--strict]

Builds a scratch database (migrations, ``flask seed scale``), picks the station with the most
SKUs on sale, gives its two co-operatives member households and an approved benefit rule, the
station a fee, a Douyin product id for each of its SKUs (``PlatformProduct`` rows) and an ended
Douyin session with a host account covering the export's hours. Then it writes an export of N
rows in the Douyin layout (UTF-8 with a BOM, ids tab-prefixed as the platform writes them,
streamed to a file, its first quarter to a second file as well): half the rows sell
co-operative products, a quarter carry a merchant's discount, one in ten sub-orders shares its
order with another, one in ten was sold outside the live room, and a few are refunded, closed,
in after-sales or unpaid.

It serves the app with gunicorn and runs one job worker (``flask jobs worker``; its broker is
Redis at ``--redis-url`` on PostgreSQL, database 14 flushed first, and the embedded broker of
``flask jobs broker`` on SQLite). A few buyers place 2-line orders (``POST /api/v1/orders``)
at a low, paced rate (``--checkout-clients`` clients, each at most ``--checkout-rate`` orders
a second: half the clients order SKUs of the imported station, half SKUs of another station),
first for ``--checkout-seconds`` with no import running. Then an admin uploads the export
(``POST /api/v1/stations/{id}/platform-imports``, multipart) while the same load runs, and
polls the job (``GET /api/v1/jobs/{id}``, every 0.2 s) until it has succeeded or failed; the
import's time runs from the upload's first byte to the job's ``finished_at``. The worker's
child running the job (RQ's work horse) has its resident set sampled from /proc every 0.05 s.
The import's counts are the upload's record (``GET /api/v1/platform-imports/{id}``). Then, in
the same database and in one transaction rolled back afterwards, the raw baseline: the very
orders, lines, journal entries and postings the import wrote, copied with plain INSERTs
through the driver (no COPY; on PostgreSQL the deferred balance check of every posting is
fired before the clock stops, as the import's commits fire it). Last, the first quarter again
through the job, which must create nothing.

Prints rows per second, the import's time as a ratio to the raw insert's (target <= 2x on
PostgreSQL; the checkout load runs meanwhile), the work horse's peak RSS growth by a quarter of
the rows and by the end (target: the end's <= 1.5x the quarter's + 16 MiB, i.e. memory does not
grow along the file), checkout's p99 during the import as a ratio to its p99 before it (target
<= 2x), and checks the database (exit 1 when a check fails or a checkout did not answer 201;
``--strict`` also exits 1 when a target is missed on PostgreSQL). ``--profile`` imports one
more quarter-size export the old way, in a child process under cProfile (``import_export`` and
one commit, as ``flask livestreams import`` does), not through the job.
"""

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BUYER,
    HOST,
    PROJECT_ROOT,
    Gunicorn,
    add_smoke_argument,
    app_environment,
    apply_smoke,
    free_port,
    log,
    login,
    request,
    run_flask,
    scratch_session,
    wait_until_healthy,
)

# bench/checkout.py's baskets (this folder is on the path when a bench runs as a script).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout import KEY_HEADER, checkout_targets

#: The import's time through the job (upload to the job's finish) as a multiple of the raw
#: insert's (PostgreSQL).
RATIO_TARGET = 2.0
#: Checkout's p99 latency while the import runs, as a multiple of its p99 with none running.
CHECKOUT_P99_TARGET = 2.0
#: Memory is flat when the work horse's peak RSS growth by the end of the file is within this
#: factor of its growth by a quarter of the rows, plus this allowance (allocator arenas,
#: caches warmed by the rest of the file).
MEMORY_FACTOR = 1.5
MEMORY_ALLOWANCE_MIB = 16
#: When the export's sales happened (Asia/Shanghai): a two-day Double 11 livestream.
SALES_START = (2026, 11, 10, 19, 0)
SALES_HOURS = 48
HOST_ACCOUNT = "1000000000000001"
HOST_NAME = "白桦县电商服务站"
#: The benefit rule of the station's co-operatives, and the station's fee.
RETAINED_BP = 2000
FEE_BP = 300
CHILD = "--child"
#: How many times along the file the import's resident set is sampled (--profile's child).
SAMPLES = 20
#: The admin who uploads, and the buyers who check out (the seeded buyer's password).
ADMIN = {"username": "bench_import_admin", "password": BUYER["password"]}
BUYERS = 4
#: SKUs of each station the checkout baskets rotate through, and their stock: more than any
#: run can sell, so that every order finds its stock.
CHECKOUT_SKUS = 20
STOCK = 10_000_000
#: Orders never expire during a run (the sweeper would return their stock).
HOLD_MINUTES = 24 * 60
#: How often the job is polled, and the work horse's resident set read.
POLL_SECONDS = 0.2
SAMPLE_SECONDS = 0.05
#: How often the worker is looked at for a new work horse while it has none.
FORK_SECONDS = 0.005
#: The longest an import through the job may take before the run gives up.
JOB_TIMEOUT = 3 * 3600
#: The broker's database on --db postgres (the test suite uses 15).
REDIS_URL = "redis://127.0.0.1:6379/14"
PLATFORM_IMPORT_DEFAULT_MAX = 64 * 2**20

#: Douyin's order export, column by column (tests/platform_sales/data/douyin_orders.csv).
_HEADER_TEXT = (
    "主订单编号,子订单编号,选购商品,商品规格,商品数量,商品ID,商家编码,商品单价,订单应付金额,运费,"
    "优惠总金额,平台优惠,商家优惠,达人优惠,商家改价,支付优惠,红包抵扣,支付方式,手续费,收件人,"
    "收件人手机号,省,市,区,街道,详细地址,是否修改过地址,买家留言,订单提交时间,旗帜颜色,商家备注,"
    "订单完成时间,支付完成时间,APP渠道,流量来源,订单状态,承诺发货时间,订单类型,鲁班落地页ID,达人ID,"
    "达人昵称,所属门店ID,售后状态,取消原因,预约发货时间,仓库ID,仓库名称,是否安心购,广告渠道,流量类型,"
    "流量体裁,流量渠道,发货主体,发货主体明细,发货时间,降价类优惠,平台实际承担优惠金额,"
    "商家实际承担优惠金额,达人实际承担优惠金额,预计送达时间,是否平台仓自流转,车型,预约送达时间,"
    "建议发货时间（起）,建议发货时间（止）"
)
HEADER = _HEADER_TEXT.split(",")
ADDRESSES = [
    ("北京市", "北京市", "朝阳区", "望京街道"),
    ("辽宁省", "沈阳市", "和平区", "南湖街道"),
    ("上海市", "上海市", "浦东新区", "花木街道"),
    ("吉林省", "长春市", "南关区", "自强街道"),
    ("广东省", "深圳市", "南山区", "粤海街道"),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the measured export")
    parser.add_argument(
        "--members", type=int, default=10, help="member households of each co-operative"
    )
    parser.add_argument(
        "--products", type=int, default=2_000, help="products `flask seed scale` generates"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the exports")
    parser.add_argument(
        "--checkout-seconds",
        type=float,
        default=60,
        help="seconds of checkout load measured with no import running",
    )
    parser.add_argument(
        "--checkout-warmup", type=float, default=5, help="seconds of checkout load not measured"
    )
    parser.add_argument(
        "--checkout-clients", type=int, default=2, help="clients placing orders, one at a time"
    )
    parser.add_argument(
        "--checkout-rate",
        type=float,
        default=5,
        help="orders a second each checkout client places at most (paced, not flat out)",
    )
    parser.add_argument(
        "--web-workers", type=int, default=4, help="gunicorn workers serving the API"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also import one more N/4-row export under cProfile, with SQL time per statement "
        "(in a child process, as the command line does it: not through the job)",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the scratch database on (--db postgres)",
    )
    parser.add_argument(
        "--redis-url",
        default=REDIS_URL,
        help="the jobs' broker on --db postgres (its database is flushed at start and end)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed on PostgreSQL"
    )
    add_smoke_argument(parser)
    args = parser.parse_args()
    apply_smoke(
        args,
        rows=400,
        members=2,
        products=100,
        checkout_seconds=1,
        checkout_warmup=0.5,
        web_workers=2,
    )
    if args.rows < 100 or args.members < 1:
        parser.error("--rows must be at least 100 and --members at least 1")
    if args.checkout_clients < 1 or args.checkout_rate <= 0:
        parser.error("--checkout-clients must be at least 1 and --checkout-rate above 0")
    return args


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CHILD:
        return child(json.loads(sys.argv[2]))
    args = parse_args()
    with scratch_session(args) as (folder, database):
        return run(args, folder, database)


def run(args, folder: Path, database) -> int:
    env = app_environment(
        folder,
        database,
        LOG_LEVEL="WARNING",
        PAYMENT_GATEWAY="offline",
        ORDER_HOLD_MINUTES=str(HOLD_MINUTES),
    )
    # On SQLite the embedded broker: JOBS_REDIS_URL unset for the server and the worker.
    env.pop("JOBS_REDIS_URL", None)
    if args.db == "postgres":
        env["JOBS_REDIS_URL"] = args.redis_url
    log(f"migrating the scratch {args.db} database")
    run_flask(env, "db", "upgrade")
    households = max(400, 20 * args.members)
    log(f"generating {args.products} products x 3 SKUs, {households} households")
    run_flask(
        env, "seed", "scale", "--products", str(args.products), "--households", str(households)
    )
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT_ROOT))
    from marketplace import create_app

    app = create_app()
    with app.app_context():
        plan = set_up(args)
    log(
        f"station {plan['station_id']}: {len(plan['coop_skus'])} co-op SKUs, "
        f"{len(plan['household_skus'])} household SKUs mapped; {args.members} members per co-op;"
        f" checkout of station {plan['station_id']}'s and station {plan['other_station_id']}'s"
        " SKUs"
    )

    quarter = max(1, args.rows // 4)
    large = write_export(
        folder / "douyin.csv",
        plan,
        args.rows,
        1,
        args.seed,
        prefix=(folder / "douyin_first_quarter.csv", quarter),
    )
    exports = {"large": large, "again": large["prefix"]}
    if args.profile:
        exports["profiled"] = write_export(
            folder / "douyin_profiled.csv", plan, quarter, 2, args.seed
        )
    log(f"export written: {args.rows:,} rows, {large['bytes'] / 2**20:,.0f} MiB")
    # The server takes the whole export in one upload.
    env["PLATFORM_IMPORT_MAX_BYTES"] = str(max(PLATFORM_IMPORT_DEFAULT_MAX, 2 * large["bytes"]))

    runs, loads = {}, {}
    marks = {"checkout": last_ids(app)}
    port = free_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(broker_for(args, env, folder))
        log(f"starting gunicorn with {args.web_workers} workers on {HOST}:{port}, and a job worker")
        server = stack.enter_context(Gunicorn(env, port, args.web_workers, folder / "gunicorn.log"))
        worker = stack.enter_context(JobWorker(env, folder / "worker.log"))
        analyzer = stack.enter_context(Autoanalyze(database))
        wait_until_healthy(server, port)
        worker.wait_until_ready(args)
        admin = login(port, ADMIN)
        tokens = [login(port, buyer) for buyer in plan["buyers"]]
        load = CheckoutLoad(
            port,
            {
                "same": checkout_targets(tokens, plan["checkout_skus"]["same"]),
                "other": checkout_targets(tokens, plan["checkout_skus"]["other"]),
            },
            args.checkout_clients,
            args.checkout_rate,
        )
        if args.checkout_warmup:
            log(f"checkout warm-up, {args.checkout_warmup:g} s")
            loads["warm-up"] = load.run_for(args.checkout_warmup)
        else:
            loads["warm-up"] = {}
        log(f"checkout with no import running, {args.checkout_seconds:g} s")
        loads["idle"] = load.run_for(args.checkout_seconds)

        marks["before"] = last_ids(app)
        log(f"importing the export through the job ({args.rows:,} rows), checkout running")
        runs["large"] = import_through_job(
            port, admin, plan, exports["large"], worker, load=load, label="the export"
        )
        loads["during"] = runs["large"].pop("load")
        loads["seconds"] = {"idle": args.checkout_seconds, "during": runs["large"]["seconds"]}
        placed = [loads["warm-up"], loads["idle"], runs["large"].pop("load_all")]
        marks["after"] = last_ids(app)
        log("raw INSERT of the same orders, lines, entries and postings (rolled back)")
        raw = raw_insert(app, database, marks["before"], marks["after"])
        log(f"importing its first quarter again through the job ({quarter:,} rows)")
        runs["again"] = import_through_job(
            port, admin, plan, exports["again"], worker, label="the first quarter again"
        )
        runs["again"].pop("load_all")
        if not server.alive():
            raise RuntimeError(f"gunicorn died during the run; see {folder / 'gunicorn.log'}")
    if analyzer.analyzed:
        log(
            f"autovacuum is off: the run analyzed {len(analyzer.analyzed)} times as it would have"
            f" ({', '.join(sorted(set(analyzer.analyzed)))})"
        )
    # The scratch folder goes with the run: what the server and the worker logged as errors
    # (a checkout's 503, a retried batch) is printed with the report.
    logged = error_lines(folder / "gunicorn.log", folder / "worker.log")
    if args.profile:
        log(f"importing another {quarter:,}-row export under cProfile (in a child, not a job)")
        runs["profiled"] = run_child(env, plan, exports["profiled"], profile=True)
    with app.app_context():
        checks = verify(args, plan, exports, runs)
        checks.append(checkout_check(marks["checkout"], placed))
        written = written_by(marks)
        from marketplace.extensions import db

        db.session.remove()
        db.engine.dispose()
    return report(args, plan, exports, runs, raw, written, checks, loads, logged)


def error_lines(*paths: Path, most: int = 20) -> list[str]:
    """The first lines of the logs that mention an error, each cut to 500 characters."""
    words = ("error", "deadlock", "traceback", "exception")
    found = []
    for path in paths:
        with contextlib.suppress(OSError), path.open(errors="replace") as lines:
            for line in lines:
                if any(word in line.lower() for word in words):
                    found.append(f"{path.name}: {line.rstrip()[:500]}")
                    if len(found) >= most:
                        return found
    return found


# --- the broker, the worker, the import through the job ----------------------------------------


@contextlib.contextmanager
def broker_for(args, env: dict, folder: Path):
    """The jobs' broker, empty: Redis's database flushed (PostgreSQL), or the embedded broker
    served from the instance folder (SQLite), stopped on exit."""
    import redis

    if args.db == "postgres":
        connection = redis.Redis.from_url(args.redis_url, socket_connect_timeout=5)
        connection.flushdb()
        try:
            yield connection
        finally:
            with contextlib.suppress(redis.RedisError):
                connection.flushdb()
            connection.close()
        return
    socket_path = Path(env["MARKETPLACE_INSTANCE_DIR"]) / "broker.sock"
    with (folder / "broker.log").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "jobs", "broker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            connection = redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=2)
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the embedded broker exited; see {folder / 'broker.log'}")
                try:
                    connection.ping()
                    break
                except (redis.RedisError, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the embedded broker did not answer in 60 s") from None
                    time.sleep(0.2)
            yield connection
            connection.close()
        finally:
            stop_process(process, "the embedded broker")


class Autoanalyze(threading.Thread):
    """What autovacuum does on a server that runs it, for a server that does not (this
    machine's PostgreSQL has ``autovacuum = off``): every ``autovacuum_naptime`` (a minute),
    ANALYZE each table whose rows changed by more than autovacuum's own threshold since its
    last analysis (``autovacuum_analyze_threshold`` + ``autovacuum_analyze_scale_factor`` x
    its rows, 50 + 10%). Without it the planner keeps the statistics of the tables as the
    set-up left them, nearly empty, and a refund's reversal (``attribution.reverse_refund``)
    reads every journal entry to find its line's (a hash join over a sequential scan):
    the import grows quadratic, as it would on no production server. Its statements run on
    a connection of their own while the import runs, and their time counts in the import's."""

    def __init__(self, database):
        super().__init__(daemon=True)
        self.database, self.stopping = database, threading.Event()
        self.analyzed: list[str] = []

    def __enter__(self):
        if self.database.kind == "postgres":
            self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=120)

    def run(self):
        engine = self.database.engine()
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                settings = dict(
                    connection.exec_driver_sql(
                        "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum',"
                        " 'autovacuum_naptime', 'autovacuum_analyze_threshold',"
                        " 'autovacuum_analyze_scale_factor')"
                    ).all()
                )
                if settings["autovacuum"] == "on":
                    return
                due = (
                    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c"
                    " ON c.oid = s.relid WHERE s.n_mod_since_analyze > %s + %s * greatest("
                    "c.reltuples, 0)"
                )
                limits = (
                    int(settings["autovacuum_analyze_threshold"]),
                    float(settings["autovacuum_analyze_scale_factor"]),
                )
                while not self.stopping.wait(float(settings["autovacuum_naptime"])):
                    for (table,) in connection.exec_driver_sql(due, limits).all():
                        connection.exec_driver_sql(f'ANALYZE "{table}"')
                        self.analyzed.append(table)
        finally:
            engine.dispose()


def stop_process(process: subprocess.Popen, name: str, grace: float = 20) -> None:
    """SIGTERM, then SIGKILL to its process group (started with a session of its own)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    log(f"{name} stopped")


class JobWorker:
    """One ``flask jobs worker``, with the server's environment; each job runs in a child of
    it (RQ's work horse)."""

    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path, self.process = env, log_path, None

    def __enter__(self):
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "jobs", "worker"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its work horse in its process group
        )
        return self

    def __exit__(self, *exc):
        try:
            stop_process(self.process, "the job worker")
        finally:
            self.log_file.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_until_ready(self, args, timeout: float = 60) -> None:
        """Until the worker listens on the queue (RQ has registered it with the broker)."""
        import redis
        from rq import Worker

        if args.db == "postgres":
            connection = redis.Redis.from_url(args.redis_url)
        else:
            socket_path = Path(self.env["MARKETPLACE_INSTANCE_DIR"]) / "broker.sock"
            connection = redis.Redis(unix_socket_path=str(socket_path))
        deadline = time.monotonic() + timeout
        try:
            while Worker.count(connection=connection) < 1:
                if not self.alive():
                    raise RuntimeError(f"the job worker exited; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no job worker after {timeout} s; see {self.log_path}")
                time.sleep(0.2)
        finally:
            connection.close()

    def rss(self) -> int:
        return proc_status(self.process.pid).get("VmRSS", 0)

    def children(self) -> list[int]:
        pid = self.process.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as found:
                return [int(p) for p in found.read().split()]
        except OSError:
            pass
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with (
                    contextlib.suppress(OSError, IndexError, ValueError),
                    open(f"/proc/{entry}/stat") as stat,
                ):
                    # The fields after the command's closing parenthesis: state, ppid, ...
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry))
        return children


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (the peak resident set) ... of a process, in bytes; empty once it is gone."""
    found = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Vm") and line.rstrip().endswith("kB"):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0]) * 1024
    return found


class HorseWatch(threading.Thread):
    """The worker's children's resident set, read every SAMPLE_SECONDS: the first reading of
    each (looked for every FORK_SECONDS while the worker has no child, so it is taken right
    after the fork, before the job has loaded anything), the latest, and the peak (VmHWM, the
    kernel's own high-water mark)."""

    def __init__(self, worker: JobWorker):
        super().__init__(daemon=True)
        self.worker = worker
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.seen: dict[int, dict] = {}

    def run(self):
        wait = FORK_SECONDS
        while not self.stopped.wait(wait):
            children = self.worker.children()
            wait = SAMPLE_SECONDS if children else FORK_SECONDS
            for pid in children:
                status = proc_status(pid)
                if "VmHWM" not in status:
                    continue
                with self.lock:
                    entry = self.seen.setdefault(pid, {"first_rss": status["VmRSS"], "hwm": 0})
                    entry["rss"] = status["VmRSS"]
                    entry["hwm"] = max(entry["hwm"], status["VmHWM"])

    def horse(self) -> dict:
        """The child with the highest peak so far (one job runs at a time)."""
        with self.lock:
            if not self.seen:
                return {}
            pid, entry = max(self.seen.items(), key=lambda item: item[1]["hwm"])
            return {"pid": pid, **entry}

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)


def upload(port: int, headers: dict, station_id: int, path: Path) -> tuple[int, dict, bytes]:
    """POST the export as a station's browser does: one multipart body, the file streamed."""
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="platform"\r\n\r\ndouyin\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as stream:
            while chunk := stream.read(2**20):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    try:
        connection.request(
            "POST",
            f"/api/v1/stations/{station_id}/platform-imports",
            body=body(),
            headers={
                **headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
            },
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(port: int, path: str, headers: dict) -> dict:
    status, _, body = request(port, "GET", path, headers=headers)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body)


def import_through_job(
    port: int, admin: dict, plan: dict, export: dict, worker: JobWorker, *, label: str, load=None
) -> dict:
    """Upload the export, poll its job to the end (the checkout ``load`` running meanwhile,
    when given), and read the upload's record. The time runs from the upload's first byte to
    the job's ``finished_at`` (the worker's clock, the same machine's)."""
    path = Path(export["path"])
    watch = HorseWatch(worker)
    watch.start()
    worker_rss = worker.rss()
    if load is not None:
        load.start()
    try:
        started_wall, started = time.time(), time.perf_counter()
        status, headers, body = upload(port, admin, plan["station_id"], path)
        answered = time.perf_counter() - started
        if status != 202:
            raise RuntimeError(f"{label}: the upload answered {status}: {body[:500]!r}")
        location = headers.get("Location", "")
        job_path = "/api/v1/jobs/" + location.rstrip("/").rsplit("/", 1)[-1]
        deadline = started + JOB_TIMEOUT
        samples, last_done = [], -1
        while True:
            job = get_json(port, job_path, admin)
            seen = time.perf_counter()
            progress = job.get("progress") or {}
            done, total = progress.get("done") or 0, progress.get("total")
            horse = watch.horse()
            if total and done != last_done and horse and job["state"] == "running":
                first = horse["first_rss"]
                samples.append((done / total, horse["hwm"] - first, horse["rss"] - first))
                last_done = done
            if job["state"] in ("succeeded", "failed", "cancelled"):
                break
            if not worker.alive():
                raise RuntimeError(f"{label}: the job worker died; see {worker.log_path}")
            if seen > deadline:
                raise RuntimeError(f"{label}: job still {job['state']} after {JOB_TIMEOUT} s")
            time.sleep(POLL_SECONDS)
    finally:
        during = load.stop() if load is not None else None
        # The horse's last readings: it may have exited between two samples.
        time.sleep(2 * SAMPLE_SECONDS)
        watch.stop()
    if job["state"] != "succeeded":
        raise RuntimeError(f"{label}: the job {job['state']}: {json.dumps(job)[:1000]}")
    finished_wall = datetime.fromisoformat(job["finished_at"]).timestamp()
    job_started_wall = datetime.fromisoformat(job["started_at"]).timestamp()
    record = get_json(port, job["result"]["links"]["platform_import"], admin)
    horse = watch.horse()
    during_all = during
    if during is not None:
        # Only the orders placed while the import ran (the load stops at the poll that saw
        # it done).
        during = {
            name: [r for r in records if r[0] <= finished_wall] for name, records in during.items()
        }
    return {
        "seconds": finished_wall - started_wall,
        "seen_seconds": seen - started,
        "upload_seconds": answered,
        "queued_seconds": job_started_wall - started_wall,
        "job": {key: job[key] for key in ("id", "state", "attempts", "progress", "result")},
        "report": record,
        "problems": record.get("problems", [])[:20],
        # The work horse's peak over its resident set right after the fork (a copy of the
        # idle worker's pages, as far as it has them mapped).
        "worker_rss": worker_rss,
        "baseline": horse.get("first_rss", 0),
        "growth": (horse["hwm"] - horse["first_rss"]) if horse else 0,
        "samples": samples,
        "load": during,
        "load_all": during_all,
    }


# --- the checkout load ----------------------------------------------------------------------------


def checkout_client(port, targets, interval, prefix, ready, go, stop, results, index):
    """One client: a 2-line order at a time, at most one every ``interval`` seconds (start to
    start), a fresh Idempotency-Key on each; sends (index, [(wall time sent, seconds, status)])
    when ``stop`` is set. Runs in a process of its own, so the bench's polling and sampling
    threads never delay it."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    records = []
    ready.put(index)
    go.wait(120)
    n, next_at = 0, time.monotonic()
    while not stop.is_set():
        wait = next_at - time.monotonic()
        if wait > 0 and stop.wait(wait):
            break
        method, path, headers, body = targets[(n + index * 7) % len(targets)]
        n += 1
        headers = {**headers, KEY_HEADER: f"{prefix}-{index}-{n}"}
        wall, sent = time.time(), time.perf_counter()
        next_at = time.monotonic() + interval
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
        records.append((wall, time.perf_counter() - sent, status))
    connection.close()
    results.put((index, records))


class CheckoutLoad:
    """``clients`` processes placing orders, paced: even-numbered ones order the imported
    station's SKUs ("same"), odd-numbered ones another station's ("other")."""

    def __init__(self, port: int, targets: dict, clients: int, rate: float):
        self.port, self.targets, self.clients, self.interval = port, targets, clients, 1 / rate
        self.context = multiprocessing.get_context("spawn")
        self.running = None

    @staticmethod
    def group(index: int) -> str:
        return "same" if index % 2 == 0 else "other"

    def start(self) -> None:
        ready, results = self.context.Queue(), self.context.Queue()
        go, stop = self.context.Event(), self.context.Event()
        prefix = f"bench-import-{uuid.uuid4().hex[:10]}"
        processes = [
            self.context.Process(
                target=checkout_client,
                args=(
                    self.port,
                    self.targets[self.group(i)],
                    self.interval,
                    prefix,
                    ready,
                    go,
                    stop,
                    results,
                    i,
                ),
                daemon=True,
            )
            for i in range(self.clients)
        ]
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=120)
        go.set()
        self.running = (processes, results, stop)

    def stop(self) -> dict[str, list]:
        processes, results, stop = self.running
        self.running = None
        stop.set()
        found = {"same": [], "other": []}
        for _ in processes:
            index, records = results.get(timeout=120)
            found[self.group(index)].extend(records)
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        return found

    def run_for(self, seconds: float) -> dict[str, list]:
        self.start()
        try:
            time.sleep(seconds)
        finally:
            found = self.stop()
        return found


def latency_summary(records: list, seconds: float) -> dict:
    """Orders placed, their rate over the phase's ``seconds``, p50 and p99 in ms, and the
    answers other than 201."""
    latencies = sorted(spent for _, spent, _ in records)
    summary = {
        "count": len(records),
        "rate": len(records) / seconds if seconds else 0.0,
        "not_201": sum(1 for *_, status in records if status != 201),
        "p50": None,
        "p99": None,
    }
    if latencies:
        summary["p50"] = statistics.median(latencies) * 1000
        summary["p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return summary


def checkout_check(mark: dict, placed: list[dict]) -> tuple:
    """(label, passed, detail): every checkout the clients sent (warm-up, no import, during
    the import to the poll that saw it done) answered 201, and made one order each."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    records = [r for found in placed for group in found.values() for r in group]
    answered_201 = sum(1 for *_, status in records if status == 201)
    others = {}
    for *_, status in records:
        if status != 201:
            others[status] = others.get(status, 0) + 1
    orders = db.session.execute(
        sa.text("SELECT count(*) FROM orders WHERE id > :last AND channel <> 'imported'"),
        {"last": mark["orders"]},
    ).scalar()
    db.session.rollback()
    return (
        "every checkout answered 201 and made one order",
        not others and orders == answered_201 == len(records),
        f"{len(records)} checkouts, {answered_201} answered 201, {orders} orders made"
        + (f"; other answers (0 = no answer): {others}" if others else ""),
    )


# --- set-up, in process --------------------------------------------------------------------------


def set_up(args) -> dict:
    """The station, its co-ops' members and rules, its fee, its Douyin product ids and session."""
    import sqlalchemy as sa

    from marketplace.accounts.models import Role, User
    from marketplace.catalog.models import Product, ProductStatus, Sku
    from marketplace.clock import SHANGHAI
    from marketplace.extensions import db
    from marketplace.households.models import Household
    from marketplace.ledger.models import BenefitRule, RuleKind, RuleStatus, StationFee
    from marketplace.livestreams.models import HostKind, LivestreamSession, Platform, SessionState
    from marketplace.platform_sales.models import PlatformProduct
    from marketplace.producers.models import (
        CooperativeMembership,
        Producer,
        ProducerKind,
        Station,
    )

    session = db.session
    on_sale = (
        sa.select(
            Sku.id,
            Sku.station_id,
            Sku.price_fen,
            Sku.spec,
            Sku.currency,
            Product.name,
            Producer.kind,
        )
        .join(Product, Product.id == Sku.product_id)
        .join(Producer, Producer.id == Product.producer_id)
        .where(Sku.is_active, Product.status == ProductStatus.active)
    )
    listed = on_sale.subquery()
    counts = session.execute(
        sa.select(listed.c.station_id, sa.func.count())
        .group_by(listed.c.station_id)
        .order_by(sa.func.count().desc(), listed.c.station_id)
    ).first()
    station = session.get(Station, counts[0])
    skus = session.execute(on_sale.where(Sku.station_id == station.id).order_by(Sku.id)).all()
    coops = (
        session.execute(
            sa.select(Producer)
            .where(Producer.station_id == station.id, Producer.kind == ProducerKind.cooperative)
            .order_by(Producer.id)
        )
        .scalars()
        .all()
    )
    if not coops:
        raise RuntimeError(f"station {station.code} has no co-operative")
    # Households of the generated county, the station's own village first.
    household_ids = list(
        session.execute(
            sa.select(Household.id).order_by(
                (Household.village_id != station.village_id), Household.id
            )
        ).scalars()
    )
    if len(household_ids) < args.members:
        raise RuntimeError(f"{len(household_ids)} households; {args.members} members wanted")
    # The admin who uploads and the buyers who check out share the seeded buyer's password
    # (its hash serves them all).
    template = session.execute(
        sa.select(User).where(User.username == BUYER["username"])
    ).scalar_one()
    admin = User(
        username=ADMIN["username"],
        password_hash=template.password_hash,
        display_name="压测",
        role=Role.admin,
    )
    session.add(admin)
    buyers = [BUYER]
    for n in range(2, BUYERS + 1):
        username = f"{BUYER['username']}_import_{n}"
        session.add(
            User(
                username=username,
                password_hash=template.password_hash,
                display_name=f"压测买家{n}",
                role=template.role,
            )
        )
        buyers.append({"username": username, "password": BUYER["password"]})
    session.flush()
    for c, coop in enumerate(coops):
        for m in range(args.members):
            session.add(
                CooperativeMembership(
                    cooperative_id=coop.id,
                    household_id=household_ids[(c * args.members + m) % len(household_ids)],
                    shares=1 + m % 5,
                    joined_on=date(2020, 1, 1),
                )
            )
        session.add(
            BenefitRule(
                producer_id=coop.id,
                version=1
                + (
                    session.execute(
                        sa.select(sa.func.coalesce(sa.func.max(BenefitRule.version), 0)).where(
                            BenefitRule.producer_id == coop.id
                        )
                    ).scalar_one()
                ),
                kind=RuleKind.cooperative,
                status=RuleStatus.approved,
                effective_from=date(2020, 1, 1),
                retained_bp=RETAINED_BP,
                created_by_id=admin.id,
                approved_by_id=admin.id,
            )
        )
    session.add(
        StationFee(
            station_id=station.id,
            fee_bp=FEE_BP,
            effective_from=date(2020, 1, 1),
            created_by_id=admin.id,
        )
    )
    session.execute(
        sa.insert(PlatformProduct),
        [
            {
                "station_id": station.id,
                "platform": Platform.douyin,
                "outside_id": douyin_product_id(sku.id),
                "sku_id": sku.id,
            }
            for sku in skus
        ],
    )
    start = datetime(*SALES_START, tzinfo=SHANGHAI)
    live_session = LivestreamSession(
        code="BENCHIMPORT",
        title="双十一助农直播",
        host_name=HOST_NAME,
        host_kind=HostKind.station_operator,
        host_account=HOST_ACCOUNT,
        station_id=station.id,
        platform=Platform.douyin,
        room_id="bench-import",
        scheduled_start=start - timedelta(hours=1),
        scheduled_end=start + timedelta(hours=SALES_HOURS + 1),
        actual_start=start - timedelta(hours=1),
        actual_end=start + timedelta(hours=SALES_HOURS + 1),
        state=SessionState.ended,
    )
    session.add(live_session)
    session.commit()

    def facts(sku) -> tuple:
        return (sku.id, douyin_product_id(sku.id), sku.name, sku.spec, sku.price_fen)

    coop_skus = [facts(s) for s in skus if s.kind == ProducerKind.cooperative]
    household_skus = [facts(s) for s in skus if s.kind != ProducerKind.cooperative]
    if not coop_skus or not household_skus:
        raise RuntimeError(f"station {station.code} lacks co-op or household SKUs")
    # Checkout's SKUs: the imported station's own (the products the import sells too), and
    # another station's, the one with the most SKUs on sale after it; stocked for any run.
    other = session.execute(
        sa.select(listed.c.station_id)
        .where(listed.c.station_id != station.id, listed.c.currency == "CNY")
        .group_by(listed.c.station_id)
        .order_by(sa.func.count().desc(), listed.c.station_id)
    ).first()
    if other is None:
        raise RuntimeError("the generated catalog has one station with SKUs on sale")
    checkout_skus = {
        name: list(
            session.execute(
                on_sale.with_only_columns(Sku.id)
                .where(Sku.station_id == station_id, Sku.currency == "CNY")
                .order_by(Sku.id)
                .limit(CHECKOUT_SKUS)
            ).scalars()
        )
        for name, station_id in (("same", station.id), ("other", other[0]))
    }
    if min(len(found) for found in checkout_skus.values()) < 2:
        raise RuntimeError(f"too few SKUs to check out: {checkout_skus}")
    session.execute(
        sa.update(Sku)
        .where(Sku.id.in_([s for found in checkout_skus.values() for s in found]))
        .values(stock=STOCK)
    )
    session.commit()
    return {
        "station_id": station.id,
        "other_station_id": other[0],
        "buyers": buyers,
        "checkout_skus": checkout_skus,
        "session_id": live_session.id,
        "coop_ids": [coop.id for coop in coops],
        "coop_skus": coop_skus,
        "household_skus": household_skus,
    }


def douyin_product_id(sku_id: int) -> str:
    return f"37{sku_id:017d}"


# --- the export ----------------------------------------------------------------------------------


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def text_id(value: str) -> str:
    """An id as Douyin writes it: tab-prefixed, quoted, so that spreadsheets keep it as text."""
    return '"\t' + value.replace('"', '""') + '"'


def write_export(path: Path, plan: dict, rows: int, tag: int, seed: int, prefix=None) -> dict:
    """Write ``rows`` rows in Douyin's layout, one at a time; returns what the import must find.
    With ``prefix`` (a path and a number of rows), also write the file's first rows there, as a
    second file: what the import of those rows must find is under ``expected["prefix"]``.

    Even rows sell a co-op's SKU, odd rows a household seller's. One in ten sub-orders shares its
    order with the row before; one in ten was sold outside the live room; a quarter carry a
    merchant's discount; about 0.3% are unpaid, 0.5% closed after payment, 0.5% refunded after
    completion and 0.5% in after-sales (pending: nothing refunded yet)."""
    from marketplace.platform_sales.formats.douyin import DOUYIN

    missing = [name for name in DOUYIN.required_columns() if name not in HEADER]
    if missing:
        raise RuntimeError(f"the generated header lacks {missing}")
    rng = random.Random(seed * 1000 + tag)
    start = datetime(*SALES_START)
    step = SALES_HOURS * 3600 / rows
    counted = ("rows", "created", "skipped", "coop", "live", "refunded", "discounted")
    expected = {**dict.fromkeys(counted, 0), "path": str(path)}
    prefix_path, prefix_rows = prefix or (None, 0)
    order_id = None
    with contextlib.ExitStack() as files:
        out = files.enter_context(path.open("w", encoding="utf-8-sig", newline=""))
        first = (
            files.enter_context(prefix_path.open("w", encoding="utf-8-sig", newline=""))
            if prefix_path
            else None
        )
        out.write(",".join(HEADER) + "\r\n")
        if first:
            first.write(",".join(HEADER) + "\r\n")
        for i in range(rows):
            if i == prefix_rows and first:
                expected["prefix"] = {**expected, "path": str(prefix_path)}
                first.close()
                first = None
            expected["rows"] += 1
            coop = i % 2 == 0
            sku_id, product_id, name, spec, price = rng.choice(
                plan["coop_skus"] if coop else plan["household_skus"]
            )
            line_id = f"69261{tag}{i:013d}"
            if order_id is None or i % 10 != 1:
                order_id = line_id
                placed = start + timedelta(seconds=int(i * step))
                address = rng.choice(ADDRESSES)
                live = rng.random() >= 0.1
            quantity = rng.choice((1, 1, 1, 2, 2, 3))
            discount = 0
            if rng.random() < 0.25:
                discount = min(price * quantity // 10 // 100 * 100 or 100, price * quantity - 1)
            paid_fen = price * quantity - discount
            draw = rng.random()
            refund = "-"
            if draw < 0.003:
                status = "待支付"
            elif draw < 0.008:
                status, refund = "已关闭", "退款成功"
            elif draw < 0.5:
                status = "已完成"
                if draw < 0.013:
                    refund = "退款成功"
                elif draw < 0.018:
                    refund = "售后待处理"
            elif draw < 0.8:
                status = "已发货"
            else:
                status = "待发货"
            unpaid = status == "待支付"
            paid_at = "" if unpaid else f"{placed + timedelta(seconds=12):%Y-%m-%d %H:%M:%S}"
            shipped = f"{placed + timedelta(hours=14):%Y-%m-%d %H:%M:%S}"
            done = f"{placed + timedelta(days=2):%Y-%m-%d %H:%M:%S}"
            if unpaid:
                expected["skipped"] += 1
            else:
                expected["created"] += 1
                expected["coop"] += coop
                expected["live"] += live
                expected["refunded"] += refund == "退款成功"
                expected["discounted"] += discount > 0
            cells = [
                text_id(order_id),
                text_id(line_id),
                text_id(name),
                text_id(spec),
                str(quantity),
                text_id(product_id),
                text_id(f"SKU-{sku_id}"),
                yuan(price),
                yuan(paid_fen),
                "0.00",
                yuan(discount),
                "0.00",
                yuan(discount),
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "抖音支付",
                "0.00",
                "##密文",
                "$$密文",
                *address,
                "##密文",
                "否",
                "-",
                f"{placed:%Y-%m-%d %H:%M:%S}",
                "",
                "-",
                done if status == "已完成" else "-",
                paid_at,
                "抖音",
                "自营",
                status,
                f"{placed + timedelta(days=2):%Y-%m-%d %H:%M:%S}",
                "普通订单",
                "-",
                text_id(HOST_ACCOUNT) if live else "-",
                HOST_NAME if live else "-",
                "-",
                refund,
                "买家不想要了" if status == "已关闭" else "",
                "-",
                "-",
                "-",
                "否",
                "-",
                "自然流量",
                "直播" if live else "其他",
                "直播间" if live else "商品卡",
                "商家",
                "-",
                shipped if status in ("已发货", "已完成") else "-",
                "0.00",
                "0.00",
                yuan(discount),
                "0.00",
                "-",
                "否",
                "-",
                "-",
                "-",
                "-",
            ]
            text = ",".join(cells) + "\r\n"
            out.write(text)
            if first:
                first.write(text)
    expected["bytes"] = path.stat().st_size
    if "prefix" in expected:
        expected["prefix"]["bytes"] = prefix_path.stat().st_size
    return expected


# --- --profile: an import in a child process, as the command line does it ----------------------


def run_child(env: dict, plan: dict, export: dict, *, profile: bool = False) -> dict:
    params = {
        "file": export["path"],
        "station_id": plan["station_id"],
        "profile": profile,
    }
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), CHILD, json.dumps(params)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=3600,
        check=True,
    )
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_CHILD "))
    return json.loads(line.removeprefix("BENCH_CHILD "))


def current_rss() -> int:
    """This process's resident set, in bytes."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    """This process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(params: dict) -> int:
    """Import one file as ``flask livestreams import`` does; print what it did and cost."""
    import gc

    import sqlalchemy as sa

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    from marketplace import create_app
    from marketplace.accounts.auth import Actor
    from marketplace.accounts.models import Role
    from marketplace.extensions import db
    from marketplace.livestreams.models import Platform
    from marketplace.platform_sales import importing

    app = create_app()
    path = Path(params["file"])
    total = path.stat().st_size
    with app.app_context():
        db.session.execute(sa.select(1)).all()
        db.session.rollback()
        gc.collect()
        rss_before, peak_before = current_rss(), peak_rss()
        # Along the file, each twentieth of its bytes: the peak so far (the process's peak once
        # the import has raised it above the peak it had before) and the resident set now.
        samples, progress = [], {"read": 0, "next": total / SAMPLES, "high": rss_before}

        def peak_so_far() -> int:
            peak = peak_rss()
            return max(progress["high"], peak if peak > peak_before else 0)

        def on_bytes(count: int) -> None:
            progress["read"] += count
            if progress["read"] >= progress["next"]:
                rss = current_rss()
                progress["high"] = max(progress["high"], rss)
                samples.append(
                    (progress["read"] / total, peak_so_far() - rss_before, rss - rss_before)
                )
                progress["next"] += total / SAMPLES

        problems = []
        profiler = sql = None
        if params["profile"]:
            profiler, sql = start_profile(db)
        actor = Actor(user_id=None, username="command line", role=Role.admin)
        with path.open("rb") as stream:
            upload = importing.Upload(platform=Platform.douyin, stream=stream, filename=path.name)
            started = time.perf_counter()
            result = importing.import_export(
                db.session,
                actor,
                params["station_id"],
                upload,
                on_bytes=on_bytes,
                on_problem=lambda problem: (
                    problems.append(problem.as_dict()) if len(problems) < 20 else None
                ),
            )
            imported = time.perf_counter()
            db.session.commit()
            finished = time.perf_counter()
        profile_text = stop_profile(profiler, sql) if profiler else None
        growth = peak_so_far() - rss_before
        db.session.remove()
        db.engine.dispose()
    outcome = {
        "seconds": finished - started,
        "commit_seconds": finished - imported,
        "rss_before": rss_before,
        # The highest resident set while it ran, less what the process held before it began.
        "growth": growth,
        "samples": samples,
        "problems": problems,
        "profile": profile_text,
        "report": {
            name: getattr(result, name)
            for name in (
                "id",
                "rows",
                "created_lines",
                "updated_lines",
                "unchanged_lines",
                "duplicate_lines",
                "skipped_lines",
                "failed_lines",
                "problems_not_kept",
            )
        },
    }
    print("BENCH_CHILD " + json.dumps(outcome), flush=True)
    return 0


def start_profile(db):
    """cProfile over the import, and the database time of each statement (its first words)."""
    import cProfile

    from sqlalchemy import event

    sql: dict[str, list] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        spent = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        key = " ".join(statement.split())[:90]
        entry = sql.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += spent

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler, sql


def stop_profile(profiler, sql) -> str:
    import io
    import pstats

    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    text.write("\nSQL by statement (cursor time, not COPY): calls, seconds\n")
    for key, (calls, spent) in sorted(sql.items(), key=lambda kv: -kv[1][1])[:25]:
        text.write(f"  {calls:>8} {spent:>8.2f}  {key}\n")
    return text.getvalue()


# --- the raw baseline -----------------------------------------------------------------------------

RAW_BATCH = 1000


def last_ids(app) -> dict:
    import sqlalchemy as sa

    from marketplace.extensions import db

    with app.app_context():
        found = {
            table: db.session.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
            for table in ("orders", "order_lines", "journal_entries", "postings", "imported_lines")
        }
        db.session.remove()
    return found


def insert_rows(connection, table: str, columns, rows: list[tuple], returning="", spent=None):
    """Plain INSERTs through the driver, their values bound, timed into ``spent[table]``.

    On PostgreSQL, psycopg's ``executemany``: one prepared single-row INSERT sent for every row
    in pipeline mode, which is the quickest way to INSERT there short of COPY (about twice as
    quick as 1,000-row INSERT ... VALUES statements, whose thousands of placeholders psycopg
    parses in Python on every call). SQLite's driver has no RETURNING for ``executemany``: rows
    whose ids are needed go in as one multi-row INSERT ... VALUES ... RETURNING, the others
    through ``executemany``."""
    if not rows:
        return []
    started = time.perf_counter()
    names = ", ".join(columns)
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    one = "(" + ", ".join([mark] * len(columns)) + ")"
    cursor = connection.connection.driver_connection.cursor()
    found = []
    try:
        if returning and postgres:
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES {one} RETURNING {returning}",
                rows,
                returning=True,
            )
            while True:
                found.extend(cursor.fetchall())
                if not cursor.nextset():
                    break
        elif returning:
            values = ", ".join([one] * len(rows))
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {values} RETURNING {returning}",
                [value for row in rows for value in row],
            )
            found = cursor.fetchall()
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one}", rows)
    finally:
        cursor.close()
    if spent is not None:
        spent[table] = spent.get(table, 0.0) + time.perf_counter() - started
    return found


def copied_columns() -> dict[str, list[str]]:
    """Every column but the id of the four tables the baseline writes, from the models."""
    from marketplace.ledger.models import JournalEntry, Posting
    from marketplace.orders.models import Order, OrderLine

    return {
        model.__tablename__: [c.name for c in model.__table__.columns if c.name != "id"]
        for model in (Order, OrderLine, JournalEntry, Posting)
    }


def raw_insert(app, database, before: dict, after: dict) -> dict:
    """The N-row import's orders, lines, journal entries and postings, written again with plain
    INSERTs (``insert_rows``), 1,000 orders a batch, in one transaction that is rolled back.
    Only the INSERTs (and, on PostgreSQL, the deferred balance checks the import's commit also
    fires) are timed; reading the rows to copy is not."""
    import sqlalchemy as sa

    with app.app_context():
        columns = copied_columns()
    engine = database.engine()
    timed = checks = 0.0
    counts = dict.fromkeys(columns, 0)
    spent: dict[str, float] = {}
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            ids = list(
                connection.execute(
                    sa.text(
                        "SELECT id FROM orders WHERE id > :low AND id <= :high"
                        " AND channel = 'imported' ORDER BY id"
                    ),
                    {"low": before["orders"], "high": after["orders"]},
                ).scalars()
            )
            for start in range(0, len(ids), RAW_BATCH):
                low, high = ids[start], ids[min(start + RAW_BATCH, len(ids)) - 1]
                batch = read_batch(connection, columns, low, high)
                started = time.perf_counter()
                write_batch(connection, columns, batch, counts, spent)
                timed += time.perf_counter() - started
            if connection.dialect.name == "postgresql":
                started = time.perf_counter()
                connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
                checks = time.perf_counter() - started
            transaction.rollback()
    finally:
        engine.dispose()
    return {"seconds": timed + checks, "check_seconds": checks, "counts": counts, "spent": spent}


def read_batch(connection, columns: dict, low: int, high: int) -> dict[str, list[dict]]:
    """The rows of the imported orders ``low``..``high`` in the four tables, as dicts with
    their ids (the checkouts placed while the import ran have ids among them)."""
    import sqlalchemy as sa

    imported = "SELECT id FROM orders WHERE id BETWEEN :low AND :high AND channel = 'imported'"
    where = {
        "orders": f"id IN ({imported})",
        "order_lines": f"order_id IN ({imported})",
        "journal_entries": f"order_id IN ({imported})",
        "postings": f"entry_id IN (SELECT id FROM journal_entries WHERE order_id IN ({imported}))",
    }
    return {
        table: [
            dict(row)
            for row in connection.execute(
                sa.text(
                    f"SELECT id, {', '.join(names)} FROM {table} WHERE {where[table]} ORDER BY id"
                ),
                {"low": low, "high": high},
            ).mappings()
        ]
        for table, names in columns.items()
    }


def write_batch(connection, columns: dict, batch: dict, counts: dict, spent: dict) -> None:
    """Insert one batch's copies. Each new row is found again by a unique value of its own, as
    ``record_sales`` does: an order by its number, a line by (order, SKU), an entry by its memo
    (which carries the old entry's id here)."""

    def values(table, row):
        return tuple(row[name] for name in columns[table])

    for row in batch["orders"]:
        row["number"] = "RB" + row["number"][2:]
    new_order = dict(
        insert_rows(
            connection,
            "orders",
            columns["orders"],
            [values("orders", row) for row in batch["orders"]],
            "number, id",
            spent,
        )
    )
    order_of = {row["id"]: new_order[row["number"]] for row in batch["orders"]}
    for row in batch["order_lines"]:
        row["order_id"] = order_of[row["order_id"]]
    new_line = {
        (order_id, sku_id): line_id
        for line_id, order_id, sku_id in insert_rows(
            connection,
            "order_lines",
            columns["order_lines"],
            [values("order_lines", row) for row in batch["order_lines"]],
            "id, order_id, sku_id",
            spent,
        )
    }
    line_of = {row["id"]: new_line[row["order_id"], row["sku_id"]] for row in batch["order_lines"]}
    for row in batch["journal_entries"]:
        row["order_id"] = order_of[row["order_id"]]
        row["memo"] = str(row["id"])
        row["refund_id"] = None  # refunds are not copied
    entry_of = {
        int(memo): new_id
        for new_id, memo in insert_rows(
            connection,
            "journal_entries",
            columns["journal_entries"],
            [values("journal_entries", row) for row in batch["journal_entries"]],
            "id, memo",
            spent,
        )
    }
    postings = []
    for row in batch["postings"]:
        row["entry_id"] = entry_of[row["entry_id"]]
        row["order_line_id"] = line_of.get(row["order_line_id"])
        row["refund_line_id"] = None
        postings.append(values("postings", row))
    insert_rows(connection, "postings", columns["postings"], postings, spent=spent)
    for table in counts:
        counts[table] += len(batch[table])


# --- the database check ---------------------------------------------------------------------------


def written_by(marks: dict) -> dict:
    """The rows the N-row import wrote, table by table (the checkouts placed meanwhile are
    not imported orders)."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    session = db.session
    low, high = marks["before"]["orders"], marks["after"]["orders"]
    between = {"low": low, "high": high}
    imported = "SELECT id FROM orders WHERE id > :low AND id <= :high AND channel = 'imported'"

    def one(sql):
        return session.execute(sa.text(sql), between).scalar()

    def of_orders(table: str, alias: str = "") -> str:
        return f"SELECT count(*) FROM {table} WHERE {alias}order_id IN ({imported})"

    return {
        "orders": one(f"SELECT count(*) FROM ({imported}) o"),
        "order_lines": one(of_orders("order_lines")),
        "order_events": one(of_orders("order_events")),
        "payments": one(of_orders("payments")),
        "payment_events": one(
            "SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id"
            f" WHERE p.order_id IN ({imported})"
        ),
        "refunds": one(of_orders("refunds")),
        "journal_entries": one(of_orders("journal_entries")),
        "postings": one(
            "SELECT count(*) FROM postings p JOIN journal_entries e ON e.id = p.entry_id"
            f" WHERE e.order_id IN ({imported})"
        ),
        "imported_lines": one(of_orders("imported_lines")),
    }


def verify(args, plan: dict, exports: dict, runs: dict) -> list:
    """(label, passed, detail) for each property the run must keep."""
    import sqlalchemy as sa

    from marketplace.extensions import db
    from marketplace.reports import reconciliation

    session = db.session
    params = {"session": plan["session_id"], "coops": plan["coop_ids"]}

    def one(sql, **more):
        return session.execute(sa.text(sql), {**params, **more}).scalar()

    checks = []
    imports = [name for name in ("large", "profiled") if name in runs]
    for name in imports:
        got, want = runs[name]["report"], exports[name]
        checks.append(
            (
                f"{'the export' if name == 'large' else 'the profiled export'}: every row taken"
                " as generated" + (", the whole file read" if "complete" in got else ""),
                (got["rows"], got["created_lines"], got["skipped_lines"])
                == (want["rows"], want["created"], want["skipped"])
                and got["failed_lines"] == got["duplicate_lines"] == got["updated_lines"] == 0
                and got.get("complete", True),
                f"{got['rows']} rows: {got['created_lines']} created (want {want['created']}),"
                f" {got['skipped_lines']} unpaid (want {want['skipped']}),"
                f" {got['failed_lines']} failed, {got['duplicate_lines']} duplicate"
                + (f", complete {got['complete']}" if "complete" in got else "")
                + (
                    f"; first problems: {runs[name]['problems'][:3]}"
                    if runs[name]["problems"]
                    else ""
                ),
            )
        )
    created = sum(runs[name]["report"]["created_lines"] for name in imports)
    orders = one("SELECT count(*) FROM orders WHERE channel = 'imported'")
    checks.append(
        (
            "orders created == lines the imports created",
            orders == created,
            f"{orders} imported orders, {created} created lines reported",
        )
    )
    lines = one(
        "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE o.channel = 'imported'"
    )
    imported = one("SELECT count(*) FROM imported_lines")
    matched = one(
        "SELECT count(DISTINCT i.order_line_id) FROM imported_lines i"
        " JOIN order_lines l ON l.id = i.order_line_id AND l.order_id = i.order_id"
    )
    checks.append(
        (
            "one imported_lines row per created line",
            lines == imported == matched == created,
            f"{lines} order lines, {imported} imported_lines rows, {matched} matching their line",
        )
    )
    coop_lines = session.execute(
        sa.text(
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE o.channel = 'imported' AND l.producer_id IN :coops"
        ).bindparams(sa.bindparam("coops", expanding=True)),
        params,
    ).scalar()
    shared = session.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT p.order_line_id FROM postings p"
            " JOIN journal_entries e ON e.id = p.entry_id"
            " JOIN order_lines l ON l.id = p.order_line_id"
            " WHERE e.kind = 'attribution' AND p.household_id IS NOT NULL"
            " AND l.producer_id IN :coops GROUP BY p.order_line_id"
            " HAVING count(*) = :members) shared"
        ).bindparams(sa.bindparam("coops", expanding=True)),
        {**params, "members": args.members},
    ).scalar()
    want_coop = sum(exports[name]["coop"] for name in imports)
    checks.append(
        (
            "half the lines attribute to co-op members",
            coop_lines == shared == want_coop,
            f"{coop_lines} co-op lines of {created} (want {want_coop}), {shared} shared among"
            f" all {args.members} members",
        )
    )
    live = one("SELECT count(*) FROM orders WHERE livestream_session_id = :session")
    want_live = sum(exports[name]["live"] for name in imports)
    checks.append(
        (
            "live rows tied to the session",
            live == want_live,
            f"{live} orders of the session (want {want_live})",
        )
    )
    refunded = one(
        "SELECT count(*) FROM orders WHERE channel = 'imported' AND refunded_fen = total_fen"
    )
    want_refunded = sum(exports[name]["refunded"] for name in imports)
    checks.append(
        (
            "closed and refunded rows refunded in full",
            refunded == want_refunded,
            f"{refunded} orders refunded (want {want_refunded})",
        )
    )
    again, first = runs["again"]["report"], exports["again"]
    checks.append(
        (
            "re-importing the export's first quarter (through the job) creates nothing",
            again["created_lines"] == again["updated_lines"] == again["failed_lines"] == 0
            and again["complete"]
            and (again["rows"], again["unchanged_lines"], again["skipped_lines"])
            == (first["rows"], first["created"], first["skipped"])
            and orders == one("SELECT count(*) FROM orders WHERE channel = 'imported'"),
            f"{again['rows']} rows: {again['created_lines']} created, {again['updated_lines']}"
            f" updated, {again['unchanged_lines']} unchanged (want {first['created']}),"
            f" {again['failed_lines']} failed",
        )
    )
    ledger = reconciliation.run(session)
    checks.append(
        (
            "ledger check (flask ledger check)",
            ledger.differences == [],
            ledger.summary()
            if ledger.ok
            else f"{len(ledger.differences)} differences, first: {ledger.differences[:3]}",
        )
    )
    session.rollback()
    return checks


# --- the report -----------------------------------------------------------------------------------


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def report(args, plan, exports, runs, raw, written, checks, loads, logged) -> int:
    large, again = runs["large"], runs["again"]
    binding = args.db == "postgres"
    note = "" if binding else " (set for PostgreSQL)"
    rows = exports["large"]["rows"]
    cpus = os.cpu_count() or 1
    print()
    print(
        f"import benchmark on {args.db}: a Douyin export of {rows:,} rows"
        f" ({exports['large']['bytes'] / 2**20:,.0f} MiB), half of them co-op products"
        f" ({len(plan['coop_ids'])} co-ops of {args.members} members), station"
        f" {plan['station_id']}; uploaded by an admin (POST .../platform-imports), imported by"
        f" one job worker a transaction per 1,000 rows, the job polled every {POLL_SECONDS} s;"
        f" checkout load running during the import ({args.checkout_clients} clients, each at"
        f" most {args.checkout_rate:g} orders/s, kept low so as not to starve the import on"
        f" {cpus} CPUs)"
    )
    header = f"{'':<60}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))

    def row(label, count, seconds, ratio=None, tail=""):
        rate = count / seconds if seconds else 0.0
        shown = f"{ratio:>7.2f}x" if ratio is not None else f"{'':>8}"
        print(f"{label:<60}{count:>10,}{seconds:>10.2f}{rate:>10,.0f}{shown}{tail}")

    row("raw INSERT of what the import wrote (the baseline)", rows, raw["seconds"], 1.0)
    ratio = large["seconds"] / raw["seconds"] if raw["seconds"] else float("inf")
    met = ratio <= RATIO_TARGET
    row(
        "import through the job: upload to the job's finished_at",
        rows,
        large["seconds"],
        ratio,
        f"   target <= {RATIO_TARGET:g}x: {'met' if met else 'MISSED'}{note}",
    )
    row(
        "the first quarter again, through the job (nothing new)",
        again["report"]["rows"],
        again["seconds"],
    )
    if "profiled" in runs:
        profiled = runs["profiled"]
        row(
            "another quarter-size export, in a child under cProfile",
            profiled["report"]["rows"],
            profiled["seconds"],
        )
    print(
        f"the import's course: the upload answered 202 after {large['upload_seconds']:.1f} s,"
        f" the worker took the job at {large['queued_seconds']:.1f} s, it finished at"
        f" {large['seconds']:.1f} s, and the poll saw it done at {large['seen_seconds']:.1f} s"
        f" (job {large['job']['id']}, {large['job']['attempts']} attempt(s))"
    )
    print(
        "the raw INSERT wrote "
        + ", ".join(
            f"{count:,} {table} ({raw['spent'].get(table, 0):.1f} s)"
            for table, count in raw["counts"].items()
        )
        + (f"; the deferred balance checks took {raw['check_seconds']:.1f} s" if binding else "")
    )
    print("the import wrote " + ", ".join(f"{count:,} {table}" for table, count in written.items()))

    samples = large["samples"]
    quarter = next((peak for share, peak, _ in samples if share >= 0.25), large["growth"])
    allowed = MEMORY_FACTOR * quarter + MEMORY_ALLOWANCE_MIB * 2**20
    flat = large["growth"] <= allowed
    print(
        "memory, the work horse's peak RSS growth over its RSS right after the fork"
        f" ({mib(large['baseline'])}; the idle worker's {mib(large['worker_rss'])}):"
        f" {mib(quarter)} by a quarter of the rows, {mib(large['growth'])} by the end"
        f"   target <= {MEMORY_FACTOR}x + {MEMORY_ALLOWANCE_MIB} MiB = {mib(allowed)}:"
        f" {'met' if flat else 'MISSED'}"
    )
    along = ", ".join(f"{share:.0%} {peak / 2**20:,.0f}" for share, peak, _ in thin(samples))
    print(f"  peak growth along the rows (share of rows done: MiB): {along or '-'}")
    print(
        f"  beside it: the file is {mib(exports['large']['bytes'])} (the job reads the upload"
        f" in chunks); the first quarter again, a {mib(exports['again']['bytes'])} file, peaked"
        f" {mib(again['growth'])} over its fork's"
    )

    print()
    checkout_missed = checkout_table(args, loads, note)
    if "profiled" in runs:
        print()
        print(f"profile of the quarter-size export:\n{runs['profiled']['profile']}")
    if logged:
        print(f"the server's and the worker's log lines mentioning errors (first {len(logged)}):")
        for line in logged:
            print(f"  {line}")
    print("database check after the run:")
    for label, passed, detail in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    if not all(passed for _, passed, _ in checks):
        return 1
    missed = (not met) or (not flat) or checkout_missed
    return 1 if args.strict and binding and missed else 0


def thin(samples: list, most: int = 10) -> list:
    """At most ``most`` of the samples, evenly spread, the last one kept."""
    if len(samples) <= most:
        return samples
    step = len(samples) / most
    return [samples[min(len(samples) - 1, round((k + 1) * step) - 1)] for k in range(most)]


def checkout_table(args, loads: dict, note: str) -> bool:
    """Checkout's latency with no import running and while the import ran, by the station of
    the SKUs ordered; True when a p99 ratio missed its target."""
    header = (
        f"{'checkout, POST /api/v1/orders (2 lines)':<54}{'orders':>8}{'per s':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'not 201':>8}{'p99 ratio':>10}"
    )
    print(header)
    print("-" * len(header))
    groups = [
        ("SKUs of the imported station", ["same"]),
        ("SKUs of another station", ["other"]),
        ("all", ["same", "other"]),
    ]
    missed = False
    for label, names in groups:
        if not all(loads["idle"].get(name) for name in names):
            continue
        idle = latency_summary(
            [r for name in names for r in loads["idle"][name]], loads["seconds"]["idle"]
        )
        during = latency_summary(
            [r for name in names for r in loads["during"][name]], loads["seconds"]["during"]
        )
        ratio = during["p99"] / idle["p99"] if idle["p99"] and during["p99"] else None
        for phase, found in (("no import", idle), ("import running", during)):
            shown = tail = ""
            if phase == "import running":
                if ratio is None:
                    shown, tail = f"{'-':>10}", "   no orders while the import ran"
                else:
                    ok = ratio <= CHECKOUT_P99_TARGET
                    missed = missed or not ok
                    shown = f"{ratio:>9.2f}x"
                    verdict = "met" if ok else "MISSED"
                    tail = f"   target <= {CHECKOUT_P99_TARGET:g}x: {verdict}{note}"
            p50 = f"{found['p50']:.1f}" if found["p50"] is not None else "-"
            p99 = f"{found['p99']:.1f}" if found["p99"] is not None else "-"
            print(
                f"{label + ', ' + phase:<54}{found['count']:>8,}{found['rate']:>7.1f}"
                f"{p50:>8}{p99:>8}{found['not_201']:>8}{shown}{tail}"
            )
    print(
        f"({args.checkout_clients} clients, each one order at a time, at most"
        f" {args.checkout_rate:g} a second, start to start; half order the imported station's"
        f" SKUs, half another station's; {args.checkout_seconds:g} s with no import after"
        f" {args.checkout_warmup:g} s of warm-up, then from the upload's start to the job's"
        " finish)"
    )
    return missed


if __name__ == "__main__":
    sys.exit(main())
