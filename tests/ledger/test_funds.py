"""Assistance funds: contributions in, disbursements out to households of the fund's region,
never more than the fund holds, split to the fen."""

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.ledger import journal
from marketplace.ledger.funds import split
from marketplace.ledger.models import (
    AssistanceFund,
    DisbursementMode,
    FundContribution,
    FundDisbursement,
)
from tests.ledger.conftest import ledger_size


@pytest.fixture
def fund(client, money, regions):
    """A township-A fund holding 20,000 fen."""
    response = client.post(
        "/api/v1/funds",
        json={"name": "蓝莓节助农基金", "source": "campaign", "region_id": regions.township_a.id},
        headers=money.admin_headers,
    )
    assert response.status_code == 201, response.json
    fund = response.json
    given = client.post(
        f"/api/v1/funds/{fund['id']}/contributions",
        json={"amount_fen": 20000, "contributor": "青松县商务局", "reference": "HB-001"},
        headers=money.admin_headers,
    )
    assert given.status_code == 201, given.json
    return fund


def disbursements_url(fund) -> str:
    return f"/api/v1/funds/{fund['id']}/disbursements"


def balance_of(session, fund) -> int:
    key = journal.assistance_fund(fund["id"])
    return -journal.balances(session, [key])[key]


def income(session, household) -> int:
    key = journal.household_income(household.id)
    return -journal.balances(session, [key])[key]


# --- funds and contributions -----------------------------------------------------------------


def test_a_fund_shows_what_it_received_and_holds(client, fund, money):
    response = client.get(f"/api/v1/funds/{fund['id']}", headers=money.official_headers)
    assert response.status_code == 200
    assert response.json["balance_fen"] == 20000
    assert response.json["contributed_fen"] == 20000
    assert response.json["disbursed_fen"] == 0


def test_the_same_contribution_sent_again_is_a_replay(client, session, fund, money):
    url = f"/api/v1/funds/{fund['id']}/contributions"
    body = {"amount_fen": 20000, "contributor": "青松县商务局", "reference": "HB-001"}
    before = ledger_size(session)
    again = client.post(url, json=body, headers=money.admin_headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(url, json={**body, "amount_fen": 1}, headers=money.admin_headers)
    assert other.status_code == 409
    assert "reference" in other.json["errors"]
    assert ledger_size(session) == before
    assert balance_of(session, fund) == 20000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_fen": 0, "contributor": "a", "reference": "r"}, "amount_fen"),
        ({"amount_fen": 10.5, "contributor": "a", "reference": "r"}, "amount_fen"),
        ({"amount_fen": "100", "contributor": "a", "reference": "r"}, "amount_fen"),
        ({"amount_fen": 100, "reference": "r"}, "contributor"),
        ({"amount_fen": 100, "contributor": "a", "reference": ""}, "reference"),
    ],
)
def test_bad_contributions_are_422(client, session, fund, money, body, field):
    before = ledger_size(session)
    response = client.post(
        f"/api/v1/funds/{fund['id']}/contributions", json=body, headers=money.admin_headers
    )
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert ledger_size(session) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "campaign", "region_id": 1}, "name"),
        ({"name": "x", "source": "lottery", "region_id": 1}, "source"),
        ({"name": "x", "source": "campaign", "region_id": 999999}, "region_id"),
        ({"name": "蓝莓节助农基金", "source": "campaign"}, "region_id"),
    ],
)
def test_bad_funds_are_422(client, session, fund, money, body, field):
    response = client.post("/api/v1/funds", json=body, headers=money.admin_headers)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert session.execute(sa.select(sa.func.count()).select_from(AssistanceFund)).scalar() == 1


def test_funds_are_scoped_to_their_region(client, fund, shop, money):
    assert client.get("/api/v1/funds").status_code == 401
    assert client.get("/api/v1/funds", headers=shop.station_headers).status_code == 403
    assert [f["id"] for f in client.get("/api/v1/funds", headers=money.official_headers).json] == [
        fund["id"]
    ]
    for headers in (money.official_b_headers, money.official_far_headers):
        assert client.get("/api/v1/funds", headers=headers).json == []
        hidden = client.get(f"/api/v1/funds/{fund['id']}", headers=headers)
        assert hidden.status_code == 404 and "蓝莓节" not in hidden.text
        assert client.get(disbursements_url(fund), headers=headers).status_code == 404


def test_only_admins_move_fund_money(client, session, fund, money, shop):
    body = {"amount_fen": 100, "contributor": "a", "reference": "r2"}
    url = f"/api/v1/funds/{fund['id']}/contributions"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=money.official_headers).status_code == 403
    payout = {"mode": "fixed", "memo": "m", "amount_each_fen": 1, "household_ids": [1]}
    assert client.post(disbursements_url(fund), json=payout).status_code == 401
    official = client.post(disbursements_url(fund), json=payout, headers=money.official_headers)
    assert official.status_code == 403
    assert balance_of(session, fund) == 20000


# --- disbursements ---------------------------------------------------------------------------


def test_fixed_amounts_reach_each_household(client, session, fund, money):
    members = money.members
    response = client.post(
        disbursements_url(fund),
        json={
            "mode": "fixed",
            "memo": "每户 50 元",
            "amount_each_fen": 5000,
            "household_ids": [m.id for m in members],
        },
        headers=money.admin_headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["total_fen"] == 15000
    assert [line["amount_fen"] for line in response.json["lines"]] == [5000] * 3
    assert balance_of(session, fund) == 5000
    assert [income(session, m) for m in members] == [5000] * 3
    detail = client.get(f"/api/v1/funds/{fund['id']}", headers=money.admin_headers).json
    assert (detail["balance_fen"], detail["disbursed_fen"]) == (5000, 15000)


def test_weights_split_the_total_to_the_fen(client, session, fund, money):
    a, b, c = money.members
    response = client.post(
        disbursements_url(fund),
        json={
            "mode": "weights",
            "memo": "按人口分配",
            "total_fen": 10001,
            "households": [
                {"household_id": c.id, "weight": 1},
                {"household_id": a.id, "weight": 1},
                {"household_id": b.id, "weight": 1},
            ],
        },
        headers=money.admin_headers,
    )
    assert response.status_code == 201, response.json
    # 3333 each and two fen over, one each to the two lowest household ids
    assert [income(session, m) for m in (a, b, c)] == [3334, 3334, 3333]
    assert balance_of(session, fund) == 20000 - 10001


def test_more_than_the_balance_is_409_naming_the_shortfall(client, session, fund, money):
    before = ledger_size(session)
    response = client.post(
        disbursements_url(fund),
        json={
            "mode": "fixed",
            "memo": "too much",
            "amount_each_fen": 7000,
            "household_ids": [m.id for m in money.members],
        },
        headers=money.admin_headers,
    )
    assert response.status_code == 409
    assert response.json["shortfall_fen"] == 1000
    assert "1000 fen more" in response.json["detail"]
    assert response.json["code"] == "fund.balance_too_low"
    assert response.json["params"]["shortfall_fen"] == 1000
    assert ledger_size(session) == before
    assert session.execute(sa.select(sa.func.count()).select_from(FundDisbursement)).scalar() == 0


def test_households_outside_the_funds_region_are_refused(
    client, session, fund, money, make_household, regions
):
    outsider = make_household(regions.village_b1)
    before = ledger_size(session)
    response = client.post(
        disbursements_url(fund),
        json={
            "mode": "fixed",
            "memo": "m",
            "amount_each_fen": 100,
            "household_ids": [money.members[0].id, outsider.id],
        },
        headers=money.admin_headers,
    )
    assert response.status_code == 422
    assert "household_ids" in response.json["errors"]
    assert ledger_size(session) == before
    assert income(session, money.members[0]) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "fixed", "memo": "m", "household_ids": [1]}, "amount_each_fen"),
        (
            {
                "mode": "fixed",
                "memo": "m",
                "amount_each_fen": 1,
                "total_fen": 5,
                "household_ids": [1],
            },
            "total_fen",
        ),
        ({"mode": "weights", "memo": "m", "total_fen": 5}, "households"),
        (
            {
                "mode": "weights",
                "memo": "m",
                "total_fen": 5,
                "households": [{"household_id": 1, "weight": 0}],
            },
            "households",
        ),
        (
            {"mode": "fixed", "memo": "m", "amount_each_fen": 1, "household_ids": [1, 1]},
            "household_ids",
        ),
        (
            {"mode": "fixed", "memo": "m", "amount_each_fen": 1.5, "household_ids": [1]},
            "amount_each_fen",
        ),
        ({"mode": "even", "memo": "m"}, "mode"),
        ({"mode": "fixed", "amount_each_fen": 1, "household_ids": [1]}, "memo"),
    ],
)
def test_bad_disbursements_are_422(client, session, fund, money, body, field):
    before = ledger_size(session)
    response = client.post(disbursements_url(fund), json=body, headers=money.admin_headers)
    assert response.status_code == 422, response.json
    assert any(key.startswith(field) for key in response.json["errors"]), response.json
    assert ledger_size(session) == before


def test_each_field_a_mode_needs_or_refuses_is_named_with_its_reason(client, fund, money):
    body = {"mode": "fixed", "memo": "m", "total_fen": 5}
    response = client.post(disbursements_url(fund), json=body, headers=money.admin_headers)
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {
        "amount_each_fen": ["required in mode fixed"],
        "household_ids": ["required in mode fixed"],
        "total_fen": ["not used in mode fixed"],
    }
    assert response.json["reasons"]["amount_each_fen"] == [
        {"code": "disbursement.field_required_in_mode", "params": {"mode": "fixed"}}
    ]
    assert response.json["reasons"]["total_fen"] == [
        {"code": "disbursement.field_unused_in_mode", "params": {"mode": "fixed"}}
    ]


def test_a_total_too_small_to_reach_everyone_is_422(client, session, fund, money):
    body = {
        "mode": "weights",
        "memo": "m",
        "total_fen": 2,
        "households": [{"household_id": m.id, "weight": 1} for m in money.members],
    }
    response = client.post(disbursements_url(fund), json=body, headers=money.admin_headers)
    assert response.status_code == 422
    assert "total_fen" in response.json["errors"]


def test_an_idempotency_key_makes_a_retry_safe(client, session, fund, money):
    body = {
        "mode": "fixed",
        "memo": "重试",
        "amount_each_fen": 1000,
        "household_ids": [money.members[0].id],
    }
    headers = {**money.admin_headers, "Idempotency-Key": "fund-retry-1"}
    first = client.post(disbursements_url(fund), json=body, headers=headers)
    again = client.post(disbursements_url(fund), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json["id"] == again.json["id"]
    assert income(session, money.members[0]) == 1000
    other = client.post(
        disbursements_url(fund), json={**body, "amount_each_fen": 2000}, headers=headers
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json["errors"]
    assert balance_of(session, fund) == 19000


def test_listing_disbursements_takes_constant_statements(
    client, session, fund, money, count_queries
):
    for amount in (100, 200, 300):
        body = {
            "mode": "fixed",
            "memo": "m",
            "amount_each_fen": amount,
            "household_ids": [m.id for m in money.members],
        }
        assert (
            client.post(disbursements_url(fund), json=body, headers=money.admin_headers).status_code
            == 201
        )
    session.commit()
    with count_queries() as one:
        client.get(disbursements_url(fund) + "?page_size=1", headers=money.admin_headers)
    with count_queries() as three:
        response = client.get(disbursements_url(fund), headers=money.admin_headers)
    assert [len(d["lines"]) for d in response.json] == [3, 3, 3]
    assert one.count == three.count


# --- the split, as a property ----------------------------------------------------------------

households = st.lists(st.integers(1, 10**6), min_size=1, max_size=60, unique=True)


@given(ids=households, each=st.integers(1, 10**8))
def test_fixed_splits_give_each_household_the_amount(ids, each):
    parts = split({"mode": DisbursementMode.fixed, "amount_each_fen": each, "household_ids": ids})
    assert sum(amount for _, _, amount in parts) == each * len(ids)
    assert [household for household, _, _ in parts] == sorted(ids)


@given(
    weights=st.dictionaries(st.integers(1, 10**6), st.integers(1, 10**4), min_size=1, max_size=60),
    total=st.integers(1, 10**10),
)
def test_weighted_splits_sum_to_the_total(weights, total):
    parts = split(
        {
            "mode": DisbursementMode.weights,
            "total_fen": total,
            "households": [{"household_id": h, "weight": w} for h, w in weights.items()],
        }
    )
    assert sum(amount for _, _, amount in parts) == total
    assert all(amount >= 0 for _, _, amount in parts)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amounts=st.lists(st.integers(1, 30000), min_size=1, max_size=6))
def test_disbursements_never_exceed_the_balance(
    amounts, app, session, make_user, regions, make_household
):
    """Whatever is asked for, the fund never goes below zero, and what was refused left no
    trace."""
    from marketplace.accounts.auth import Actor
    from marketplace.accounts.models import Role
    from marketplace.errors import Conflict
    from marketplace.ledger import funds

    admin = make_user(Role.admin)
    actor = Actor(user_id=admin.id, username=admin.username, role=Role.admin)
    fund = funds.create_fund(
        session, actor, {"name": f"f{admin.id}", "source": "other", "region_id": regions.county.id}
    )
    household = make_household(regions.village_a1)
    funds.contribute(
        session, actor, fund.id, {"amount_fen": 50000, "contributor": "c", "reference": "r"}
    )
    given_out = 0
    for amount in amounts:
        body = {
            "mode": DisbursementMode.fixed,
            "memo": "m",
            "amount_each_fen": amount,
            "household_ids": [household.id],
        }
        try:
            with session.begin_nested():
                funds.disburse(session, actor, fund.id, body)
            given_out += amount
        except Conflict:
            assert given_out + amount > 50000
        assert funds.fund_balance(session, fund.id) == 50000 - given_out >= 0
    assert (
        session.execute(
            sa.select(sa.func.count())
            .select_from(FundContribution)
            .where(FundContribution.fund_id == fund.id)
        ).scalar()
        == 1
    )
