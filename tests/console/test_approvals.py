"""Officials approve, in the console, the payout runs another user proposed: the proposer
cannot approve their own (the service's four-eyes rule, shown on the page)."""

import sqlalchemy as sa

from marketplace.ledger.pledges.models import Pledge, PledgeState
from marketplace.payouts.models import PayoutRun, RunStatus
from tests.console.conftest import csrf_of
from tests.ledger.test_pledges import campaign, household_income, pledge_500_each  # noqa: F401
from tests.livestreams.conftest import live  # noqa: F401  (shared fixtures)
from tests.payouts.conftest import accrue, give_card, people  # noqa: F401  (shared fixtures)
from tests.payouts.test_runs import RUNS, body, village  # noqa: F401  (shared fixtures)


def test_a_run_is_approved_by_a_second_official_never_its_proposer(
    client, session, sign_in, people, regions, village
):
    proposed = client.post(RUNS, json=body(regions), headers=people.proposer_headers)
    assert proposed.status_code == 201, proposed.json
    run_id = proposed.json["run"]["id"]

    sign_in(people.proposer)
    page = client.get("/console/approvals")
    assert f"#{run_id}" in page.text
    own = client.post(f"/console/approvals/runs/{run_id}", data={"csrf_token": csrf_of(page)})
    assert own.status_code == 403 and "提出发放批次的人不能批准" in own.text
    assert session.get(PayoutRun, run_id).status is RunStatus.proposed

    sign_in(people.approver)
    page = client.get("/console/approvals")
    approved = client.post(f"/console/approvals/runs/{run_id}", data={"csrf_token": csrf_of(page)})
    assert approved.status_code == 302
    assert approved.headers["Location"].endswith(f"/console/payouts/{run_id}?done=approve")
    session.expire_all()
    assert session.get(PayoutRun, run_id).status is RunStatus.approved
    assert f"#{run_id}" not in client.get("/console/approvals").text


def test_an_official_of_another_county_sees_no_run_and_cannot_approve_it(
    client, session, sign_in, people, regions, village
):
    run_id = client.post(RUNS, json=body(regions), headers=people.proposer_headers).json["run"][
        "id"
    ]
    sign_in(people.other_county_official)
    page = client.get("/console/approvals")
    assert f"#{run_id}" not in page.text
    refused = client.post(f"/console/approvals/runs/{run_id}", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 404
    status = session.execute(sa.select(PayoutRun.status).where(PayoutRun.id == run_id))
    assert status.scalar_one() is RunStatus.proposed


def test_an_official_approves_a_funded_pledge_and_the_households_have_it(
    client, session, sign_in, shop, money, campaign, live
):
    pledge = pledge_500_each(client, shop, campaign).json
    live.end(campaign.session)
    sign_in(money.official)
    page = client.get("/console/approvals")
    assert f"#{pledge['id']}" in page.text and "每户500元" in page.text
    approved = client.post(
        f"/console/approvals/pledges/{pledge['id']}", data={"csrf_token": csrf_of(page)}
    )
    assert approved.status_code == 302
    session.expire_all()
    assert session.get(Pledge, pledge["id"]).state is PledgeState.disbursed
    assert all(household_income(session, i) == 50000 for i in campaign.household_ids)


def test_the_waiting_pledges_page_through_the_shared_pager(
    client, session, sign_in, shop, money, campaign, live, monkeypatch
):
    from marketplace.console import listing

    # Small enough that the session's proceeds fund both.
    first = pledge_500_each(client, shop, campaign, amount_each_fen=100).json
    second = pledge_500_each(client, shop, campaign, amount_each_fen=100).json
    live.end(campaign.session)
    session.expire_all()
    assert {session.get(Pledge, p["id"]).state for p in (first, second)} == {PledgeState.funded}
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    sign_in(money.official)
    page_one = client.get("/console/approvals")
    assert "直播承诺（2）" in page_one.text
    assert f"#{first['id']}" in page_one.text and f"#{second['id']}" not in page_one.text
    page_two = client.get("/console/approvals?page=2")
    assert f"#{second['id']}" in page_two.text and f"#{first['id']}" not in page_two.text
