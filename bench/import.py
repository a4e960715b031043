"""Import benchmark: a generated Douyin order export imported as the command line does it, against
a raw bulk INSERT of the same orders, lines, journal entries and postings in the same run.

    .venv/bin/python bench/import.py [--db postgres|sqlite] [--rows 200000] [--members 10] \
        [--profile] [--strict]

Builds a scratch database (migrations, ``flask seed scale``), picks the station with the most
SKUs on sale, gives its two co-operatives member households and an approved benefit rule, the
station a fee, a Douyin product id for each of its SKUs (``PlatformProduct`` rows) and an ended
Douyin session with a host account covering the export's hours. Then it writes an export of N
rows in the Douyin layout (UTF-8 with a BOM, ids tab-prefixed as the platform writes them,
streamed to a file, its first quarter to a second file as well): half the rows sell
co-operative products, a quarter carry a merchant's discount, one in ten sub-orders shares its
order with another, one in ten was sold outside the live room, and a few are refunded, closed,
in after-sales or unpaid.

The import runs in a child process (``import_export`` and one commit, as ``flask livestreams
import`` does), which samples its own resident set along the file. Then, in the same database
and in one transaction rolled back afterwards, the raw baseline: the very orders, lines,
journal entries and postings the import wrote, copied with plain INSERTs through the driver (no
COPY; on PostgreSQL the deferred balance check of every posting is fired before the clock
stops, as the import's commit fires it). Last, the first quarter again, which must create
nothing.

Prints rows per second, the import's time as a ratio to the raw insert's (target <= 5x on
PostgreSQL), its peak RSS growth by a quarter of the file and by its end (target: the end's <=
1.5x the quarter's + 16 MiB, i.e. memory does not grow with the file) and checks the database
(exit 1 when a check fails; ``--strict`` also exits 1 when a target is missed on PostgreSQL).
"""

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    PROJECT_ROOT,
    add_smoke_argument,
    app_environment,
    apply_smoke,
    log,
    run_flask,
    scratch_session,
)

#: The import's time as a multiple of the raw insert's (PostgreSQL).
RATIO_TARGET = 5.0
#: Memory is flat when the N-row import's peak RSS growth is within this factor of the N/4-row
#: import's, plus this allowance (allocator arenas, caches warmed by the larger run).
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
#: How many times along the file the import's resident set is sampled.
SAMPLES = 20

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
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the measured export")
    parser.add_argument(
        "--members", type=int, default=10, help="member households of each co-operative"
    )
    parser.add_argument(
        "--products", type=int, default=2_000, help="products `flask seed scale` generates"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the exports")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also import one more N/4-row export under cProfile, with SQL time per statement",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the scratch database on (--db postgres)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed on PostgreSQL"
    )
    add_smoke_argument(parser)
    args = parser.parse_args()
    apply_smoke(args, rows=400, members=2, products=100)
    if args.rows < 100 or args.members < 1:
        parser.error("--rows must be at least 100 and --members at least 1")
    return args


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CHILD:
        return child(json.loads(sys.argv[2]))
    args = parse_args()
    with scratch_session(args) as (folder, database):
        return run(args, folder, database)


def run(args, folder: Path, database) -> int:
    env = app_environment(folder, database, LOG_LEVEL="WARNING")
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
        f"{len(plan['household_skus'])} household SKUs mapped; {args.members} members per co-op"
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

    runs = {}
    marks = {"before": last_ids(app)}
    log(f"importing the export ({args.rows:,} rows)")
    runs["large"] = run_child(env, plan, exports["large"])
    marks["after"] = last_ids(app)
    log("raw INSERT of the same orders, lines, entries and postings (rolled back)")
    raw = raw_insert(app, database, marks["before"], marks["after"])
    log(f"importing its first quarter again ({quarter:,} rows)")
    runs["again"] = run_child(env, plan, exports["again"])
    if args.profile:
        log(f"importing another {quarter:,}-row export under cProfile")
        runs["profiled"] = run_child(env, plan, exports["profiled"], profile=True)
    with app.app_context():
        checks = verify(args, plan, exports, runs)
        written = written_by(marks)
        from marketplace.extensions import db

        db.session.remove()
        db.engine.dispose()
    return report(args, plan, exports, runs, raw, written, checks)


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
        sa.select(Sku.id, Sku.station_id, Sku.price_fen, Sku.spec, Product.name, Producer.kind)
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
    admin = User(
        username="bench_import_admin", password_hash="-", display_name="压测", role=Role.admin
    )
    session.add(admin)
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
    return {
        "station_id": station.id,
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


# --- the imports, each in a child process ---------------------------------------------------------


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
                    sa.text("SELECT id FROM orders WHERE id > :low AND id <= :high ORDER BY id"),
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
    """The rows of the orders ``low``..``high`` in the four tables, as dicts with their ids."""
    import sqlalchemy as sa

    where = {
        "orders": "id BETWEEN :low AND :high",
        "order_lines": "order_id BETWEEN :low AND :high",
        "journal_entries": "order_id BETWEEN :low AND :high",
        "postings": "entry_id IN (SELECT id FROM journal_entries"
        " WHERE order_id BETWEEN :low AND :high)",
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
    """The rows the N-row import wrote, table by table."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    session = db.session
    low, high = marks["before"]["orders"], marks["after"]["orders"]
    between = {"low": low, "high": high}

    def one(sql):
        return session.execute(sa.text(sql), between).scalar()

    return {
        "orders": one("SELECT count(*) FROM orders WHERE id > :low AND id <= :high"),
        "order_lines": one(
            "SELECT count(*) FROM order_lines WHERE order_id > :low AND order_id <= :high"
        ),
        "order_events": one(
            "SELECT count(*) FROM order_events WHERE order_id > :low AND order_id <= :high"
        ),
        "payments": one(
            "SELECT count(*) FROM payments WHERE order_id > :low AND order_id <= :high"
        ),
        "payment_events": one(
            "SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id"
            " WHERE p.order_id > :low AND p.order_id <= :high"
        ),
        "refunds": one("SELECT count(*) FROM refunds WHERE order_id > :low AND order_id <= :high"),
        "journal_entries": one(
            "SELECT count(*) FROM journal_entries WHERE order_id > :low AND order_id <= :high"
        ),
        "postings": one(
            "SELECT count(*) FROM postings p JOIN journal_entries e ON e.id = p.entry_id"
            " WHERE e.order_id > :low AND e.order_id <= :high"
        ),
        "imported_lines": one(
            "SELECT count(*) FROM imported_lines WHERE order_id > :low AND order_id <= :high"
        ),
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
                " as generated",
                (got["rows"], got["created_lines"], got["skipped_lines"])
                == (want["rows"], want["created"], want["skipped"])
                and got["failed_lines"] == got["duplicate_lines"] == got["updated_lines"] == 0,
                f"{got['rows']} rows: {got['created_lines']} created (want {want['created']}),"
                f" {got['skipped_lines']} unpaid (want {want['skipped']}),"
                f" {got['failed_lines']} failed, {got['duplicate_lines']} duplicate"
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
            "re-importing the export's first quarter creates nothing",
            again["created_lines"] == again["updated_lines"] == again["failed_lines"] == 0
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


def report(args, plan, exports, runs, raw, written, checks) -> int:
    large, again = runs["large"], runs["again"]
    binding = args.db == "postgres"
    note = "" if binding else " (set for PostgreSQL)"
    rows = exports["large"]["rows"]
    print()
    print(
        f"import benchmark on {args.db}: a Douyin export of {rows:,} rows"
        f" ({exports['large']['bytes'] / 2**20:,.0f} MiB), half of them co-op products"
        f" ({len(plan['coop_ids'])} co-ops of {args.members} members), station"
        f" {plan['station_id']}; each import in a child process, in one transaction"
    )
    header = f"{'':<56}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))

    def row(label, count, seconds, ratio=None, tail=""):
        rate = count / seconds if seconds else 0.0
        shown = f"{ratio:>7.2f}x" if ratio is not None else f"{'':>8}"
        print(f"{label:<56}{count:>10,}{seconds:>10.2f}{rate:>10,.0f}{shown}{tail}")

    row("raw INSERT of what the import wrote (the baseline)", rows, raw["seconds"], 1.0)
    ratio = large["seconds"] / raw["seconds"] if raw["seconds"] else float("inf")
    met = ratio <= RATIO_TARGET
    row(
        "import_export + commit",
        rows,
        large["seconds"],
        ratio,
        f"   target <= {RATIO_TARGET:.0f}x: {'met' if met else 'MISSED'}{note}",
    )
    row("the first quarter again (nothing new)", again["report"]["rows"], again["seconds"])
    if "profiled" in runs:
        profiled = runs["profiled"]
        row(
            "another quarter-size export, under cProfile",
            profiled["report"]["rows"],
            profiled["seconds"],
        )
    print(
        "the raw INSERT wrote "
        + ", ".join(
            f"{count:,} {table} ({raw['spent'].get(table, 0):.1f} s)"
            for table, count in raw["counts"].items()
        )
        + (f"; the deferred balance checks took {raw['check_seconds']:.1f} s" if binding else "")
    )
    print(
        "the import wrote "
        + ", ".join(f"{count:,} {table}" for table, count in written.items())
        + f"; its commit took {large['commit_seconds']:.1f} s"
    )

    samples = large["samples"]
    quarter = next((peak for share, peak, _ in samples if share >= 0.25), large["growth"])
    allowed = MEMORY_FACTOR * quarter + MEMORY_ALLOWANCE_MIB * 2**20
    flat = large["growth"] <= allowed
    print(
        f"memory, the import's peak RSS growth: {mib(quarter)} by a quarter of the file,"
        f" {mib(large['growth'])} by its end   target <= {MEMORY_FACTOR}x + "
        f"{MEMORY_ALLOWANCE_MIB} MiB = {mib(allowed)}: {'met' if flat else 'MISSED'}"
    )
    along = ", ".join(f"{share:.0%} {peak / 2**20:,.0f}" for share, peak, _ in samples[1::2])
    print(f"  peak growth along the file, MiB: {along}")
    if "profiled" in runs:
        print()
        print(f"profile of the quarter-size export:\n{runs['profiled']['profile']}")
    print("database check after the run:")
    for label, passed, detail in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    if not all(passed for _, passed, _ in checks):
        return 1
    missed = (not met) or (not flat)
    return 1 if args.strict and binding and missed else 0


if __name__ == "__main__":
    sys.exit(main())
