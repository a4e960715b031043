"""A large generated county with two years of ledger history, for the officials' reports:
``flask seed county --households 50000 --months 24``.

A third fictional county (云杉县, codes ``229903...``; the demo's 青松县 is ``229901`` and
``flask seed scale``'s 白桦县 ``229902``) with about 10 townships and 200 villages, the
requested number of registered households (status histories: in poverty → lifted → some under
monitoring, some of those cleared, a few changing within the generated months), a station per
village, two co-operatives per village with member households and shares, five households
selling their own produce per village, an enterprise per township with a benefit-linking
contract to 80 households, and an official, ``bench_official``, who sees the county.

Then, month by month over the ``months`` full months before the current one (Asia/Shanghai
business days), what the marketplace would have written: paid platform orders (one or two
lines, one product per producer) with their payments, each attributed by one balanced journal
entry shaped as ``ledger/attribution.py`` writes it (the gateway's clearing account debited,
the station's fee, the co-op's retained share or the enterprise's payable, and every household
its part by largest remainder, postings carrying the order line, rule version and household);
about 3% of lines refunded later, in full or in part, each reversed by ``reversal_legs``, the
ledger's own function; a county assistance fund disbursing to its in-poverty and monitored
households every month and livestream pledges (bound funds) to one village's households, both
funded by contributions first; and quarterly payout runs per township paying each household
what it is owed (a few lines returned by the bank and owed again).

Every entry balances, the payments agree with the clearing accounts and no liability ends in
debit, so ``flask ledger check`` finds no difference. Rows are written in bulk with ids
allocated here: COPY on PostgreSQL (psycopg 3's ``cursor.copy``), executemany on SQLite. It
all happens in one transaction, committed by the caller. The default size makes about ten
million postings on PostgreSQL.

A second run refuses (``CountyExists``) and changes nothing: the county is made once.
"""

import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from tqdm import tqdm

from marketplace import pii
from marketplace.accounts.models import Role, User
from marketplace.accounts.service import hash_password
from marketplace.catalog.models import CatalogGeneration, Category, Product, Sku
from marketplace.clock import shanghai_today
from marketplace.db import utcnow
from marketplace.households.models import Household, HouseholdStatusChange
from marketplace.ledger import journal, rollups, sales_rollups
from marketplace.ledger.allocation import basis_points, largest_remainder
from marketplace.ledger.attribution import reversal_legs
from marketplace.ledger.models import (
    AssistanceFund,
    BenefitRule,
    FundContribution,
    FundDisbursement,
    FundDisbursementLine,
    JournalEntry,
    LedgerAccount,
    Posting,
    RuleBeneficiary,
    StationFee,
)
from marketplace.orders.models import Order, OrderLine
from marketplace.payments.models import Payment, Refund, RefundLine
from marketplace.payouts.models import PayoutLine, PayoutRun
from marketplace.periods import next_month
from marketplace.producers.models import CooperativeMembership, Producer, Station
from marketplace.regions.models import Region
from seed.demo_catalog import search_text

PREFIX = "229903"
COUNTY_CODE = f"{PREFIX}000000"
COUNTY_NAME = "云杉县"
#: The official the reports benchmark logs in as (sees the whole county, read-only).
BENCH_OFFICIAL_USERNAME = "bench_official"
BENCH_OFFICIAL_PASSWORD = "bench-official-2024"
#: Proposes the payout runs and makes the funds (an official cannot approve their own run).
CLERK_USERNAME = "county_clerk"

TOWNSHIP_NAMES = ["松涛镇", "云岭乡", "杉木镇", "清河乡", "望月镇", "槐树乡", "金沟镇", "桦甸乡"]
TOWNSHIP_NAMES += ["鹰嘴镇", "苇塘乡"]
VILLAGE_FIRST = "东西南北前后上下大小新老红白青黄柳杨榆桦松柏杏梨枣栗"
VILLAGE_SECOND = ["山", "沟", "岭", "河", "屯", "营", "台", "洼", "岗", "泉"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾于董"
GIVEN_NAMES = ["德才", "国富", "桂兰", "秀英", "振山", "玉梅", "长海", "春花", "宝山", "淑珍"]
GIVEN_NAMES += ["广田", "凤芝", "明远", "金凤", "永福", "丽华"]
#: (product, category code, unit, spec, price in fen) for each kind of producer
COOP_PRODUCE = [
    ("蓝莓鲜果", "fruit", "盒", "125g×4盒", 3980),
    ("秋木耳", "mountain_produce", "袋", "500g 袋装", 6900),
    ("红松籽", "mountain_produce", "袋", "500g 袋装", 8800),
    ("长粒香大米", "grain_oil", "袋", "5kg 袋装", 6800),
]
HOUSEHOLD_PRODUCE = [
    ("散养柴鸡蛋", "livestock_poultry", "箱", "30枚", 4500),
    ("椴树蜂蜜", "farm_produce", "瓶", "500g 瓶装", 6800),
    ("黏豆包", "farm_produce", "袋", "1kg 袋装", 3600),
    ("手编柳条筐", "handicraft", "个", "小号", 3500),
]
ENTERPRISE_PRODUCE = ("人参饮片", "medicinal_herbs", "盒", "250g 礼盒", 19800)
PLATFORMS = ("douyin", "kuaishou")

#: Sales per month: lines of each co-op, of each selling household, of each enterprise.
COOP_LINES_PER_MONTH = 9.5
SELLER_LINES_PER_MONTH = 8
ENTERPRISE_LINES_PER_MONTH = 20
#: Shares: fee of each station, co-op retained, enterprise share passed to households.
STATION_FEE_BP = 300
COOP_RETAINED_BP = 2000
ENTERPRISE_BP = 1000
ENTERPRISE_BENEFICIARIES = 80
REFUND_RATE = 0.03
PAYOUT_FAILURE_RATE = 0.005
#: The county fund gives this much a month to each household in poverty or monitored.
FUND_MONTHLY_FEN = 20_000
RULES_FROM = date(2019, 1, 1)


class CountyExists(Exception):
    """The generated county is already in the database: a second run refuses."""


@dataclass
class Sizes:
    households: int
    months: int
    townships: int
    villages: int


def sizes_for(households: int, months: int) -> Sizes:
    villages = max(4, min(200, households // 250))
    townships = max(2, min(10, villages // 20))
    return Sizes(households, months, townships, villages)


def window(months: int, today: date | None = None) -> list[date]:
    """The first days of the ``months`` full months before the current one (Shanghai)."""
    first = (today or shanghai_today()).replace(day=1)
    found = []
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
        found.append(first)
    return found[::-1]


def _at(day: date, hour: int = 12) -> datetime:
    """A moment of a Shanghai business day, in UTC."""
    return datetime.combine(day, time(hour)).replace(tzinfo=UTC) - timedelta(hours=8)


# --- writing rows in bulk ---------------------------------------------------------------------


class Writer:
    """Rows as tuples in a table's column order: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self, session):
        self.session = session
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.written: dict[str, int] = defaultdict(int)

    def next_ids(self, *tables: str) -> dict[str, int]:
        """The first free id of each table (the caller allocates ids from there). On
        PostgreSQL the tables are locked against other writers (readers go on) until the
        commit, by which time their sequences have been moved past the ids taken here."""
        if self.postgres:
            self.connection.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        return {
            table: (self.connection.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar() or 0)
            + 1
            for table in tables
        }

    def rows(self, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        self.written[table.name] += len(rows)
        if self.postgres:
            cursor = self.connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            for start in range(0, len(rows), 5000):
                self.session.execute(
                    table.insert(),
                    [dict(zip(columns, row, strict=True)) for row in rows[start : start + 5000]],
                )

    def reset_sequences(self, tables) -> None:
        if not self.postgres:
            return
        for table in tables:
            self.connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(max(id), 1) FROM {table}))"
            )


ORDER_COLUMNS = (
    "id", "number", "channel", "status", "payment_status", "total_fen", "refunded_fen",
    "currency", "hold_expires_at", "created_at", "paid_at", "version",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "order_id", "sku_id", "product_id", "station_id", "producer_id", "product_name",
    "sku_spec", "unit_price_fen", "quantity", "line_total_fen", "discount_fen", "list_price_fen",
    "pricing", "refunded_quantity", "refunded_fen",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "id", "order_id", "gateway", "state", "method", "amount_fen", "currency", "captured_fen",
    "refunded_fen", "provider_reference", "created_at", "succeeded_at",
)  # fmt: skip
REFUND_COLUMNS = (
    "id", "order_id", "payment_id", "state", "amount_fen", "currency", "reason", "restocked",
    "provider_reference", "created_at", "completed_at",
)  # fmt: skip
REFUND_LINE_COLUMNS = ("id", "refund_id", "order_line_id", "quantity", "amount_fen")
ENTRY_COLUMNS = (
    "id", "kind", "effective_on", "memo", "created_by_id", "created_at", "order_id", "refund_id",
    "payout_line_id", "fund_disbursement_id", "fund_contribution_id",
)  # fmt: skip
POSTING_COLUMNS = (
    "entry_id", "account_id", "amount_fen", "currency", "order_line_id", "refund_line_id",
    "rule_version_id", "household_id", "effective_on",
)  # fmt: skip
DISBURSEMENT_COLUMNS = ("id", "fund_id", "mode", "total_fen", "memo", "created_by_id", "created_at")
DISBURSEMENT_LINE_COLUMNS = ("id", "disbursement_id", "household_id", "weight", "amount_fen")
CONTRIBUTION_COLUMNS = (
    "id", "fund_id", "amount_fen", "currency", "contributor", "reference", "created_by_id",
    "created_at",
)  # fmt: skip
RUN_COLUMNS = (
    "id", "region_id", "period_end", "project_name", "batch_serial", "status", "total_fen",
    "proposed_by_id", "proposed_at", "approved_by_id", "approved_at", "version",
)  # fmt: skip
PAYOUT_LINE_COLUMNS = (
    "id", "run_id", "payee_kind", "household_id", "account_id", "amount_fen", "status",
    "payee_name", "failure_reason", "settled_at",
)  # fmt: skip
ID_TABLES = (
    "orders", "order_lines", "payments", "refunds", "refund_lines", "journal_entries",
    "fund_disbursements", "fund_disbursement_lines", "fund_contributions", "assistance_funds",
    "payout_runs", "payout_lines",
)  # fmt: skip


# --- the registry and producers ----------------------------------------------------------------


@dataclass
class Village:
    id: int
    code: str
    name: str
    township_id: int
    station_id: int = 0
    households: list[int] = field(default_factory=list)


@dataclass
class Seller:
    """A producer with its one product and SKU, and how its lines are attributed."""

    producer_id: int
    kind: str
    station_id: int
    product_id: int = 0
    sku_id: int = 0
    name: str = ""
    spec: str = ""
    price_fen: int = 0
    rule_id: int | None = None
    #: household sellers: the household; co-ops and enterprises: (household, weight) pairs
    household_id: int | None = None
    members: list[tuple[int, int]] = field(default_factory=list)
    kept_account: str | None = None


def generate(
    session, *, households: int, months: int, random_seed: int = 7, today: date | None = None
) -> dict[str, int]:
    """Generate the county and its ledger history; flush, never commit."""
    if session.execute(sa.select(Region.id).where(Region.code == COUNTY_CODE)).scalar():
        raise CountyExists(
            f"{COUNTY_NAME} ({COUNTY_CODE}) is already loaded; a second run changes nothing. "
            "Load it into a fresh database to change its size."
        )
    rng = random.Random(random_seed)
    sizes = sizes_for(households, months)
    months_list = window(months, today)
    county, townships, villages = _regions(session, sizes)
    official, clerk = _users(session, county.id)
    status_now = _households(session, rng, villages, sizes, months_list)
    sellers, enterprises = _producers(session, rng, villages, townships, clerk)
    writer = Writer(session)
    accounts = _accounts(session, villages, sellers + enterprises)
    ledger = Ledger(writer, rng, accounts, clerk, official)
    ledger.run(
        months_list, villages, townships, sellers, enterprises, status_now, county_id=county.id
    )
    writer.reset_sequences(ID_TABLES)
    # The postings went in by COPY, past ``write_entries``: the ledger sums them for reports.
    rollups.rebuild(session)
    sales_rollups.rebuild(session)
    session.execute(
        sa.update(CatalogGeneration)
        .where(CatalogGeneration.id == 1)
        .values(value=CatalogGeneration.value + 1)
    )
    session.flush()
    # Bulk loads leave the planner's statistics stale; refresh them before anyone queries:
    # every table written (a channel report planned on payments without statistics probed
    # every platform payment for each order, 20 s for a village's month).
    for table in dict.fromkeys((
        "regions", "households", "household_status_changes", "ledger_accounts", "producers",
        "products", "orders", "order_lines", "journal_entries", "postings", "fund_disbursements",
        "assistance_funds", "household_income_months", "village_income_months",
        "village_reach_months", *writer.written,
    )):  # fmt: skip
        session.execute(sa.text(f"ANALYZE {table}"))
    return {
        "townships": len(townships),
        "villages": len(villages),
        "households": sum(len(v.households) for v in villages),
        **dict(writer.written),
    }


def _users(session, county_id: int) -> tuple[int, int]:
    taken = session.execute(
        sa.select(User.id).where(User.username.in_([BENCH_OFFICIAL_USERNAME, CLERK_USERNAME]))
    ).scalar()
    if taken:
        raise CountyExists(f"the users {BENCH_OFFICIAL_USERNAME}/{CLERK_USERNAME} exist already")
    ids = []
    for username, password, display in (
        (BENCH_OFFICIAL_USERNAME, BENCH_OFFICIAL_PASSWORD, "云杉县乡村振兴局（压测）"),
        (CLERK_USERNAME, None, "云杉县乡村振兴局经办人"),
    ):
        user = User(
            username=username,
            password_hash=hash_password(password or random.SystemRandom().randbytes(16).hex()),
            display_name=display,
            role=Role.official,
            region_id=county_id,
            is_active=password is not None,
        )
        session.add(user)
        session.flush()
        ids.append(user.id)
    return ids[0], ids[1]


def _add_region(session, code, name, level, parent) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent and parent.id, path="")
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    session.flush()
    return region


def _regions(session, sizes: Sizes):
    county = _add_region(session, COUNTY_CODE, COUNTY_NAME, "county", None)
    townships, villages = [], []
    names = (f"{a}{b}村" for b in VILLAGE_SECOND for a in VILLAGE_FIRST)
    for t in range(sizes.townships):
        township = _add_region(
            session, f"{PREFIX}{t + 1:03d}000", TOWNSHIP_NAMES[t], "township", county
        )
        townships.append(township)
    # Villages round-robin over the townships, with paths set in one more pass.
    table = Region.__table__
    rows = []
    for v in range(sizes.villages):
        township = townships[v % sizes.townships]
        number = v // sizes.townships + 1
        rows.append(
            {
                "code": f"{PREFIX}{v % sizes.townships + 1:03d}{200 + number:03d}",
                "name": next(names),
                "level": "village",
                "parent_id": township.id,
                "path": "",
            }
        )
    ids = list(
        session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    parents = {t.id: t for t in townships}
    for region_id, row in zip(ids, rows, strict=True):
        path = f"{parents[row['parent_id']].path}{region_id}/"
        session.execute(sa.update(table).where(table.c.id == region_id).values(path=path))
        villages.append(Village(region_id, row["code"], row["name"], row["parent_id"]))
    return county, townships, villages


def _status_history(rng, n: int, first: date, last: date):
    """(status, monitoring type, effective from) changes of one household, oldest first."""
    changes = [("in_poverty", None, date(2014 + n % 3, 1 + n % 12, 1 + n % 28))]
    roll = rng.random()
    if roll < 0.08:  # still in poverty
        return changes
    changes.append(("lifted", None, date(2018 + n % 3, 1 + (n * 7) % 12, 1 + n % 28)))
    types = ("unstable_lifted", "marginal", "sudden_hardship")
    span = (last - first).days
    if roll < 0.20:  # monitored since 2021-2023, some cleared before the window
        changes.append(("monitoring", types[n % 3], date(2021 + n % 3, 1 + n % 12, 15)))
        if rng.random() < 0.3:
            changes.append(("lifted", None, first - timedelta(days=30 + n % 200)))
        elif rng.random() < 0.15:  # cleared within the window
            changes.append(("lifted", None, first + timedelta(days=rng.randrange(span))))
    elif roll < 0.23:  # came under monitoring within the window
        changes.append(
            ("monitoring", types[n % 3], first + timedelta(days=rng.randrange(max(span, 1))))
        )
    return changes


def _households(session, rng, villages, sizes: Sizes, months_list) -> dict[int, str]:
    cipher = pii.cipher()
    now = utcnow()
    first, last = months_list[0], next_month(months_list[-1]) - timedelta(days=1)
    table = Household.__table__
    status_now: dict[int, str] = {}
    plans = []
    for n in range(sizes.households):
        village = villages[n % len(villages)]
        history = _status_history(rng, n, first, last)
        plans.append((n, village, history))
    with tqdm(total=len(plans), desc="households", unit="row", file=sys.stderr) as progress:
        for start in range(0, len(plans), 1000):
            batch = plans[start : start + 1000]
            rows = []
            for n, village, history in batch:
                body = f"{PREFIX}{date(1940, 1, 1) + timedelta(days=n // 500):%Y%m%d}{n % 500:03d}"
                id_number = body + pii.id_check_digit(body)
                status, monitoring_type, _ = history[-1]
                rows.append(
                    {
                        "registry_number": f"{village.code}{n // len(villages) + 1:04d}",
                        "head_name": SURNAMES[n % len(SURNAMES)]
                        + GIVEN_NAMES[(n // 7) % len(GIVEN_NAMES)],
                        "head_id_encrypted": cipher.encrypt(id_number),
                        "head_id_lookup": cipher.lookup_hash(id_number),
                        "head_id_masked": pii.mask(id_number),
                        "members_count": 1 + rng.randrange(6),
                        "village_id": village.id,
                        "poverty_causes": [("illness", "lack_of_skills", "disability")[n % 3]],
                        "status": status,
                        "monitoring_type": monitoring_type,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
            ids = session.execute(
                table.insert().returning(table.c.id, sort_by_parameter_order=True), rows
            ).scalars()
            changes = []
            for household_id, (_, village, history) in zip(ids, batch, strict=True):
                village.households.append(household_id)
                status_now[household_id] = history
                for status, monitoring_type, effective_from in history:
                    changes.append(
                        {
                            "household_id": household_id,
                            "status": status,
                            "monitoring_type": monitoring_type,
                            "effective_from": effective_from,
                            "recorded_at": now,
                        }
                    )
            session.execute(HouseholdStatusChange.__table__.insert(), changes)
            progress.update(len(batch))
    return status_now


def _producers(session, rng, villages, townships, clerk):
    """Stations, producers, one product + SKU each, rules, memberships, fees."""
    categories = {c.code: c.id for c in session.execute(sa.select(Category)).scalars()}
    now = utcnow()
    stations = []
    for village in villages:
        station = Station(
            code=f"YS-{village.code[-6:]}", name=f"{COUNTY_NAME}{village.name}电商服务站"
        )
        station.village_id = village.id
        stations.append(station)
    session.add_all(stations)
    session.flush()
    for village, station in zip(villages, stations, strict=True):
        village.station_id = station.id
        session.add(
            StationFee(
                station_id=station.id,
                fee_bp=STATION_FEE_BP,
                effective_from=RULES_FROM,
                created_by_id=clerk,
            )
        )
    plans = []  # (producer, seller, produce)
    for v, village in enumerate(villages):
        members = village.households
        half = max(1, len(members) * 3 // 10)
        for c in range(2):
            produce = COOP_PRODUCE[(v + c) % len(COOP_PRODUCE)]
            producer = Producer(
                kind="cooperative",
                name=f"{COUNTY_NAME}{village.name.removesuffix('村')}{produce[0]}专业合作社",
                region_id=village.id,
                station_id=village.station_id,
                credit_code=f"93{PREFIX}MA{v:03d}{c:04d}Y",
            )
            group = members[c * half : (c + 1) * half] or members[:1]
            seller = Seller(0, "cooperative", village.station_id)
            seller.members = [(h, 1 + rng.randrange(5)) for h in group]
            plans.append((producer, seller, produce))
        for k, household_id in enumerate(members[-5:]):
            produce = HOUSEHOLD_PRODUCE[(v + k) % len(HOUSEHOLD_PRODUCE)]
            producer = Producer(
                kind="household",
                name=f"{village.name}{produce[0]}户{household_id}",
                region_id=village.id,
                station_id=village.station_id,
                household_id=household_id,
            )
            seller = Seller(0, "household", village.station_id, household_id=household_id)
            plans.append((producer, seller, produce))
    enterprise_plans = []
    for t, township in enumerate(townships):
        in_township = [h for v in villages if v.township_id == township.id for h in v.households]
        first_village = next(v for v in villages if v.township_id == township.id)
        producer = Producer(
            kind="enterprise",
            name=f"{COUNTY_NAME}{township.name}参业有限公司",
            region_id=township.id,
            station_id=first_village.station_id,
            credit_code=f"91{PREFIX}MA{t:03d}0000Z",
        )
        picked = rng.sample(in_township, min(ENTERPRISE_BENEFICIARIES, len(in_township)))
        seller = Seller(0, "enterprise", first_village.station_id)
        seller.members = [(h, 1) for h in sorted(picked)]
        enterprise_plans.append((producer, seller, ENTERPRISE_PRODUCE))
    session.add_all(p for p, _, _ in plans + enterprise_plans)
    session.flush()
    product_rows = []
    for producer, seller, (name, category, unit, spec, price) in plans + enterprise_plans:
        seller.producer_id, seller.name, seller.spec, seller.price_fen = (
            producer.id,
            f"{producer.name.removesuffix('专业合作社')}{name}"[:100],
            spec,
            price,
        )
        product_rows.append(
            {
                "station_id": seller.station_id,
                "producer_id": producer.id,
                "origin_village_id": producer.region_id
                if producer.kind != "enterprise"
                else next(v.id for v in villages if v.station_id == seller.station_id),
                "category_id": categories[category],
                "name": seller.name,
                "subtitle": "产地直发",
                "description": f"{producer.name}：{name}。",
                "unit": unit,
                "status": "active",
                "min_price_fen": price,
                "search_text": search_text(seller.name, "产地直发", producer.name, "", category),
                "created_at": now,
                "updated_at": now,
                "published_at": now,
                "version": 1,
            }
        )
    products = Product.__table__
    product_ids = session.execute(
        products.insert().returning(products.c.id, sort_by_parameter_order=True), product_rows
    ).scalars()
    sku_rows = []
    for product_id, (_, seller, _) in zip(product_ids, plans + enterprise_plans, strict=True):
        seller.product_id = product_id
        sku_rows.append(
            {
                "product_id": product_id,
                "station_id": seller.station_id,
                "code": f"YS-{product_id}-1",
                "spec": seller.spec,
                "price_fen": seller.price_fen,
                "currency": "CNY",
                "stock": 1000,
                "weight_grams": 600,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
        )
    skus = Sku.__table__
    sku_ids = session.execute(
        skus.insert().returning(skus.c.id, sort_by_parameter_order=True), sku_rows
    ).scalars()
    for sku_id, (_, seller, _) in zip(sku_ids, plans + enterprise_plans, strict=True):
        seller.sku_id = sku_id
    # Rules (approved, in force over the whole window), memberships and beneficiaries.
    rule_plans = []
    for _, seller, _ in plans + enterprise_plans:
        if seller.kind == "household":
            continue
        rule = BenefitRule(
            producer_id=seller.producer_id,
            version=1,
            kind=seller.kind,
            status="approved",
            effective_from=RULES_FROM,
            retained_bp=COOP_RETAINED_BP if seller.kind == "cooperative" else None,
            enterprise_basis="percentage" if seller.kind == "enterprise" else None,
            enterprise_bp=ENTERPRISE_BP if seller.kind == "enterprise" else None,
            weighting="equal" if seller.kind == "enterprise" else None,
            created_by_id=clerk,
            approved_by_id=clerk,
            approved_at=now,
        )
        rule_plans.append((rule, seller))
    session.add_all(rule for rule, _ in rule_plans)
    session.flush()
    memberships, beneficiaries = [], []
    for rule, seller in rule_plans:
        seller.rule_id = rule.id
        if seller.kind == "cooperative":
            seller.kept_account = journal.coop_retained(seller.producer_id)
            memberships += [
                {
                    "cooperative_id": seller.producer_id,
                    "household_id": h,
                    "shares": shares,
                    "joined_on": RULES_FROM,
                    "created_at": now,
                }
                for h, shares in seller.members
            ]
        else:
            seller.kept_account = journal.producer_payable(seller.producer_id)
            beneficiaries += [
                {"rule_id": rule.id, "household_id": h, "weight": 1} for h, _ in seller.members
            ]
    if memberships:
        session.execute(CooperativeMembership.__table__.insert(), memberships)
    if beneficiaries:
        session.execute(RuleBeneficiary.__table__.insert(), beneficiaries)
    session.flush()
    return [s for _, s, _ in plans], [s for _, s, _ in enterprise_plans]


def _accounts(session, villages, sellers) -> dict[str, int]:
    """Every account the history posts to, by key (new ones inserted in bulk)."""
    shared = journal.account_ids(
        session,
        [journal.gateway_clearing(p) for p in PLATFORMS]
        + [journal.PAYOUTS_IN_TRANSIT, journal.DISBURSED],
    )
    keys = [journal.household_income(h) for v in villages for h in v.households]
    keys += [journal.station_fee(v.station_id) for v in villages]
    keys += [s.kept_account for s in sellers if s.kept_account]
    table = LedgerAccount.__table__
    rows = [journal._account_row(key) for key in keys]
    now = utcnow()
    for row in rows:
        row["created_at"] = now
    ids = []
    for start in range(0, len(rows), 1000):
        ids += session.execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True),
            rows[start : start + 1000],
        ).scalars()
    return {**shared, **dict(zip(keys, ids, strict=True))}


# --- the ledger history ---------------------------------------------------------------------


class Ledger:
    """Generates and writes the months one after the other, keeping what each household is
    owed (income less the refunds already decided for it, less what was paid out), so that
    the payout runs never pay more than a household will end up owed."""

    def __init__(self, writer: Writer, rng, accounts, clerk: int, official: int):
        self.writer, self.rng, self.accounts = writer, rng, accounts
        self.clerk, self.official = clerk, official
        self.ids = writer.next_ids(*ID_TABLES)
        self.owed: dict[int, int] = defaultdict(int)
        self.entries: dict[date, list] = defaultdict(list)  # month -> (entry row, legs)
        self.funds_needed: dict[int, int] = defaultdict(int)
        self.progress = None

    def take(self, table: str, count: int = 1) -> int:
        first = self.ids[table]
        self.ids[table] += count
        return first

    def entry(self, kind: str, on: date, legs, **causes) -> None:
        """Queue a balanced entry for the month of ``on``. Legs: (account key, amount,
        order line, refund line, rule version, household)."""
        if sum(leg[1] for leg in legs) != 0:
            raise journal.UnbalancedEntry(f"{kind} entry is off: {legs}")
        entry_id = self.take("journal_entries")
        row = (
            entry_id,
            kind,
            on,
            causes.get("memo"),
            causes.get("created_by_id"),
            _at(on, 13),
            causes.get("order_id"),
            causes.get("refund_id"),
            causes.get("payout_line_id"),
            causes.get("fund_disbursement_id"),
            causes.get("fund_contribution_id"),
        )
        self.entries[on.replace(day=1)].append((row, [leg for leg in legs if leg[1]]))

    # -- one month ---------------------------------------------------------------------------

    def run(self, months_list, villages, townships, sellers, enterprises, status_now, county_id):
        self.end = next_month(months_list[-1]) - timedelta(days=1)
        self.status_history = status_now
        expected = self._expected_postings(villages, sellers, enterprises, len(months_list))
        self.progress = tqdm(total=expected, desc="postings", unit="row", file=sys.stderr)
        plan = self._plan_funds(months_list, villages, county_id)
        by_township = defaultdict(list)
        for village in villages:
            by_township[village.township_id].extend(village.households)
        try:
            for month in months_list:
                parent_rows = defaultdict(list)
                self._payouts(month, townships, by_township, parent_rows)
                self._sales(month, sellers + enterprises, parent_rows)
                self._disbursements(month, plan, parent_rows)
                self._flush(month, parent_rows)
        finally:
            self.progress.close()

    def _expected_postings(self, villages, sellers, enterprises, months) -> int:
        per_month = 0
        for s in sellers + enterprises:
            rate = {
                "cooperative": COOP_LINES_PER_MONTH,
                "household": SELLER_LINES_PER_MONTH,
                "enterprise": ENTERPRISE_LINES_PER_MONTH,
            }[s.kind]
            per_month += rate * (3 + len(s.members))
        households = sum(len(v.households) for v in villages)
        return int(months * (per_month * (1 + REFUND_RATE) + households * 1.3))

    def _flush(self, month: date, parent_rows) -> None:
        w = self.writer
        for table, columns in (
            (Order.__table__, ORDER_COLUMNS),
            (OrderLine.__table__, LINE_COLUMNS),
            (Payment.__table__, PAYMENT_COLUMNS),
            (Refund.__table__, REFUND_COLUMNS),
            (RefundLine.__table__, REFUND_LINE_COLUMNS),
            (FundContribution.__table__, CONTRIBUTION_COLUMNS),
            (FundDisbursement.__table__, DISBURSEMENT_COLUMNS),
            (FundDisbursementLine.__table__, DISBURSEMENT_LINE_COLUMNS),
            (PayoutRun.__table__, RUN_COLUMNS),
            (PayoutLine.__table__, PAYOUT_LINE_COLUMNS),
        ):
            rows = parent_rows.get(table.name)
            if not rows:
                continue
            w.rows(table, columns, rows)
        entries = self.entries.pop(month, [])
        entries.sort(key=lambda item: item[0][0])
        w.rows(JournalEntry.__table__, ENTRY_COLUMNS, [row for row, _ in entries])
        accounts = self.accounts
        chunk = []
        for row, legs in entries:
            entry_id, on = row[0], row[2]
            for key, amount, line_id, refund_line_id, rule_id, household_id in legs:
                chunk.append(
                    (
                        entry_id,
                        accounts[key],
                        amount,
                        "CNY",
                        line_id,
                        refund_line_id,
                        rule_id,
                        household_id,
                        on,
                    )
                )
            if len(chunk) >= 200_000:
                w.rows(Posting.__table__, POSTING_COLUMNS, chunk)
                self.progress.update(len(chunk))
                chunk = []
        w.rows(Posting.__table__, POSTING_COLUMNS, chunk)
        self.progress.update(len(chunk))

    # -- sales -------------------------------------------------------------------------------

    def _count(self, rate: float) -> int:
        """A count with mean ``rate``, varying ±50%."""
        return max(0, int(rate * (0.5 + self.rng.random()) + self.rng.random()))

    def _sales(self, month: date, sellers, rows) -> None:
        rng = self.rng
        days = (next_month(month) - month).days
        lines = []
        for seller in sellers:
            rate = {
                "cooperative": COOP_LINES_PER_MONTH,
                "household": SELLER_LINES_PER_MONTH,
                "enterprise": ENTERPRISE_LINES_PER_MONTH,
            }[seller.kind]
            # more sold in the summer berries and the autumn nuts
            season = 1.25 if month.month in (7, 8, 9, 10) else 0.9
            for _ in range(self._count(rate * season)):
                lines.append((month + timedelta(days=rng.randrange(days)), seller))
        lines.sort(key=lambda item: (item[0], item[1].station_id))
        by_station = defaultdict(list)
        for day, seller in lines:
            by_station[(day, seller.station_id)].append(seller)
        for (day, _), group in sorted(by_station.items(), key=lambda item: item[0]):
            while group:
                # a quarter of the orders take a second line of the same station
                size = 2 if len(group) > 1 and rng.random() < 0.25 else 1
                self._order(day, group[:size], rows)
                group = group[size:]

    def _order(self, day: date, sellers: list[Seller], rows) -> None:
        rng = self.rng
        order_id = self.take("orders")
        payment_id = self.take("payments")
        platform = PLATFORMS[order_id % 2]
        clearing = journal.gateway_clearing(platform)
        paid_at = _at(day, 9 + rng.randrange(12))
        legs, total, refunded_total, refund_plans = [], 0, 0, []
        for seller in sellers:
            line_id = self.take("order_lines")
            quantity = 1 + min(rng.randrange(5), rng.randrange(5))
            gross = seller.price_fen * quantity
            total += gross
            line_legs = self._line_legs(seller, line_id, gross, clearing)
            legs += line_legs
            refunded_quantity = 0
            if rng.random() < REFUND_RATE:
                refunded_quantity = quantity if rng.random() < 0.6 else max(1, quantity // 2)
                refund_plans.append((line_id, gross, refunded_quantity, seller, line_legs))
            refunded = seller.price_fen * refunded_quantity
            refunded_total += refunded
            rows["order_lines"].append(
                (
                    line_id, order_id, seller.sku_id, seller.product_id, seller.station_id,
                    seller.producer_id, seller.name, seller.spec, seller.price_fen, quantity,
                    gross, 0, seller.price_fen, "platform", refunded_quantity, refunded,
                )
            )  # fmt: skip
        for _key, amount, *_, household_id in legs:
            if household_id is not None:
                self.owed[household_id] -= amount
        full = refunded_total == total
        payment_status = "refunded" if full else "partially_refunded" if refunded_total else "paid"
        rows["orders"].append(
            (
                order_id, f"YS{day:%Y%m%d}{order_id:010d}", "imported",
                "refunded" if full else "completed", payment_status, total, refunded_total,
                "CNY", paid_at + timedelta(minutes=30), paid_at, paid_at, 1,
            )
        )  # fmt: skip
        rows["payments"].append(
            (
                payment_id, order_id, "platform", "succeeded", platform, total, "CNY", total,
                refunded_total, f"YS-{order_id}", paid_at, paid_at,
            )
        )  # fmt: skip
        self.entry("attribution", day, legs, order_id=order_id)
        if refund_plans:
            self._refund(day, order_id, payment_id, clearing, refund_plans, rows)

    def _line_legs(self, seller: Seller, line_id: int, gross: int, clearing: str):
        fee = basis_points(gross, STATION_FEE_BP)
        net = gross - fee
        rule = seller.rule_id
        legs = [
            (clearing, gross, line_id, None, None, None),
            (journal.station_fee(seller.station_id), -fee, line_id, None, None, None),
        ]
        if seller.kind == "household":
            h = seller.household_id
            legs.append((journal.household_income(h), -net, line_id, None, rule, h))
            return legs
        if seller.kind == "cooperative":
            kept = basis_points(net, COOP_RETAINED_BP)
            shared = net - kept
        else:
            shared = basis_points(net, ENTERPRISE_BP)
            kept = net - shared
        parts = largest_remainder(shared, seller.members) if shared else {}
        if seller.kind == "cooperative":
            legs.append((seller.kept_account, -kept, line_id, None, rule, None))
        for h, part in parts.items():
            legs.append((journal.household_income(h), -part, line_id, None, rule, h))
        if seller.kind == "enterprise":
            legs.append((seller.kept_account, -kept, line_id, None, rule, None))
        return legs

    def _refund(self, day, order_id, payment_id, clearing, plans, rows) -> None:
        """One refund of the order, confirmed 3 to 20 days after payment (within the window),
        reversed by the ledger's own ``reversal_legs``."""
        on = min(day + timedelta(days=3 + self.rng.randrange(18)), self.end)
        refund_id = self.take("refunds")
        legs, amount = [], 0
        for line_id, gross, refunded_quantity, seller, line_legs in plans:
            refund_line_id = self.take("refund_lines")
            refunded_now = seller.price_fen * refunded_quantity
            amount += refunded_now
            rows["refund_lines"].append(
                (refund_line_id, refund_id, line_id, refunded_quantity, refunded_now)
            )
            given = [
                (key, value, rule_id, household_id, False)
                for key, value, _, _, rule_id, household_id in line_legs
            ]
            for leg in reversal_legs(
                given,
                gross=gross,
                refunded_before=0,
                refunded_now=refunded_now,
                clearing=clearing,
                order_line_id=line_id,
                refund_line_id=refund_line_id,
            ):
                legs.append(
                    (
                        leg.account,
                        leg.amount_fen,
                        leg.order_line_id,
                        leg.refund_line_id,
                        leg.rule_version_id,
                        leg.household_id,
                    )
                )
                if leg.household_id is not None:
                    self.owed[leg.household_id] -= leg.amount_fen
        moment = _at(on, 15)
        rows["refunds"].append(
            (
                refund_id, order_id, payment_id, "succeeded", amount, "CNY", "买家申请售后退款",
                False, f"YS-R{refund_id}", moment, moment,
            )
        )  # fmt: skip
        self.entry("refund_reversal", on, legs, order_id=order_id, refund_id=refund_id)

    # -- assistance funds and pledges ---------------------------------------------------------

    def _status_on(self, household_id: int, day: date) -> str:
        status = None
        for value, _, effective_from in self.status_history[household_id]:
            if effective_from <= day:
                status = value
        return status

    def _plan_funds(self, months_list, villages, county_id):
        """Funds made before the first month and funded in full on its first day; what each
        gives, month by month."""
        rng = self.rng
        first = months_list[0]
        funds = [
            {
                "name": f"{COUNTY_NAME}消费帮扶专项资金",
                "source": "other",
                "region_id": county_id,
                "bound": False,
            }
        ]
        plan = defaultdict(list)  # month -> (fund index, mode, day, [(household, weight, amount)])
        everyone = [h for v in villages for h in v.households]
        for month in months_list:
            day = month + timedelta(days=9)
            needy = [h for h in everyone if self._status_on(h, day) in ("in_poverty", "monitoring")]
            if needy:
                plan[month].append((0, "fixed", day, [(h, None, FUND_MONTHLY_FEN) for h in needy]))
            for p in range(2):  # two livestream pledges a month, each to one village
                village = villages[rng.randrange(len(villages))]
                funds.append(
                    {
                        "name": f"{COUNTY_NAME}{month:%Y-%m}直播带货承诺{p + 1}（{village.name}）",
                        "source": "campaign",
                        "region_id": village.id,
                        "bound": True,
                    }
                )
                total = 100 * (2000 + rng.randrange(8000))
                weights = [(h, 1 + (h % 3)) for h in village.households]
                parts = largest_remainder(total, weights)
                plan[month].append(
                    (
                        len(funds) - 1,
                        "weights",
                        month + timedelta(days=14 + rng.randrange(10)),
                        [(h, w, parts[h]) for h, w in weights if parts[h]],
                    )
                )
        now = _at(first, 10)
        fund_ids = [self.take("assistance_funds") for _ in funds]
        self.writer.session.execute(
            AssistanceFund.__table__.insert(),
            [
                {
                    "id": fund_id,
                    **fund,
                    "description": "由压测数据生成",
                    "created_by_id": self.clerk,
                    "created_at": now,
                }
                for fund_id, fund in zip(fund_ids, funds, strict=True)
            ],
        )
        self.writer.written["assistance_funds"] += len(funds)
        for fund_id in fund_ids:
            self.accounts.update(
                journal.account_ids(
                    self.writer.session,
                    [journal.assistance_fund(fund_id), journal.fund_source(fund_id)],
                )
            )
        # The contributions come first: each fund holds what it will give.
        needed = defaultdict(int)
        for items in plan.values():
            for fund_index, _, _, lines in items:
                needed[fund_index] += sum(amount for _, _, amount in lines)
        self.contributions = []
        for fund_index, amount in needed.items():
            fund_id = fund_ids[fund_index]
            contribution_id = self.take("fund_contributions")
            self.contributions.append(
                (
                    contribution_id, fund_id, amount, "CNY", "县财政衔接资金",
                    f"YS-C{contribution_id}", self.clerk, now,
                )
            )  # fmt: skip
            self.entry(
                "fund_contribution",
                first,
                [
                    (journal.fund_source(fund_id), amount, None, None, None, None),
                    (journal.assistance_fund(fund_id), -amount, None, None, None, None),
                ],
                fund_contribution_id=contribution_id,
                created_by_id=self.clerk,
            )
        return {
            month: [(fund_ids[i], mode, day, lines) for i, mode, day, lines in items]
            for month, items in plan.items()
        }

    def _disbursements(self, month, plan, rows) -> None:
        if self.contributions:  # the first month: the funds' contributions
            rows["fund_contributions"] += self.contributions
            self.contributions = []
        for fund_id, mode, day, lines in plan.get(month, []):
            disbursement_id = self.take("fund_disbursements")
            total = sum(amount for _, _, amount in lines)
            memo = "每户每月帮扶金" if mode == "fixed" else "直播带货承诺按户分配"
            rows["fund_disbursements"].append(
                (disbursement_id, fund_id, mode, total, memo, self.clerk, _at(day, 10))
            )
            legs = [(journal.assistance_fund(fund_id), total, None, None, None, None)]
            for household_id, weight, amount in lines:
                rows["fund_disbursement_lines"].append(
                    (self.take("fund_disbursement_lines"), disbursement_id, household_id, weight,
                     amount)
                )  # fmt: skip
                legs.append(
                    (journal.household_income(household_id), -amount, None, None, None,
                     household_id)
                )  # fmt: skip
                self.owed[household_id] += amount
            self.entry(
                "fund_disbursement",
                day,
                legs,
                fund_disbursement_id=disbursement_id,
                created_by_id=self.clerk,
                memo=memo,
            )

    # -- payouts -----------------------------------------------------------------------------

    def _payouts(self, month, townships, by_township, rows) -> None:
        """At the start of the month after a quarter's end: a run per township paying every
        household what it is owed, approved on the 5th, settled on the 8th."""
        if month.month not in (1, 4, 7, 10):
            return
        period_end = month - timedelta(days=1)
        approved_on, settled_on = month + timedelta(days=4), month + timedelta(days=7)
        in_transit = journal.PAYOUTS_IN_TRANSIT
        for township in townships:
            payees = [(h, self.owed[h]) for h in by_township[township.id] if self.owed[h] > 0]
            if not payees:
                continue
            run_id = self.take("payout_runs")
            total = sum(amount for _, amount in payees)
            rows["payout_runs"].append(
                (
                    run_id, township.id, period_end, "消费帮扶收益兑付",
                    f"YS{period_end:%Y%m}{run_id:06d}", "settled", total, self.clerk,
                    _at(month, 9), self.official, _at(approved_on, 10), 1,
                )
            )  # fmt: skip
            for household_id, amount in payees:
                line_id = self.take("payout_lines")
                account = journal.household_income(household_id)
                failed = self.rng.random() < PAYOUT_FAILURE_RATE
                rows["payout_lines"].append(
                    (
                        line_id, run_id, "household", household_id, self.accounts[account],
                        amount, "failed" if failed else "paid", f"户主{household_id}",
                        "账户已冻结" if failed else None, _at(settled_on, 16),
                    )
                )  # fmt: skip
                self.entry(
                    "payout_approved",
                    approved_on,
                    [
                        (account, amount, None, None, None, household_id),
                        (in_transit, -amount, None, None, None, None),
                    ],
                    payout_line_id=line_id,
                    created_by_id=self.official,
                )
                if failed:
                    counter = (account, -amount, None, None, None, household_id)
                else:
                    counter = (journal.DISBURSED, -amount, None, None, None, None)
                    self.owed[household_id] -= amount
                self.entry(
                    "payout_returned" if failed else "payout_paid",
                    settled_on,
                    [(in_transit, amount, None, None, None, None), counter],
                    payout_line_id=line_id,
                    created_by_id=self.official,
                )
