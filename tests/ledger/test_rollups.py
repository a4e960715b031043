"""The rollups reports read (``ledger/rollups.py``, ``ledger/sales_rollups.py``): after any
sequence of sales, refunds, platform imports, minimum dividends, fund disbursements, a month's
close and the registry's and catalog's own changes (a household moving village, changing status
or members, a product's village of origin changing), every rollup row is the sum of its
postings, every village rollup the sum of its households' rows, the income reports above a
village read from them equal those read from every household, the channel reports equal those
read from the postings, and ``flask ledger check`` says so; a rollup that drifts from its
postings, or postings written past the ledger, are found. The rollups keep what the reports
resolve when read, so a household that moves village, a producer that changes kind and a
product whose origin changes give the figures the postings give."""

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.catalog.models import Product
from marketplace.clock import shanghai_today
from marketplace.db import utcnow
from marketplace.households.models import HouseholdStatus, HouseholdStatusChange
from marketplace.ledger import dividends, rollups, sales_rollups, village_rollups
from marketplace.ledger.models import HouseholdIncomeMonth, Posting, SalesMonth
from marketplace.orders.models import OrderStatus
from marketplace.periods import next_month, parse_period
from marketplace.platform_sales import recording as platform_sales
from marketplace.producers.models import ProducerKind
from marketplace.reports import channels, closing, income, reconciliation
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.reports.test_income import ledger_net

_numbers = itertools.count(1)


@pytest.fixture
def month_over(monkeypatch):
    """This month, treated as over, so that it can be closed and later writes move on."""
    later = next_month(shanghai_today().replace(day=1)) + timedelta(days=3)
    monkeypatch.setattr(closing, "shanghai_today", lambda: later)


@pytest.fixture
def fund(client, money, regions):
    created = client.post(
        "/api/v1/funds",
        json={"name": "汇总测试基金", "source": "campaign", "region_id": regions.county.id},
        headers=money.admin_headers,
    )
    assert created.status_code == 201, created.json
    given_money = client.post(
        f"/api/v1/funds/{created.json['id']}/contributions",
        json={"amount_fen": 10_000_000, "contributor": "县商务局", "reference": "ROLLUP-1"},
        headers=money.admin_headers,
    )
    assert given_money.status_code == 201, given_money.json
    return created.json


def _import(session, shop, quantity: int) -> None:
    n = next(_numbers)
    sku = shop.sku_500g
    line = platform_sales.platform_line(
        sku_id=sku.id,
        product_id=sku.product_id,
        station_id=sku.station_id,
        producer_id=shop.producer.id,
        product_name="野生蓝莓",
        sku_spec=sku.spec,
        unit_price_fen=sku.price_fen,
        quantity=quantity,
        discount_fen=0,
        list_price_fen=sku.price_fen,
    )
    platform_sales.record_sales(
        session,
        [
            platform_sales.Sale(
                platform="douyin",
                reference=f"RUDY{n}",
                number=f"IMRU{n}",
                note="douyin",
                placed_at=utcnow(),
                paid_at=utcnow(),
                livestream_session_id=None,
                status=OrderStatus.paid,
                lines=(line,),
            )
        ],
    )
    session.flush()


steps = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), st.integers(1, 4)),
        st.tuples(st.just("refund"), st.integers(1, 2)),
        st.tuples(st.just("import"), st.integers(1, 3)),
        st.tuples(st.just("disburse"), st.integers(1, 90_000)),
        st.tuples(st.just("dividend"), st.just(0)),
        st.tuples(st.just("close"), st.just(0)),
        st.tuples(st.just("move"), st.integers(0, 8)),
        st.tuples(st.just("status"), st.integers(0, 8)),
        st.tuples(st.just("members"), st.integers(0, 8)),
        st.tuples(st.just("origin"), st.integers(0, 8)),
    ),
    min_size=1,
    max_size=10,
)


def _change_registry(session, shop, money, regions, what: str, number: int) -> None:
    """A change of the registry or the catalog written as any writer would (the database keeps
    the village rollups, so the ORM's plain UPDATE and INSERT are enough): ``number`` picks the
    household (or the product's village) and what it becomes."""
    household = money.members[number % len(money.members)]
    villages = (regions.village_a1, regions.village_a2, regions.village_b1)
    if what == "origin":
        # The shop's product, sold before, now comes from another village (or another county).
        product = session.get(Product, shop.sku_500g.product_id)
        product.origin_village_id = (*villages, regions.other_village)[number % 4].id
    elif what == "move":
        household.village_id = villages[number % len(villages)].id
    elif what == "members":
        household.members_count = 1 + number
    else:
        status = tuple(HouseholdStatus)[number % len(HouseholdStatus)]
        session.add(
            HouseholdStatusChange(
                household_id=household.id,
                status=status,
                monitoring_type="marginal" if status is HouseholdStatus.monitoring else None,
                # From weeks before to weeks after this month's end: a status at the month's end
                # other than the latest is what the village reach rollup is corrected for.
                effective_from=shanghai_today() + timedelta(days=12 * (number - 4)),
            )
        )
    session.flush()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_every_rollup_is_the_sum_of_its_postings(
    client, session, shop, money, pay, regions, fund, month_over, plan
):
    shop.sku_500g.stock = 1_000_000  # examples add to one shop
    session.flush()
    sold = []
    for what, amount in plan:
        if what == "sale":
            order = pay((shop.sku_500g, amount))
            sold.append((order["id"], order["lines"][0]["id"], amount))
        elif what == "refund" and sold:
            order_id, line_id, left = sold.pop()
            refunded = client.post(
                f"/api/v1/orders/{order_id}/refunds",
                json={
                    "reason": "破损",
                    "lines": [{"order_line_id": line_id, "quantity": min(amount, left)}],
                },
                headers=shop.station_headers,
            )
            assert refunded.status_code == 201, refunded.json
        elif what == "import":
            _import(session, shop, amount)
        elif what == "disburse":
            given_out = client.post(
                f"/api/v1/funds/{fund['id']}/disbursements",
                json={
                    "mode": "fixed",
                    "memo": "每户补助",
                    "amount_each_fen": amount,
                    "household_ids": [m.id for m in money.members],
                },
                headers=money.admin_headers,
            )
            assert given_out.status_code == 201, given_out.json
        elif what == "dividend":
            money.rule.minimum_dividend_fen = 500_000
            session.flush()
            dividends.top_up(session, year=shanghai_today().year)
        elif what == "close":
            closed = client.post(
                "/api/v1/reports/closes",
                json={"region_id": regions.county.id, "month": f"{shanghai_today():%Y-%m}"},
                headers=money.official_headers,
            )
            assert closed.status_code in (201, 409), closed.json
        elif what in ("move", "status", "members", "origin"):
            _change_registry(session, shop, money, regions, what, amount)
    session.flush()
    assert rollups.differences(session) == []
    assert village_rollups.differences(session) == []
    assert sales_rollups.differences(session) == []
    _village_sums_report_as_households_do(session, regions)
    _channels_report_as_postings_do(session, regions)
    # flask ledger check says the same (its other findings are other invariants: a refund
    # after the year's minimum-dividend top-up can leave a co-op's retained earnings in debit).
    assert not [d for d in reconciliation.run(session).differences if "rollup" in d]
    rows = session.execute(sa.select(HouseholdIncomeMonth)).scalars().all()
    if any(what in ("sale", "import", "disburse") for what, _ in plan):
        assert rows, "household income went somewhere"
    assert all(row.postings > 0 for row in rows)
    sales = session.execute(sa.select(SalesMonth)).scalars().all()
    if any(what in ("sale", "import") for what, _ in plan):
        assert sales, "sales went somewhere"
    assert all(row.postings > 0 for row in sales)


def _channels_report_as_postings_do(session, regions) -> None:
    """The channel reports, read from the sales rollup, equal the reference read from the
    postings, for the month and the quarter around it, at every level."""
    today = shanghai_today()
    for label in (f"{today:%Y-%m}", f"{today.year}-Q{(today.month - 1) // 3 + 1}"):
        period = parse_period(label)
        for region in (
            regions.county,
            regions.township_a,
            regions.township_b,
            regions.village_a1,
            regions.village_b1,
        ):
            fast = channels.build_report(session, region, period)
            assert fast == channels.build_report(session, region, period, from_postings=True)


def _village_sums_report_as_households_do(session, regions) -> None:
    """The reports above a village, read from the village rollups, equal the reference read
    from every household's rows, for the month and the quarter around it."""
    today = shanghai_today()
    for label in (f"{today:%Y-%m}", f"{today.year}-Q{(today.month - 1) // 3 + 1}"):
        for region in (regions.county, regions.township_a, regions.township_b):
            period = parse_period(label)
            fast = income.build_report(session, region, period)
            assert fast == income.build_report(session, region, period, village_sums=False)


def test_a_drifted_rollup_and_postings_past_the_ledger_are_found(session, shop, money, pay):
    pay((shop.sku_500g, 2))
    session.flush()
    assert rollups.differences(session) == []
    row = session.execute(sa.select(HouseholdIncomeMonth).limit(1)).scalar_one()
    row.amount_fen += 1
    session.flush()
    found = reconciliation.run(session).differences
    assert any("rollup holds" in line and str(row.household_id) in line for line in found)
    assert any("postings give" in line for line in found)
    row.amount_fen -= 1
    stray = session.execute(
        sa.select(Posting).where(Posting.household_id == row.household_id).limit(1)
    ).scalar_one()
    session.add(
        Posting(
            entry_id=stray.entry_id,
            account_id=stray.account_id,
            amount_fen=-1,
            household_id=stray.household_id,
            order_line_id=stray.order_line_id,
            effective_on=stray.effective_on,
        )
    )
    session.flush()
    assert any("postings give" in line for line in rollups.differences(session))


def test_rebuild_writes_what_the_postings_give(session, shop, money, pay):
    pay((shop.sku_500g, 3))
    session.flush()
    before = sorted(
        (r.household_id, r.month, r.kind, r.producer_id, r.fund_id, r.amount_fen, r.postings)
        for r in session.execute(sa.select(HouseholdIncomeMonth)).scalars()
    )
    assert rollups.rebuild(session) == len(before)
    after = sorted(
        (r.household_id, r.month, r.kind, r.producer_id, r.fund_id, r.amount_fen, r.postings)
        for r in session.execute(sa.select(HouseholdIncomeMonth)).scalars()
    )
    assert after == before


def test_a_drifted_sales_rollup_is_found_and_rebuild_writes_what_the_postings_give(
    client, session, shop, money, pay
):
    order = pay((shop.sku_500g, 3))
    refunded = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={
            "reason": "破损",
            "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}],
        },
        headers=shop.station_headers,
    )
    assert refunded.status_code == 201, refunded.json
    session.flush()

    def held():
        return sorted(
            (r.month, r.product_id, r.order_id, r.kind, r.account_kind, r.amount_fen, r.postings)
            for r in session.execute(sa.select(SalesMonth)).scalars()
        )

    before = held()
    # The attribution and the refund's reversal, each to the clearing account and to the
    # co-op's members' income accounts: no other account is kept.
    assert {(kind, account) for _, _, _, kind, account, _, _ in before} == {
        (kind, account)
        for kind in sales_rollups.SELLING
        for account in sales_rollups.MONEY_ACCOUNTS
    }
    assert sales_rollups.differences(session) == []
    row = session.execute(sa.select(SalesMonth).limit(1)).scalar_one()
    row.amount_fen += 1
    session.flush()
    found = reconciliation.run(session).differences
    assert any(
        line.startswith("sales rollup: rollup holds") and f"order_id {row.order_id}," in line
        for line in found
    )
    assert any(line.startswith("sales rollup: postings give") for line in found)
    assert sales_rollups.rebuild(session) == len(before)
    session.expire_all()  # the rows were written again past the ORM
    assert held() == before
    assert sales_rollups.differences(session) == []


def _county_report(client, money, regions):
    response = client.get(
        "/api/v1/reports/income",
        query_string={"region_id": regions.county.id, "period": f"{shanghai_today():%Y-%m}"},
        headers=money.admin_headers,
    )
    assert response.status_code == 200, response.json
    return response.json


def test_a_moved_household_and_a_producer_of_another_kind_report_as_their_postings_do(
    client, session, shop, money, pay, regions
):
    pay((shop.sku_500g, 3))
    moved = money.members[0]
    moved.village_id = regions.village_b1.id
    session.flush()
    report = _county_report(client, money, regions)
    by_township = {row["region_id"]: row for row in report["rows"]}
    month = shanghai_today().replace(day=1), next_month(shanghai_today().replace(day=1))
    for township, villages in (
        (regions.township_a, (regions.village_a1, regions.village_a2)),
        (regions.township_b, (regions.village_b1, regions.village_b2)),
    ):
        earned, _ = ledger_net(
            session, [v.id for v in villages], month[0], month[1] - timedelta(days=1)
        )
        assert by_township[township.id]["net_fen"] == earned
    assert by_township[regions.township_b.id]["net_fen"] > 0
    coop = report["totals"]["by_source"]["coop_dividends"]["net_fen"]
    assert coop > 0
    shop.producer.kind = ProducerKind.enterprise
    session.flush()
    changed = _county_report(client, money, regions)["totals"]["by_source"]
    assert changed["coop_dividends"]["net_fen"] == 0
    assert changed["enterprise_linking"]["net_fen"] == coop


def test_a_status_changed_after_the_month_counts_as_it_was_at_its_end(
    session, shop, money, pay, regions
):
    """The village reach rollup counts a household under its latest status; a report of a
    month before that status took effect counts it under the status it had then."""
    pay((shop.sku_500g, 2))
    for number in (0, 1):
        household = money.members[number]
        session.add(
            HouseholdStatusChange(
                household_id=household.id,
                status=HouseholdStatus.in_poverty,
                effective_from=next_month(shanghai_today().replace(day=1)) + timedelta(days=3),
            )
        )
    money.members[2].members_count = 7
    session.flush()
    _village_sums_report_as_households_do(session, regions)
    report = income.build_report(session, regions.county, parse_period(f"{shanghai_today():%Y-%m}"))
    coverage = report["totals"]["coverage"]
    assert coverage["in_poverty"]["reached"] == 0, "the changes are after the month's end"
    assert coverage["lifted"]["reached"] == len(money.members)
