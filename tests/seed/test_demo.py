"""The demo county loads completely, and loading it again changes nothing at all."""

import functools
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

import seed.demo
from marketplace import pii
from marketplace.accounts.models import Role, User
from marketplace.catalog.models import CatalogGeneration, Product, ProductStatus, Sku
from marketplace.clock import shanghai_date
from marketplace.db import Base
from marketplace.households.models import Household, HouseholdStatus, PayoutAccount
from marketplace.ledger.models import JournalEntry
from marketplace.producers.models import CooperativeMembership, Producer, ProducerKind, Station
from marketplace.regions.models import Region, RegionLevel
from seed.demo import load_demo, read_data


def snapshot(session) -> dict[str, list[tuple]]:
    """Every row of every table, every column, in primary-key order."""
    session.flush()
    return {
        table.name: [
            tuple(row)
            for row in session.execute(sa.select(table).order_by(*table.primary_key.columns))
        ]
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture(autouse=True)
def hash_each_password_once(monkeypatch):
    """argon2 is slow on purpose; a salted hash stays valid when reused, so tests share them."""
    monkeypatch.setattr(seed.demo, "hash_password", _hash_once)


_hash_once = functools.cache(seed.demo.hash_password)


# The ``session`` fixture keeps an application context pushed for the whole test. Pushing
# another one here would be wrong: popping it removes the shared session, rolling back the load.
@pytest.fixture
def demo(session):
    return load_demo(session)


def test_second_load_changes_nothing(session, demo):
    before = snapshot(session)
    created_again = load_demo(session)
    session.expire_all()  # read back what the database holds, not the identity map

    assert set(created_again.values()) == {0}
    assert snapshot(session) == before


def test_first_load_creates_every_table_it_reports(demo):
    assert all(count > 0 for count in demo.values()), demo


def test_counts_match_the_issue(session, demo):
    def count(model, *where):
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    assert count(Region, Region.level == RegionLevel.county) == 1
    assert count(Region, Region.level == RegionLevel.township) == 2
    assert count(Region, Region.level == RegionLevel.village) == 6
    assert 55 <= count(Household) <= 65
    assert count(Producer, Producer.kind == ProducerKind.cooperative) == 3
    assert count(Producer, Producer.kind == ProducerKind.enterprise) == 1
    assert count(Producer, Producer.kind == ProducerKind.household) >= 2
    assert count(Station) == 3
    assert 22 <= count(Product) <= 28
    roles = Counter(session.execute(sa.select(User.role)).scalars())
    assert set(roles) == set(Role)
    assert roles[Role.station] == 3
    assert roles[Role.official] == 2
    assert roles[Role.buyer] == 2


def test_statuses_and_catalog_are_varied(session, demo):
    statuses = Counter(session.execute(sa.select(Household.status, Household.monitoring_type)))
    assert (HouseholdStatus.in_poverty, None) in statuses
    assert (HouseholdStatus.lifted, None) in statuses
    assert {m for s, m in statuses if s is HouseholdStatus.monitoring} == {
        "unstable_lifted",
        "marginal",
        "sudden_hardship",
    }
    product_statuses = Counter(session.execute(sa.select(Product.status)).scalars())
    assert product_statuses[ProductStatus.draft] == 1
    assert product_statuses[ProductStatus.delisted] == 1
    left = session.scalar(
        sa.select(sa.func.count())
        .select_from(CooperativeMembership)
        .where(CooperativeMembership.left_on.is_not(None))
    )
    assert left == 1


def test_every_member_count_is_within_5_to_12(session, demo):
    members = Counter(session.execute(sa.select(CooperativeMembership.cooperative_id)).scalars())
    assert len(members) == 3
    assert all(5 <= n <= 12 for n in members.values())


def test_every_stored_id_number_decrypts_to_a_valid_one(session, demo):
    cipher = pii.cipher()
    for household in session.execute(sa.select(Household)).scalars():
        number = cipher.decrypt(household.head_id_encrypted)
        assert pii.id_number_problem(number) is None, household.registry_number
        assert household.head_id_lookup == cipher.lookup_hash(number)
        assert household.head_id_masked == pii.mask(number)
    for account in session.execute(sa.select(PayoutAccount)).scalars():
        holder = cipher.decrypt(account.holder_id_encrypted)
        assert pii.id_number_problem(holder) is None
        card = cipher.decrypt(account.card_encrypted)
        assert card.startswith("9999")
        assert pii.card_number_problem(card) is None
        assert account.card_lookup == cipher.lookup_hash(card)


def test_the_id_numbers_in_the_data_file_are_valid_and_distinct():
    households = read_data("households")
    heads = [h["head_id_number"] for h in households]
    assert all(pii.id_number_problem(number) is None for number in heads)
    assert len(set(heads)) == len(heads)


def test_min_price_is_the_lowest_active_sku_price(session, demo):
    lowest = dict(
        session.execute(
            sa.select(Sku.product_id, sa.func.min(Sku.price_fen))
            .where(Sku.is_active)
            .group_by(Sku.product_id)
        ).all()
    )
    for product in session.execute(sa.select(Product)).scalars():
        assert product.min_price_fen == lowest.get(product.id)
        assert product.name in product.search_text


def test_catalog_generation_moves_once(session):
    def generation():
        return session.scalar(sa.select(CatalogGeneration.value).where(CatalogGeneration.id == 1))

    start = generation()
    load_demo(session)
    assert generation() == start + 1
    load_demo(session)
    assert generation() == start + 1


def test_demo_logins_work(client, demo):
    response = client.post(
        "/api/v1/auth/tokens",
        json={"username": "station_lanmeigou", "password": "lanmeigou-demo-2024"},
    )
    assert response.status_code == 201, response.json
    assert response.json["user"]["role"] == "station"


def test_demo_rules_send_a_sale_to_member_households(client, session, demo):
    """With the demo's rules, a co-op sale paid at the station reaches its members."""
    from marketplace.ledger import journal
    from marketplace.ledger.models import BenefitRule, Posting, RuleStatus, StationFee

    rules = session.execute(sa.select(BenefitRule)).scalars().all()
    assert len(rules) == 4 and {rule.status for rule in rules} == {RuleStatus.approved}
    assert all(rule.created_by_id != rule.approved_by_id for rule in rules)
    assert session.execute(sa.select(sa.func.count()).select_from(StationFee)).scalar_one() == 1

    def token(username, password):
        response = client.post(
            "/api/v1/auth/tokens", json={"username": username, "password": password}
        )
        return {"Authorization": f"Bearer {response.json['token']}"}

    buyer = token("buyer_zhang", "zhangwei-demo-2024")
    station = token("station_lanmeigou", "lanmeigou-demo-2024")
    lanmeigou = session.execute(
        sa.select(Station.id).where(Station.code == "QS-LMG-01")
    ).scalar_one()
    products = client.get(
        f"/api/v1/products?station_id={lanmeigou}&category=fruit&page_size=50"
    ).json
    coop_product = next(p for p in products if p["producer"]["kind"] == "cooperative")
    order = client.post(
        "/api/v1/orders",
        json={
            "lines": [{"sku_id": coop_product["skus"][0]["id"], "quantity": 1}],
            "shipping_address": {
                "recipient_name": "张伟",
                "recipient_phone": "13800138000",
                "province": "吉林省",
                "city": "长春市",
                "district": "朝阳区",
                "address_line": "人民大街 1000 号",
            },
        },
        headers={**buyer, "Idempotency-Key": "demo-rules-1"},
    ).json
    paid = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={"method": "cash", "reference": "DEMO-1", "amount_fen": order["total_fen"]},
        headers=station,
    )
    assert paid.status_code == 201, paid.json
    to_households = session.execute(
        sa.select(sa.func.count(sa.distinct(Posting.household_id))).where(
            Posting.household_id.is_not(None)
        )
    ).scalar_one()
    assert to_households >= 5
    fee_account = journal.station_fee(lanmeigou)
    assert journal.balances(session, [fee_account])[fee_account] < 0


def test_a_year_of_sales_gives_every_past_month_household_income(client, session, demo):
    """Officials trying the reports find a trend: each of the twelve months before the load
    has Douyin sales that reached households, more in the summer than in the spring."""
    from marketplace.clock import shanghai_today
    from marketplace.orders.models import Channel, Order
    from marketplace.payments.models import Refund
    from marketplace.periods import next_month

    official, county = county_official(client), county_id(session)
    this_month = shanghai_today().replace(day=1)
    month, net_by_month = this_month.replace(year=this_month.year - 1), {}
    while month < this_month:
        report = client.get(
            f"/api/v1/reports/income?region_id={county}&period={month:%Y-%m}", headers=official
        )
        assert report.status_code == 200, report.json
        net_by_month[month.month] = report.json["totals"]["net_fen"]
        month = next_month(month)
    assert len(net_by_month) == 12 and all(net > 0 for net in net_by_month.values())
    assert net_by_month[8] > net_by_month[4]
    imported = session.execute(
        sa.select(sa.func.count()).where(
            Order.channel == Channel.imported, Order.number.startswith("IMDEMO")
        )
    ).scalar_one()
    refunded = session.execute(
        sa.select(sa.func.count(sa.distinct(Refund.order_id)))
        .join(Order, Order.id == Refund.order_id)
        .where(Order.number.startswith("IMDEMO"))
    ).scalar_one()
    assert imported > 500 and 0 < refunded < imported / 10
    # Each refund is dated in the history, the week after its sale, as its reversal is: not on
    # the day the demo was loaded.
    dated = session.execute(
        sa.select(Refund.completed_at, Order.paid_at, JournalEntry.effective_on)
        .join(Order, Order.id == Refund.order_id)
        .join(JournalEntry, JournalEntry.refund_id == Refund.id)
        .where(Order.number.startswith("IMDEMO"))
    ).all()
    assert len(dated) >= refunded
    for completed_at, paid_at, effective_on in dated:
        assert completed_at <= paid_at + timedelta(days=5)
        assert effective_on == shanghai_date(completed_at)
    assert min(effective_on for _, _, effective_on in dated) < this_month


def test_the_bureau_buys_for_its_paired_villages_against_this_years_quota(client, session, demo):
    from marketplace.clock import shanghai_today

    official, county = county_official(client), county_id(session)
    year = shanghai_today().year
    report = client.get(
        f"/api/v1/reports/assistance?region_id={county}&year={year}", headers=official
    )
    assert report.status_code == 200, report.json
    bureau = next(unit for unit in report.json["units"] if unit["kind"] == "government")
    # 10×88.00 + 10×58.00 + 20×39.00 + 10×45.00 certified; 20×68.00 of rice is not.
    assert bureau["certified_fen"] == 88000 + 58000 + 78000 + 45000
    assert bureau["uncertified_fen"] == 136000
    quotas = {q["year"]: q["quota_fen"] for q in read_data("buying_units")[0]["quotas"]}
    assert bureau["quota_fen"] == quotas.get(year)


def county_official(client) -> dict:
    response = client.post(
        "/api/v1/auth/tokens",
        json={"username": "official_county", "password": "county-demo-2024"},
    )
    return {"Authorization": f"Bearer {response.json['token']}"}


def county_id(session) -> int:
    return session.execute(
        sa.select(Region.id).where(Region.level == RegionLevel.county)
    ).scalar_one()
