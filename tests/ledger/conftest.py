"""Shared fixtures of the ledger tests: a co-operative with members and an approved rule, the
people who manage and oversee it, and orders paid at the counter (which attributes them)."""

import itertools
from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.ledger.models import BenefitRule, JournalEntry, Posting, RuleKind, RuleStatus
from marketplace.producers.models import CooperativeMembership
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)

_references = itertools.count(1)


def ledger_size(session) -> tuple[int, int]:
    """(journal entries, postings): what a write that must change nothing must leave alone."""
    return (
        session.execute(sa.select(sa.func.count()).select_from(JournalEntry)).scalar_one(),
        session.execute(sa.select(sa.func.count()).select_from(Posting)).scalar_one(),
    )


@pytest.fixture
def money(session, shop, regions, make_household, make_user, auth):
    """``shop`` plus: three members of its co-op (1, 2 and 2 shares) under an approved rule
    keeping 20%, another admin, officials of the county, of township B and of the other
    county, and a buyer-side helper ``pay(*lines)`` returning a paid order."""

    class Money:
        members = [make_household(regions.village_a1, head_name=f"社员{i}") for i in range(3)]
        admin2 = make_user(Role.admin)
        official = make_user(Role.official, region_id=regions.county.id)
        official_b = make_user(Role.official, region_id=regions.township_b.id)
        official_far = make_user(Role.official, region_id=regions.other_county.id)
        buyer = shop.buyer

    for household, shares in zip(Money.members, (1, 2, 2), strict=True):
        session.add(
            CooperativeMembership(
                cooperative_id=shop.producer.id,
                household_id=household.id,
                shares=shares,
                joined_on=date(2020, 1, 1),
            )
        )
    Money.rule = BenefitRule(
        producer_id=shop.producer.id,
        version=1,
        kind=RuleKind.cooperative,
        status=RuleStatus.approved,
        effective_from=date(2020, 1, 1),
        retained_bp=2000,
        created_by_id=shop.admin.id,
        approved_by_id=Money.admin2.id,
    )
    session.add(Money.rule)
    session.flush()
    Money.admin_headers = shop.admin_headers
    Money.admin2_headers = auth(Money.admin2)
    Money.official_headers = auth(Money.official)
    Money.official_b_headers = auth(Money.official_b)
    Money.official_far_headers = auth(Money.official_far)
    return Money


@pytest.fixture
def pay(client, shop, place):
    """``pay(*lines, headers=station)`` -> an order placed by the buyer and paid in cash at
    the counter of the station that holds its lines (which attributes it)."""

    def make(*lines, headers=None):
        order = place(shop.buyer_headers, basket(*lines)).json
        paid = client.post(
            f"/api/v1/orders/{order['id']}/offline-payments",
            json={
                "method": "cash",
                "reference": f"LEDGER-{next(_references)}",
                "amount_fen": order["total_fen"],
            },
            headers=headers or shop.station_headers,
        )
        assert paid.status_code == 201, paid.json
        return order

    return make
