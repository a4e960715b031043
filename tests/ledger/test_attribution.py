"""Attribution through the real flow: an order paid at the counter is attributed in the same
transaction; refunds reverse exactly; the rule in force on the payment day is the one applied."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.ledger import attribution, journal
from marketplace.ledger.models import (
    BenefitRule,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
    RuleKind,
    RuleStatus,
    StationFee,
)
from marketplace.producers.models import CooperativeMembership, ProducerKind
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)


@pytest.fixture
def coop(session, shop, make_household, regions):
    """The shop's blueberry co-op with three members (1, 2 and 2 shares) and a 20% retained
    share approved from the start of the year; the station keeps a 5% fee."""
    members = [make_household(regions.village_a1) for _ in range(3)]
    for household, shares in zip(members, (1, 2, 2), strict=True):
        session.add(
            CooperativeMembership(
                cooperative_id=shop.producer.id,
                household_id=household.id,
                shares=shares,
                joined_on=date(2020, 1, 1),
            )
        )
    rule = BenefitRule(
        producer_id=shop.producer.id,
        version=1,
        kind=RuleKind.cooperative,
        status=RuleStatus.approved,
        effective_from=date(2026, 1, 1),
        retained_bp=2000,
        created_by_id=shop.admin.id,
        approved_by_id=shop.admin.id,
    )
    session.add(rule)
    session.add(
        StationFee(
            station_id=shop.station.id,
            fee_bp=500,
            effective_from=date(2026, 1, 1),
            created_by_id=shop.admin.id,
        )
    )
    session.flush()
    return members, rule


def pay(client, shop, order):
    response = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={"method": "cash", "reference": f"R-{order['id']}", "amount_fen": order["total_fen"]},
        headers=shop.station_headers,
    )
    assert response.status_code == 201, response.json
    return response


def balance(session, key):
    return journal.balances(session, [key])[key]


def entries_balance(session):
    off = session.execute(
        sa.select(Posting.entry_id, sa.func.sum(Posting.amount_fen))
        .group_by(Posting.entry_id)
        .having(sa.func.sum(Posting.amount_fen) != 0)
    ).all()
    assert off == []


def test_paying_attributes_the_order_in_the_same_transaction(client, session, shop, place, coop):
    members, rule = coop
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3))).json  # 3 × 68.00 = 204.00
    assert session.execute(sa.select(sa.func.count()).select_from(Posting)).scalar_one() == 0
    pay(client, shop, order)
    entries_balance(session)
    # 20400 captured; fee 5% = 1020; net 19380; retained 20% = 3876; 15504 by shares 1:2:2.
    assert balance(session, journal.gateway_clearing("offline")) == 20400
    assert balance(session, journal.station_fee(shop.station.id)) == -1020
    assert balance(session, journal.coop_retained(shop.producer.id)) == -3876
    incomes = [-balance(session, journal.household_income(h.id)) for h in members]
    assert incomes == [3101, 6202, 6201]  # the odd fen to the lower household id of the tie
    assert sum(incomes) + 3876 + 1020 == 20400
    postings = session.execute(
        sa.select(Posting.rule_version_id, Posting.household_id).where(
            Posting.household_id.is_not(None)
        )
    ).all()
    assert {rule_id for rule_id, _ in postings} == {rule.id}
    assert {household for _, household in postings} == {h.id for h in members}


def test_both_rollups_read_the_sales_order_lines_once(
    client, session, shop, place, coop, count_queries
):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3), (shop.sku_1kg, 1))).json
    with count_queries() as counted:
        pay(client, shop, order)
    by_line_id = [
        statement
        for statement in counted.statements
        if "FROM order_lines" in statement and "order_lines.id IN" in statement
    ]
    assert len(by_line_id) == 1, by_line_id


def test_an_unpaid_order_attributes_nothing(session, shop, place, coop):
    place(shop.buyer_headers, basket((shop.sku_500g, 1)))
    assert session.execute(sa.select(sa.func.count()).select_from(JournalEntry)).scalar_one() == 0


def test_partial_then_full_refund_reverses_exactly(client, session, shop, place, coop):
    members, _ = coop
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3), (shop.sku_1kg, 1))).json
    pay(client, shop, order)
    line = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)
    partial = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "一盒破损", "lines": [{"order_line_id": line["id"], "quantity": 1}]},
        headers=shop.station_headers,
    )
    assert partial.status_code == 201, partial.json
    entries_balance(session)
    assert balance(session, journal.gateway_clearing("offline")) == order["total_fen"] - 6800
    rest = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "买家全部退货"},
        headers=shop.station_headers,
    )
    assert rest.status_code == 201, rest.json
    entries_balance(session)
    keys = [
        journal.gateway_clearing("offline"),
        journal.station_fee(shop.station.id),
        journal.coop_retained(shop.producer.id),
        *[journal.household_income(h.id) for h in members],
    ]
    assert set(journal.balances(session, keys).values()) == {0}
    reversals = session.execute(
        sa.select(sa.func.count()).where(JournalEntry.kind == EntryKind.refund_reversal)
    ).scalar_one()
    assert reversals == 2
    # every reversal posting names the refund line it reverses
    unnamed = session.execute(
        sa.select(sa.func.count())
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(JournalEntry.kind == EntryKind.refund_reversal, Posting.refund_line_id.is_(None))
    ).scalar_one()
    assert unnamed == 0


def test_the_rule_in_force_on_the_payment_day_applies(client, session, shop, place, coop):
    _members, first = coop
    today = shanghai_today()
    first.effective_to = today - timedelta(days=1)
    second = BenefitRule(
        producer_id=shop.producer.id,
        version=2,
        kind=RuleKind.cooperative,
        status=RuleStatus.approved,
        effective_from=today,
        retained_bp=5000,
        created_by_id=shop.admin.id,
        approved_by_id=shop.admin.id,
    )
    # A version approved for next month does not touch today's sales either.
    third = BenefitRule(
        producer_id=shop.producer.id,
        version=3,
        kind=RuleKind.cooperative,
        status=RuleStatus.approved,
        effective_from=today + timedelta(days=30),
        retained_bp=0,
        created_by_id=shop.admin.id,
        approved_by_id=shop.admin.id,
    )
    session.add_all([second, third])
    session.flush()
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    pay(client, shop, order)
    # 6800 - 340 fee = 6460; 50% retained under version 2
    assert balance(session, journal.coop_retained(shop.producer.id)) == -3230
    used = session.execute(
        sa.select(sa.distinct(Posting.rule_version_id)).where(Posting.household_id.is_not(None))
    ).scalars()
    assert set(used) == {second.id}
    # The same line paid earlier in the month is attributed under version 1 (20% retained).
    earlier = attribution.PaidOrder(
        order_id=order["id"],
        gateway="offline",
        paid_on=today - timedelta(days=3),
        lines=(
            attribution.PaidLine(
                id=order["lines"][0]["id"],
                order_id=order["id"],
                producer_id=shop.producer.id,
                station_id=shop.station.id,
                quantity=1,
                line_total_fen=6800,
            ),
        ),
    )
    from marketplace.ledger.rules import RuleBook

    book = RuleBook(session, producer_ids=[shop.producer.id], station_ids=[shop.station.id])
    assert book.rule(shop.producer.id, earlier.paid_on).id == first.id
    legs = attribution.line_legs(earlier.lines[0], earlier, shop.producer, book)
    retained = next(leg for leg in legs if leg.account.startswith("coop_retained"))
    assert retained.amount_fen == -1292  # 20% of 6460


def test_a_household_seller_receives_the_whole_net(
    client, session, shop, place, make_household, make_producer, make_product, regions
):
    household = make_household(regions.village_a1)
    seller = make_producer(
        shop.station, kind=ProducerKind.household, household_id=household.id, name="郑家蜂场"
    )
    honey = make_product(
        shop.station, seller, skus=[{"spec": "500g 瓶", "price_fen": 6800, "stock": 5}]
    )
    order = place(shop.buyer_headers, basket((honey.skus_created[0], 2))).json
    pay(client, shop, order)
    assert -balance(session, journal.household_income(household.id)) == 13600


def test_accounts_are_created_once(client, session, shop, place, coop):
    for _ in range(2):
        order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
        pay(client, shop, order)
    keys = session.execute(sa.select(LedgerAccount.key)).scalars().all()
    assert len(keys) == len(set(keys))


def test_a_large_cooperative_line_is_written_whole(
    client, session, shop, place, coop, make_household, regions
):
    """Hundreds of postings in one entry take the bulk path (COPY on PostgreSQL)."""
    for _ in range(247):
        household = make_household(regions.village_a2)
        session.add(
            CooperativeMembership(
                cooperative_id=shop.producer.id,
                household_id=household.id,
                shares=1,
                joined_on=date(2020, 1, 1),
            )
        )
    session.flush()
    order = place(shop.buyer_headers, basket((shop.sku_1kg, 5))).json
    pay(client, shop, order)
    entries_balance(session)
    postings = session.execute(
        sa.select(sa.func.count()).where(Posting.household_id.is_not(None))
    ).scalar_one()
    assert postings == 250
    total = session.execute(
        sa.select(sa.func.sum(Posting.amount_fen)).where(Posting.household_id.is_not(None))
    ).scalar_one()
    # 64000 captured, 5% fee 3200, 20% of 60800 retained = 12160: 48640 to the members
    assert -total == 48640
