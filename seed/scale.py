"""A large generated catalog for benchmarks: ``flask seed scale --products 10000``.

A second fictional county (白桦县, codes 229902...) with its townships, villages, stations,
producers and registered households is created once and reused by later runs; every run adds
the requested number of products. Rows go in with bulk INSERTs (multi-row VALUES, 1,000 rows a
statement, through SQLAlchemy's insertmanyvalues), never one ORM object at a time.
"""

import random
import sys
from datetime import date, timedelta

import sqlalchemy as sa
from tqdm import tqdm

from marketplace import pii
from marketplace.accounts.models import Role, User
from marketplace.accounts.service import hash_password
from marketplace.catalog.models import CatalogGeneration, Category, Product, Sku
from marketplace.db import utcnow
from marketplace.households.models import Household, HouseholdStatusChange
from marketplace.producers.models import Producer, Station
from marketplace.regions.models import Region
from seed.demo_catalog import search_text

BATCH = 1000
COUNTY_CODE = "229902000000"
#: The buyer the benchmark logs in as (authenticated catalog requests bypass the page cache).
BENCH_BUYER_USERNAME = "bench_buyer"
BENCH_BUYER_PASSWORD = "bench-buyer-2024"

TOWNSHIPS = {
    "红松镇": ["红松村", "松塔村", "石磨村", "东岗村", "椴木村"],
    "鹿鸣乡": ["鹿鸣村", "北沟村", "河口村", "柳树村", "西山村"],
    "石门镇": ["石门村", "三道岭村", "参场村", "蜂场村", "黄泥河村"],
    "青沟乡": ["青沟村", "桦皮村", "五道沟村", "榆树村", "马鞍山村"],
}

#: (produce, category code, selling unit, base price in fen, specs with their price in percent
#: of the base price and their shipping weight in grams)
PRODUCE = [
    ("蓝莓鲜果", "fruit", "盒", 3980, [("125g×4盒", 100, 600), ("1kg 礼盒", 320, 1200)]),
    ("蓝莓果干", "fruit", "袋", 4580, [("250g 袋装", 100, 270), ("500g 礼盒", 190, 650)]),
    ("冻干山楂", "fruit", "袋", 2680, [("200g 袋装", 100, 220), ("500g 袋装", 230, 520)]),
    ("红松籽", "mountain_produce", "袋", 8800, [("500g 袋装", 100, 520), ("1kg 礼盒", 190, 1350)]),
    (
        "野生榛子",
        "mountain_produce",
        "袋",
        4200,
        [("500g 袋装", 100, 520), ("1kg 袋装", 185, 1030)],
    ),
    ("秋木耳", "mountain_produce", "袋", 3900, [("250g 袋装", 100, 270), ("500g 袋装", 185, 530)]),
    ("榛蘑", "mountain_produce", "袋", 4600, [("250g 袋装", 100, 270), ("500g 礼盒", 210, 600)]),
    ("黄蘑", "mountain_produce", "袋", 4800, [("250g 袋装", 100, 270)]),
    ("鲜人参", "medicinal_herbs", "盒", 8800, [("单支装", 100, 200), ("500g 礼盒", 300, 900)]),
    ("生晒参", "medicinal_herbs", "盒", 32800, [("250g 盒装", 100, 400), ("500g 礼盒", 180, 800)]),
    ("红参片", "medicinal_herbs", "罐", 12800, [("50g 罐装", 100, 150), ("100g 礼盒", 190, 260)]),
    ("北五味子", "medicinal_herbs", "袋", 5600, [("500g 袋装", 100, 520), ("250g 罐装", 65, 330)]),
    ("蒲公英茶", "tea_beverage", "罐", 3800, [("100g 罐装", 100, 200), ("250g 礼盒", 225, 450)]),
    ("刺五加茶", "tea_beverage", "罐", 4200, [("100g 罐装", 100, 200)]),
    ("蓝莓原浆", "tea_beverage", "箱", 9900, [("250ml×6瓶", 100, 2100), ("250ml×12瓶", 190, 4200)]),
    ("椴树蜂蜜", "farm_produce", "瓶", 6800, [("500g 瓶装", 100, 800), ("1kg 瓶装", 190, 1500)]),
    ("黏豆包", "farm_produce", "袋", 3600, [("1kg 袋装", 100, 1050), ("2kg 袋装", 190, 2080)]),
    ("紫苏籽油", "grain_oil", "瓶", 5800, [("500ml 瓶装", 100, 950), ("500ml×2瓶", 220, 2100)]),
    ("长粒香大米", "grain_oil", "袋", 6800, [("5kg 袋装", 100, 5100), ("10kg 袋装", 190, 10200)]),
    ("小粒黄豆", "grain_oil", "袋", 2800, [("2.5kg 袋装", 100, 2550), ("5kg 袋装", 190, 5100)]),
    (
        "散养柴鸡蛋",
        "livestock_poultry",
        "箱",
        4500,
        [("30枚", 100, 1800), ("60枚 礼盒", 195, 3600)],
    ),
    ("散养笨鸡", "livestock_poultry", "只", 12800, [("整只 约1.5kg", 100, 1600)]),
    ("风干鲫鱼", "aquatic", "袋", 4800, [("500g 袋装", 100, 520), ("1kg 袋装", 185, 1030)]),
    ("柳根鱼干", "aquatic", "袋", 3600, [("250g 袋装", 100, 270)]),
    ("手编柳条筐", "handicraft", "个", 3500, [("小号", 100, 400), ("大号", 195, 900)]),
    ("桦树皮画", "handicraft", "幅", 16800, [("30×40cm", 100, 600), ("50×70cm 装框", 240, 1800)]),
]
GRADES = ["", "特级", "精选", "头茬", "农家", "手工", "有机", "林下", "当季", "古法"]
SELLING_POINTS = ["产地直发", "脱贫户自产", "合作社统一分拣", "当年新货", "顺丰包邮", "礼盒包装"]
EXTRA_SPECS = [("家庭装", 260, 2000), ("尝鲜装", 55, 150), ("整箱批发", 850, 8000)]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾于董"
GIVEN_NAMES = ["德才", "国富", "桂兰", "秀英", "振山", "玉梅", "长海", "春花", "宝山", "淑珍"]


def generate(
    session, *, products: int, skus_per_product: int, households: int, random_seed: int = 7
) -> dict[str, int]:
    """Add ``products`` products with ``skus_per_product`` SKUs each; flush, never commit."""
    rng = random.Random(random_seed)
    villages = _ensure_regions(session)
    household_ids = _ensure_households(session, villages, households)
    stations = _ensure_stations(session, villages)
    producers = _ensure_producers(session, villages, stations, household_ids)
    _ensure_bench_buyer(session)
    made = _insert_catalog(session, rng, villages, stations, producers, products, skus_per_product)
    session.execute(
        sa.update(CatalogGeneration)
        .where(CatalogGeneration.id == 1)
        .values(value=CatalogGeneration.value + 1)
    )
    # Bulk loads leave the planner's statistics stale; refresh them before anyone queries.
    for table in ("products", "skus", "producers", "regions"):
        session.execute(sa.text(f"ANALYZE {table}"))
    return made


def _batches(rows: list, size: int = BATCH):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _ensure_regions(session) -> list[Region]:
    """The generated county's villages (created on the first run)."""
    county = session.execute(sa.select(Region).where(Region.code == COUNTY_CODE)).scalar()
    if county is None:
        county = _add_region(session, COUNTY_CODE, "白桦县", "county", None)
        for t, (township_name, village_names) in enumerate(TOWNSHIPS.items(), start=1):
            township = _add_region(session, f"229902{t:03d}000", township_name, "township", county)
            for v, village_name in enumerate(village_names, start=1):
                _add_region(
                    session, f"229902{t:03d}{200 + v:03d}", village_name, "village", township
                )
    return list(
        session.execute(
            sa.select(Region)
            .where(Region.path.startswith(county.path), Region.level == "village")
            .order_by(Region.code)
        ).scalars()
    )


def _add_region(session, code, name, level, parent) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent and parent.id, path="")
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    session.flush()
    return region


def _ensure_households(session, villages, count: int) -> dict[int, list[int]]:
    """Registered households per village id; the missing ones are bulk inserted."""
    cipher = pii.cipher()
    wanted = {}
    for n in range(count):
        village = villages[n % len(villages)]
        wanted[f"{village.code}{n // len(villages) + 1:04d}"] = (n, village)
    present = set(
        session.execute(
            sa.select(Household.registry_number).where(
                Household.village_id.in_([v.id for v in villages])
            )
        ).scalars()
    )
    rows, now = [], utcnow()
    for registry_number, (n, village) in wanted.items():
        if registry_number in present:
            continue
        # Distinct birth dates make the generated ID numbers distinct.
        body = f"229902{date(1950, 1, 1) + timedelta(days=n):%Y%m%d}{n % 1000:03d}"
        id_number = body + pii.id_check_digit(body)
        rows.append(
            {
                "registry_number": registry_number,
                "head_name": SURNAMES[n % len(SURNAMES)] + GIVEN_NAMES[n % len(GIVEN_NAMES)],
                "head_id_encrypted": cipher.encrypt(id_number),
                "head_id_lookup": cipher.lookup_hash(id_number),
                "head_id_masked": pii.mask(id_number),
                "members_count": 1 + n % 5,
                "village_id": village.id,
                "poverty_causes": ["illness"] if n % 2 else ["lack_of_skills"],
                "status": "lifted",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    table = Household.__table__
    for batch in _batches(rows):
        ids = session.execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True), batch
        ).scalars()
        session.execute(
            HouseholdStatusChange.__table__.insert(),
            [
                {
                    "household_id": household_id,
                    "status": "lifted",
                    "effective_from": date(2019, 12, 31),
                    "recorded_at": now,
                }
                for household_id in ids
            ],
        )
    by_village: dict[int, list[int]] = {v.id: [] for v in villages}
    for household_id, village_id in session.execute(
        sa.select(Household.id, Household.village_id)
        .where(Household.registry_number.in_(list(wanted)))
        .order_by(Household.id)
    ):
        by_village[village_id].append(household_id)
    return by_village


def _ensure_stations(session, villages) -> dict[int, Station]:
    """One station per village, by village id."""
    codes = {f"BH-{v.code[-6:]}": v for v in villages}
    existing = {
        s.code: s
        for s in session.execute(sa.select(Station).where(Station.code.in_(list(codes)))).scalars()
    }
    for code, village in codes.items():
        if code not in existing:
            existing[code] = Station(
                code=code, name=f"白桦县{village.name}电商服务站", village_id=village.id
            )
            session.add(existing[code])
    session.flush()
    return {codes[code].id: station for code, station in existing.items()}


def _ensure_producers(session, villages, stations, household_ids) -> dict[int, list[Producer]]:
    """Per station: two co-operatives and three selling households (created once)."""
    by_station: dict[int, list[Producer]] = {s.id: [] for s in stations.values()}
    for producer in session.execute(
        sa.select(Producer).where(Producer.station_id.in_(list(by_station)))
    ).scalars():
        by_station[producer.station_id].append(producer)
    for v, village in enumerate(villages):
        station = stations[village.id]
        if by_station[station.id]:
            continue
        for c, trade in enumerate(("种植", "山特产品")):
            producer = Producer(
                kind="cooperative",
                name=f"白桦县{village.name.removesuffix('村')}{trade}专业合作社",
                region_id=village.id,
                station_id=station.id,
                credit_code=f"93229902MA{v:03d}{c:04d}X",
            )
            session.add(producer)
            by_station[station.id].append(producer)
        for household_id in household_ids[village.id][:3]:
            producer = Producer(
                kind="household",
                name=f"{village.name}第{household_id}号农户",
                region_id=village.id,
                station_id=station.id,
                household_id=household_id,
            )
            session.add(producer)
            by_station[station.id].append(producer)
    session.flush()
    return by_station


def _ensure_bench_buyer(session) -> None:
    exists = session.execute(
        sa.select(User.id).where(User.username == BENCH_BUYER_USERNAME)
    ).scalar()
    if exists is None:
        session.add(
            User(
                username=BENCH_BUYER_USERNAME,
                password_hash=hash_password(BENCH_BUYER_PASSWORD),
                display_name="压测买家",
                role=Role.buyer,
            )
        )
        session.flush()


def _insert_catalog(session, rng, villages, stations, producers, count, skus_per_product):
    categories = {c.code: c for c in session.execute(sa.select(Category)).scalars()}
    now = utcnow()
    product_rows, sku_plans = [], []
    for n in range(count):
        village = villages[rng.randrange(len(villages))]
        station = stations[village.id]
        producer = rng.choice(producers[station.id])
        produce, category_code, unit, base_price, specs = rng.choice(PRODUCE)
        category = categories[category_code]
        status = rng.choices(("active", "draft", "delisted"), weights=(90, 5, 5))[0]
        name = f"{village.name.removesuffix('村')}{rng.choice(GRADES)}{produce}"
        subtitle = "，".join(rng.sample(SELLING_POINTS, 2))
        price_percent = rng.randrange(80, 131)
        variants = (specs + EXTRA_SPECS)[:skus_per_product]
        while len(variants) < skus_per_product:
            variants.append((f"{len(variants) + 1}件装", 100 * (len(variants) + 1), 500))
        skus = [
            {
                "spec": spec,
                # Integer arithmetic only; prices end in 0 fen, as shops price them.
                "price_fen": max(100, base_price * percent * price_percent // 100_000 * 10),
                "stock": rng.randrange(0, 500),
                "weight_grams": weight,
                "is_active": rng.random() > 0.03,
            }
            for spec, percent, weight in variants
        ]
        prices = [sku["price_fen"] for sku in skus if sku["is_active"]]
        certified = rng.random() < 0.2
        valid_from = date(2020, 1, 1) + timedelta(days=rng.randrange(1500))
        product_rows.append(
            {
                "station_id": station.id,
                "producer_id": producer.id,
                "origin_village_id": village.id,
                "category_id": category.id,
                "name": name,
                "subtitle": subtitle,
                "description": f"{village.name}{produce}，{subtitle}。",
                "unit": unit,
                "status": status,
                "certificate_number": f"白扶认〔{valid_from.year}〕第{n:05d}号"
                if certified
                else None,
                "certificate_level": "county" if certified else None,
                "certificate_valid_from": valid_from if certified else None,
                "certificate_valid_to": valid_from + timedelta(days=1825) if certified else None,
                "min_price_fen": min(prices) if prices else None,
                "search_text": search_text(
                    name, subtitle, producer.name, village.name, category.name
                ),
                "created_at": now,
                "updated_at": now,
                "published_at": None if status == "draft" else now,
                "version": 1,
            }
        )
        sku_plans.append((station, skus))

    products_table, skus_table = Product.__table__, Sku.__table__
    total_skus = sum(len(skus) for _, skus in sku_plans)
    with tqdm(
        total=count + total_skus, desc="catalog rows", unit="row", file=sys.stderr
    ) as progress:
        for start in range(0, count, BATCH):
            batch = product_rows[start : start + BATCH]
            ids = session.execute(
                products_table.insert().returning(
                    products_table.c.id, sort_by_parameter_order=True
                ),
                batch,
            ).scalars()
            sku_rows = []
            for product_id, (station, skus) in zip(
                ids, sku_plans[start : start + BATCH], strict=True
            ):
                for i, sku in enumerate(skus):
                    sku_rows.append(
                        {
                            **sku,
                            "product_id": product_id,
                            "station_id": station.id,
                            "code": f"{station.code}-{product_id}-{i + 1}",
                            "currency": "CNY",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
            progress.update(len(batch))
            for sku_batch in _batches(sku_rows):
                session.execute(skus_table.insert(), sku_batch)
                progress.update(len(sku_batch))
    return {"products": count, "skus": total_skus}
