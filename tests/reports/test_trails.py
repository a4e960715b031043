"""Money trails: an order's postings line by line with the invariant shown, and a household's
income with its causes and running balance, each for the people allowed to follow it."""

import pytest

from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today


def order_trail_url(order) -> str:
    return f"/api/v1/orders/{order['id']}/money-trail"


def household_trail_url(household) -> str:
    return f"/api/v1/households/{household.id}/money-trail"


@pytest.fixture
def two_station_order(client, shop, money, pay):
    """Two boxes of blueberries (the first station's co-op) and one ginseng (the second
    station's, in township B), paid at the first station; then one box refunded."""
    order = pay((shop.sku_500g, 2), (shop.sku_ginseng, 1))
    line = next(line for line in order["lines"] if line["sku_id"] == shop.sku_500g.id)
    refund = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "压坏了", "lines": [{"order_line_id": line["id"], "quantity": 1}]},
        headers=shop.station_headers,
    )
    assert refund.status_code == 201, refund.json
    return order


def test_the_admin_sees_every_line_and_the_invariant(client, shop, money, two_station_order):
    response = client.get(order_trail_url(two_station_order), headers=money.admin_headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["number"] == two_station_order["number"]
    assert len(body["lines"]) == 2
    totals = body["totals"]
    assert totals["captured_fen"] == 13600 + 39900
    assert totals["refunded_fen"] == 6800
    assert totals["balanced"] is True
    assert (
        totals["attributed_fen"] + totals["retained_fen"] + totals["fees_fen"]
        == totals["captured_fen"] - totals["refunded_fen"]
    )
    blueberries = next(line for line in body["lines"] if line["product_name"] == "野生蓝莓")
    kinds = {(p["entry_kind"], p["account_kind"]) for p in blueberries["postings"]}
    assert ("attribution", "household_income") in kinds
    assert ("refund_reversal", "gateway_clearing") in kinds
    member = next(p for p in blueberries["postings"] if p["account_kind"] == "household_income")
    assert member["rule_version_id"] == money.rule.id and member["rule_version"] == 1
    assert member["owner_name"].startswith("社员")
    refunds = [p for p in blueberries["postings"] if p["entry_kind"] == "refund_reversal"]
    assert refunds and all(p["refund_id"] for p in refunds)


def test_a_station_follows_only_its_own_lines(client, shop, two_station_order):
    mine = client.get(order_trail_url(two_station_order), headers=shop.station_headers).json
    theirs = client.get(order_trail_url(two_station_order), headers=shop.other_station_headers)
    assert [line["product_name"] for line in mine["lines"]] == ["野生蓝莓"]
    assert mine["totals"]["captured_fen"] == 13600 and mine["totals"]["balanced"]
    assert [line["product_name"] for line in theirs.json["lines"]] == ["林下参"]
    assert "野生蓝莓" not in theirs.text


def test_officials_follow_the_lines_from_their_subtree(client, money, two_station_order):
    county = client.get(order_trail_url(two_station_order), headers=money.official_headers).json
    assert len(county["lines"]) == 2
    township_b = client.get(order_trail_url(two_station_order), headers=money.official_b_headers)
    assert [line["product_name"] for line in township_b.json["lines"]] == ["林下参"]
    far = client.get(order_trail_url(two_station_order), headers=money.official_far_headers)
    assert far.status_code == 404 and "林下参" not in far.text


def test_order_trail_refuses_buyers_and_strangers(
    client, shop, money, two_station_order, make_user, auth, make_station, regions
):
    assert client.get(order_trail_url(two_station_order)).status_code == 401
    assert (
        client.get(order_trail_url(two_station_order), headers=shop.buyer_headers).status_code
        == 403
    )
    elsewhere = make_user(Role.station, station_id=make_station(regions.village_a2).id)
    hidden = client.get(order_trail_url(two_station_order), headers=auth(elsewhere))
    assert hidden.status_code == 404 and "野生蓝莓" not in hidden.text
    missing = client.get("/api/v1/orders/999999/money-trail", headers=money.admin_headers)
    assert missing.status_code == 404
    assert (missing.json["code"], missing.json["params"]) == (
        "trail.order_not_found",
        {"order_id": 999999},
    )


# --- a household -----------------------------------------------------------------------------


@pytest.fixture
def earning_member(client, shop, money, pay, regions):
    """The first member: a share of two paid orders and 100 yuan from a fund."""
    pay((shop.sku_500g, 1))
    pay((shop.sku_1kg, 1))
    fund = client.post(
        "/api/v1/funds",
        json={"name": "助农基金", "source": "enterprise_pledge", "region_id": regions.county.id},
        headers=money.admin_headers,
    ).json
    client.post(
        f"/api/v1/funds/{fund['id']}/contributions",
        json={"amount_fen": 50000, "contributor": "青松食品", "reference": "PL-1"},
        headers=money.admin_headers,
    )
    given = client.post(
        f"/api/v1/funds/{fund['id']}/disbursements",
        json={
            "mode": "fixed",
            "memo": "慰问金",
            "amount_each_fen": 10000,
            "household_ids": [money.members[0].id],
        },
        headers=money.admin_headers,
    )
    assert given.status_code == 201, given.json
    return money.members[0]


def test_a_household_trail_shows_causes_and_the_running_balance(
    client, shop, money, earning_member
):
    response = client.get(household_trail_url(earning_member), headers=money.official_headers)
    assert response.status_code == 200, response.json
    body = response.json
    # 1/5 of 80% of 6,800 and of 12,800, then the fund's 10,000
    assert [p["income_fen"] for p in body["postings"]] == [1088, 2048, 10000]
    assert [p["balance_fen"] for p in body["postings"]] == [1088, 3136, 13136]
    sale = body["postings"][0]["cause"]
    assert sale["product_name"] == "野生蓝莓" and sale["producer_id"] == shop.producer.id
    assert sale["order_number"].startswith("MK")
    assert sale["payment_day"] == shanghai_today().isoformat()
    assert body["postings"][2]["cause"]["fund_name"] == "助农基金"
    assert body["totals"] == {
        "accrued_fen": 13136,
        "paid_fen": 0,
        "in_transit_fen": 0,
        "owed_fen": 13136,
    }
    assert "*" in body["household"]["head_id_number"]


def test_admins_see_the_id_number_in_full(client, money, earning_member):
    body = client.get(household_trail_url(earning_member), headers=money.admin_headers).json
    assert body["household"]["head_id_number"] == earning_member.plain_id_number


def test_pages_keep_the_running_balance_and_cost_the_same(
    client, session, money, earning_member, count_queries
):
    url = household_trail_url(earning_member)
    with count_queries() as one_page:
        second = client.get(url + "?page=2&page_size=1", headers=money.admin_headers)
    assert second.json["postings"][0]["balance_fen"] == 3136
    assert '"total": 3' in second.headers["X-Pagination"]
    with count_queries() as all_of_it:
        client.get(url, headers=money.admin_headers)
    assert one_page.count == all_of_it.count


def test_the_period_cuts_the_postings_not_the_totals(client, money, earning_member):
    today = shanghai_today()
    empty = client.get(
        household_trail_url(earning_member) + "?from=2020-01-01&to=2020-12-31",
        headers=money.admin_headers,
    ).json
    assert empty["postings"] == [] and empty["totals"]["accrued_fen"] == 13136
    now = client.get(
        household_trail_url(earning_member) + f"?from={today}&to={today}",
        headers=money.admin_headers,
    ).json
    assert len(now["postings"]) == 3


@pytest.mark.parametrize("query", ["?from=yesterday", "?from=2026-02-01&to=2026-01-01"])
def test_a_bad_period_is_422(client, money, earning_member, query):
    response = client.get(household_trail_url(earning_member) + query, headers=money.admin_headers)
    assert response.status_code == 422
    assert set(response.json["errors"]) & {"from", "to"}


def test_a_trail_that_ends_before_it_starts_says_so(client, money, earning_member):
    query = "?from=2026-02-01&to=2026-01-01"
    response = client.get(household_trail_url(earning_member) + query, headers=money.admin_headers)
    assert response.json["errors"] == {"to": ["must not be before 'from'"]}
    assert response.json["reasons"] == {"to": [{"code": "trail.to_before_from", "params": {}}]}


def test_household_trails_are_scoped(client, shop, money, earning_member, make_household, regions):
    url = household_trail_url(earning_member)
    assert client.get(url).status_code == 401
    assert client.get(url, headers=shop.buyer_headers).status_code == 403
    assert client.get(url, headers=shop.station_headers).status_code == 200
    for headers in (
        shop.other_station_headers,
        money.official_b_headers,
        money.official_far_headers,
    ):
        hidden = client.get(url, headers=headers)
        assert hidden.status_code == 404 and "社员" not in hidden.text


def test_a_household_with_no_income_has_an_empty_trail(client, money, make_household, regions):
    quiet = make_household(regions.village_a2)
    body = client.get(household_trail_url(quiet), headers=money.admin_headers).json
    assert body["postings"] == []
    assert body["totals"]["owed_fen"] == 0
