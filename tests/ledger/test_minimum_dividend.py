"""The guaranteed minimum dividend (保底分红), topped up at year end from retained earnings."""

import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.ledger import dividends, journal
from marketplace.ledger.models import EntryKind, JournalEntry
from tests.ledger.test_attribution import coop, pay  # noqa: F401  (shared fixture)
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)

YEAR = shanghai_today().year


def income(session, household):
    key = journal.household_income(household.id)
    return -journal.balances(session, [key])[key]


def retained(session, shop):
    key = journal.coop_retained(shop.producer.id)
    return -journal.balances(session, [key])[key]


def test_members_below_the_guarantee_are_topped_up_once(client, session, shop, place, coop):
    members, rule = coop
    rule.minimum_dividend_fen = 5000
    session.flush()
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3))).json
    pay(client, shop, order)
    assert [income(session, h) for h in members] == [3101, 6202, 6201]
    assert retained(session, shop) == 3876

    results = dividends.top_up(session, year=YEAR)
    assert results[0].paid == {members[0].id: 1899}
    assert [income(session, h) for h in members] == [5000, 6202, 6201]
    assert retained(session, shop) == 3876 - 1899

    again = dividends.top_up(session, year=YEAR)
    assert again[0].already_done
    entries = session.execute(
        sa.select(sa.func.count()).where(JournalEntry.kind == EntryKind.minimum_dividend)
    ).scalar_one()
    assert entries == 1


def test_a_short_cooperative_shares_what_it_has(client, session, shop, place, coop):
    members, rule = coop
    rule.minimum_dividend_fen = 10_000
    session.flush()
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3))).json
    pay(client, shop, order)
    result = dividends.top_up(session, year=YEAR)[0]
    # shortfalls 6899 + 3798 + 3799 = 14496, but only 3876 retained: shared by shortfall
    assert result.shortfalls == {members[0].id: 6899, members[1].id: 3798, members[2].id: 3799}
    assert sum(result.paid.values()) == 3876
    assert retained(session, shop) == 0


def test_no_guarantee_no_top_up(client, session, shop, place, coop):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    pay(client, shop, order)
    assert dividends.top_up(session, year=YEAR) == []


def test_the_command(app, client, session, shop, place, coop):
    _, rule = coop
    rule.minimum_dividend_fen = 5000
    session.flush()
    order = place(shop.buyer_headers, basket((shop.sku_500g, 3))).json
    pay(client, shop, order)
    result = app.test_cli_runner().invoke(args=["ledger", "minimum-dividends", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert "topped up 1899 fen" in result.output
