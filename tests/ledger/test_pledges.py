"""Pledges: promised in a session, funded from the payer's account when it ends, disbursed once
a second user approves, never funded or disbursed twice, refused with the figures when the
payer is owed less."""

import pytest
import sqlalchemy as sa

from marketplace.ledger import journal
from marketplace.ledger.models import FundContribution, FundDisbursement, LedgerAccount, Posting
from marketplace.reports import reconciliation
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.livestreams.conftest import SESSIONS, live, official  # noqa: F401  (shared fixtures)


def household_income(session, household_id) -> int:
    key = journal.household_income(household_id)
    return -journal.balances(session, [key])[key]


@pytest.fixture
def campaign(client, session, shop, money, pay, make_product, make_household, regions, live):
    """A live session of the co-op's station; the co-op sold a 60,000-yuan lot at the counter,
    so it is owed its retained share (20% of the net); twenty households of its village."""
    lot = make_product(
        shop.station,
        shop.producer,
        name="红松子整车",
        skus=[{"spec": "整车", "price_fen": 6_000_000, "stock": 3}],
    )
    lot_sku = lot.skus_created[0]
    lot_order = pay((lot_sku, 1))
    # The station's village: the households it works with.
    households = [make_household(regions.village_a1) for _ in range(20)]
    scheduled = live.schedule(title="县长来了：红松子专场")
    live.start(scheduled)

    retained = journal.coop_retained(shop.producer.id)
    owed = -journal.balances(session, [retained])[retained]

    class Campaign:
        session = scheduled
        household_ids = [h.id for h in households]
        lot = lot_order

    Campaign.lot_sku = lot_sku

    Campaign.owed = owed

    return Campaign


def pledge_500_each(client, shop, campaign, **over):
    body = {
        "kind": "per_household",
        "payer_kind": "producer",
        "producer_id": shop.producer.id,
        "amount_each_fen": 50000,
        "household_ids": campaign.household_ids,
        "memo": "每户500元，从合作社销售收益中支出",
    }
    body.update(over)
    return client.post(
        f"{SESSIONS}/{campaign.session['id']}/pledges", json=body, headers=shop.station_headers
    )


def test_500_yuan_to_each_of_20_households_after_a_second_user_approves(
    client,
    session,
    shop,
    money,
    campaign,
    live,
):
    assert campaign.owed >= 1_000_000
    made = pledge_500_each(client, shop, campaign)
    assert made.status_code == 201, made.json
    pledge = made.json
    assert pledge["state"] == "pledged" and len(pledge["households"]) == 20

    ended = live.end(campaign.session)
    assert ended["state"] == "ended"
    funded = client.get(f"/api/v1/pledges/{pledge['id']}", headers=shop.station_headers).json
    assert funded["state"] == "funded" and funded["amount_fen"] == 1_000_000
    assert funded["proposed_by_id"] == shop.station_user.id
    contribution = session.execute(
        sa.select(FundContribution).where(FundContribution.fund_id == funded["fund_id"])
    ).scalar_one()
    assert contribution.amount_fen == 1_000_000
    # The co-op's retained earnings paid it.
    retained = journal.coop_retained(shop.producer.id)
    assert -journal.balances(session, [retained])[retained] == campaign.owed - 1_000_000
    assert all(household_income(session, i) == 0 for i in campaign.household_ids)

    # Funded once: a second funding is refused.
    again = client.post(f"/api/v1/pledges/{pledge['id']}/fund", headers=shop.station_headers)
    assert again.status_code == 409

    # The station proposed it; it cannot approve (its role), nor could its maker.
    assert (
        client.post(
            f"/api/v1/pledges/{pledge['id']}/approve", headers=shop.station_headers
        ).status_code
        == 403
    )
    approved = client.post(
        f"/api/v1/pledges/{pledge['id']}/approve", headers=money.official_headers
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "disbursed"
    assert approved.json["approved_by_id"] == money.official.id
    incomes = [household_income(session, i) for i in campaign.household_ids]
    assert incomes == [50000] * 20 and sum(incomes) == 1_000_000

    twice = client.post(f"/api/v1/pledges/{pledge['id']}/approve", headers=shop.admin_headers)
    assert twice.status_code == 409
    disbursements = session.execute(
        sa.select(FundDisbursement).where(FundDisbursement.fund_id == funded["fund_id"])
    ).all()
    assert len(disbursements) == 1
    assert reconciliation.run(session).differences == []


def test_the_maker_cannot_approve(client, shop, money, campaign, live):
    pledge = pledge_500_each(client, shop, campaign).json
    live.end(campaign.session, headers=shop.admin_headers)
    refused = client.post(f"/api/v1/pledges/{pledge['id']}/approve", headers=shop.admin_headers)
    assert refused.status_code == 403
    assert "proposed" in refused.json["detail"]
    assert (
        client.post(
            f"/api/v1/pledges/{pledge['id']}/approve", headers=money.admin2_headers
        ).status_code
        == 200
    )


def test_a_pledge_beyond_what_the_payer_is_owed_is_refused_with_the_figures(
    client, session, shop, campaign
):
    too_much = campaign.owed // 20 + 1
    response = pledge_500_each(client, shop, campaign, amount_each_fen=too_much)
    assert response.status_code == 409, response.json
    problem = response.json
    assert problem["owed_fen"] == campaign.owed
    assert problem["pledged_fen"] == too_much * 20
    assert problem["shortfall_fen"] == too_much * 20 - campaign.owed
    assert "amount_each_fen" in problem["errors"]
    assert problem["code"] == "pledge.payer_owed_too_little"
    assert problem["reasons"]["amount_each_fen"] == [
        {
            "code": "pledge.amount_above_owed",
            "params": {"pledged_fen": too_much * 20, "owed_fen": campaign.owed},
        }
    ]


def test_a_share_of_the_net_sales_to_a_village(
    client, session, shop, money, campaign, live, place, regions
):
    from tests.orders.conftest import basket

    # Two live orders of the co-op's blueberries, paid at the counter.
    code = campaign.session["code"]
    for _ in range(2):
        order = place(shop.buyer_headers, basket((shop.sku_500g, 1), livestream_code=code)).json
        paid = client.post(
            f"/api/v1/orders/{order['id']}/offline-payments",
            json={"method": "cash", "reference": f"LIVE-{order['id']}", "amount_fen": 6800},
            headers=shop.station_headers,
        )
        assert paid.status_code == 201, paid.json
    made = client.post(
        f"{SESSIONS}/{campaign.session['id']}/pledges",
        json={
            "kind": "share_of_net",
            "payer_kind": "outside",
            "payer_name": "县商务局",
            "share_bp": 1000,
            "village_id": regions.village_a1.id,
            "memo": "本场净销售额的10%给靠山屯建档立卡户，平均分配",
        },
        headers=shop.station_headers,
    )
    assert made.status_code == 201, made.json
    live.end(campaign.session)
    # A Douyin session: its share waits for the platform's export, and the station funds it.
    waiting = client.get(f"/api/v1/pledges/{made.json['id']}", headers=shop.station_headers)
    assert waiting.json["state"] == "pledged"
    assert "douyin" in waiting.json["not_funded"]["reason"]
    assert waiting.json["not_funded"]["code"] == "pledge.awaits_platform_import"
    in_chinese = client.get(
        f"/api/v1/pledges/{made.json['id']}",
        headers={**shop.station_headers, "Accept-Language": "zh-CN"},
    )
    assert in_chinese.json["not_funded"]["reason"] == (
        "这项承诺按本场直播净销售额的比例计算，而销售大多在 douyin 上："
        "请导入该平台本场的销售数据后再落实"
    )
    funded = client.post(f"/api/v1/pledges/{made.json['id']}/fund", headers=shop.station_headers)
    assert funded.status_code == 200, funded.json
    pledge = funded.json
    assert pledge["state"] == "funded"
    assert pledge["basis_fen"] == 13600 and pledge["amount_fen"] == 1360
    amounts = [h["amount_fen"] for h in pledge["households"]]
    # The village's 23 households (the co-op's 3 members and 20 more) share it equally, to
    # the fen: 1360 = 3 × 60 + 20 × 59.
    assert len(amounts) == 23 and sum(amounts) == 1360 and sorted(set(amounts)) == [59, 60]
    outside = session.execute(
        sa.select(sa.func.sum(Posting.amount_fen))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.key == journal.fund_source(pledge["fund_id"]))
    ).scalar_one()
    assert outside == 1360


def test_pledges_are_made_before_the_session_ends(client, shop, campaign, live):
    live.end(campaign.session)
    late = pledge_500_each(client, shop, campaign)
    assert late.status_code == 409


def test_a_pledge_the_end_cannot_fund_waits_with_its_figures(client, shop, campaign, live):
    # Two pledges each within what the co-op is owed, but not both.
    each = (campaign.owed * 6 // 10) // 20
    first = pledge_500_each(client, shop, campaign, amount_each_fen=each).json
    second = pledge_500_each(client, shop, campaign, amount_each_fen=each).json
    live.end(campaign.session)
    read = {
        p["id"]: p
        for p in client.get(
            f"{SESSIONS}/{campaign.session['id']}/pledges", headers=shop.station_headers
        ).json
    }
    assert read[first["id"]]["state"] == "funded"
    waiting = read[second["id"]]
    assert waiting["state"] == "pledged" and waiting["fund_id"] is None
    owed_now = campaign.owed - each * 20
    assert "owed" in waiting["not_funded"].pop("reason")
    figures = {
        "owed_fen": owed_now,
        "pledged_fen": each * 20,
        "shortfall_fen": each * 20 - owed_now,
    }

    def yuan(fen):
        return f"{fen // 100}.{fen % 100:02d}"

    params = waiting["not_funded"].pop("params")
    assert waiting["not_funded"] == {"code": "pledge.payer_owed_too_little", **figures}
    assert params["owed_yuan"] == yuan(owed_now)
    # The reason reads in the station's language.
    in_chinese = client.get(
        f"/api/v1/pledges/{second['id']}",
        headers={**shop.station_headers, "Accept-Language": "zh-CN"},
    ).json["not_funded"]
    assert in_chinese["reason"] == (
        f"应付给 {params['payer']} 的款项只有 {yuan(owed_now)} 元，"
        f"这项承诺需要 {yuan(each * 20)} 元，还差 {yuan(each * 20 - owed_now)} 元。"
    )
    retry = client.post(f"/api/v1/pledges/{second['id']}/fund", headers=shop.station_headers)
    assert retry.status_code == 409 and retry.json["shortfall_fen"] == each * 20 - owed_now


def test_a_share_that_comes_to_nothing_does_not_hold_the_end_up(
    client, shop, campaign, live, regions
):
    own = live.schedule(platform="own", room_id="own-room")
    live.start(own)
    made = client.post(
        f"{SESSIONS}/{own['id']}/pledges",
        json={
            "kind": "share_of_net",
            "payer_kind": "outside",
            "payer_name": "县商务局",
            "share_bp": 200,
            "village_id": regions.village_a1.id,
            "memo": "2%",
        },
        headers=shop.station_headers,
    ).json
    assert live.end(own)["state"] == "ended"
    waiting = client.get(f"/api/v1/pledges/{made['id']}", headers=shop.station_headers).json
    assert waiting["state"] == "pledged" and "comes to nothing" in waiting["not_funded"]["reason"]


def test_a_pledges_fund_gives_only_through_the_pledge(client, shop, money, campaign, live):
    pledge = pledge_500_each(client, shop, campaign).json
    live.end(campaign.session, headers=shop.admin_headers)
    fund_id = client.get(f"/api/v1/pledges/{pledge['id']}", headers=shop.admin_headers).json[
        "fund_id"
    ]
    assert client.get(f"/api/v1/funds/{fund_id}", headers=shop.admin_headers).json["bound"]
    # The admin who ended the session (the maker) cannot hand the money out alone.
    alone = client.post(
        f"/api/v1/funds/{fund_id}/disbursements",
        json={
            "mode": "fixed",
            "memo": "m",
            "amount_each_fen": 1_000_000,
            "household_ids": [money.members[0].id],
        },
        headers=shop.admin_headers,
    )
    assert alone.status_code == 409, alone.json
    topped = client.post(
        f"/api/v1/funds/{fund_id}/contributions",
        json={"amount_fen": 100, "contributor": "x", "reference": "X-1"},
        headers=shop.admin_headers,
    )
    assert topped.status_code == 409
    approved = client.post(f"/api/v1/pledges/{pledge['id']}/approve", headers=money.admin2_headers)
    assert approved.status_code == 200 and approved.json["state"] == "disbursed"


def test_whoever_recorded_a_pledge_cannot_approve_it_whoever_funded_it(
    client, shop, money, campaign, live
):
    """An admin records the pledge and the station ends the session (which funds it, the
    station proposing the disbursement): the admin made the pledge all the same."""
    body = {
        "kind": "per_household",
        "payer_kind": "producer",
        "producer_id": shop.producer.id,
        "amount_each_fen": 50000,
        "household_ids": campaign.household_ids,
        "memo": "每户500元",
    }
    made = client.post(
        f"{SESSIONS}/{campaign.session['id']}/pledges", json=body, headers=shop.admin_headers
    )
    assert made.status_code == 201, made.json
    live.end(campaign.session)
    url = f"/api/v1/pledges/{made.json['id']}/approve"
    refused = client.post(url, headers=shop.admin_headers)
    assert refused.status_code == 403
    assert refused.json["code"] == "pledge.approver_is_proposer"
    assert client.post(url, headers=money.admin2_headers).status_code == 200


def test_a_refund_after_the_pledge_was_paid_leaves_a_receivable_later_proceeds_settle(
    client, session, shop, money, campaign, live, pay
):
    """The rule: the pledge stands (its households keep what they were given); the refund
    takes back the co-op's share of the lot, which the pledge had drawn on, so the co-op owes
    the difference; the session's results show it, and its later sales settle it."""
    pledge = pledge_500_each(client, shop, campaign).json
    live.end(campaign.session)
    approved = client.post(
        f"/api/v1/pledges/{pledge['id']}/approve", headers=money.official_headers
    )
    assert approved.json["state"] == "disbursed"
    results_url = f"{SESSIONS}/{campaign.session['id']}/results"
    before = client.get(results_url, headers=shop.station_headers).json
    assert before["pledges"][0]["payer_receivable_fen"] == 0

    refunded = client.post(
        f"/api/v1/orders/{campaign.lot['id']}/refunds",
        json={"reason": "整车退货"},
        headers=shop.station_headers,
    )
    assert refunded.status_code == 201, refunded.json
    retained = journal.coop_retained(shop.producer.id)
    owed = -journal.balances(session, [retained])[retained]
    # The lot's share went back; the 10,000 yuan given to the households did not.
    assert owed == campaign.owed - 1_000_000 - campaign.owed
    after = client.get(results_url, headers=shop.station_headers).json
    assert after["pledges"][0]["payer_receivable_fen"] == -owed == 1_000_000
    assert [household_income(session, i) for i in campaign.household_ids] == [50000] * 20

    # The co-op sells the lot again: its share settles what it owes.
    pay((campaign.lot_sku, 1))
    settled = client.get(results_url, headers=shop.station_headers).json
    assert settled["pledges"][0]["payer_receivable_fen"] == 0
    assert reconciliation.run(session).differences == []


def test_a_not_funded_reason_without_a_declared_code_stays_as_written():
    from marketplace.ledger.pledges.funding import not_funded_in_language

    written = {"reason": "its share waits for the platform's export"}
    assert not_funded_in_language(written, "zh") == written
    plain = {"reason": "a refusal in plain text", "code": "invalid", "params": {}}
    assert not_funded_in_language(plain, "zh") == plain
    assert not_funded_in_language(None, "zh") is None
