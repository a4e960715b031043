"""Closing a month: the report is frozen as it stood, a refund afterwards changes nothing in it
and lands to the fen in the next open month as an adjustment, reopening takes an admin and a
reason, and who may close what."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.closes.models import MonthCloseEvent
from marketplace.ledger.models import JournalEntry
from marketplace.periods import next_month
from marketplace.reports import closing
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)

INCOME = "/api/v1/reports/income"
CLOSES = "/api/v1/reports/closes"


@pytest.fixture
def month_over(monkeypatch):
    """This month, treated as over: closing asks whether its last day has passed."""
    this_month = shanghai_today().replace(day=1)
    later = next_month(this_month) + timedelta(days=3)
    monkeypatch.setattr(closing, "shanghai_today", lambda: later)
    return this_month.strftime("%Y-%m"), next_month(this_month).strftime("%Y-%m")


def income(client, headers, region, period):
    response = client.get(
        INCOME, query_string={"region_id": region.id, "period": period}, headers=headers
    )
    assert response.status_code == 200, response.json
    return response.json


def close(client, headers, region, month):
    return client.post(CLOSES, json={"region_id": region.id, "month": month}, headers=headers)


def test_a_refund_after_the_close_lands_in_the_next_open_month(
    client,
    session,
    shop,
    money,
    pay,
    regions,
    month_over,
):
    this_month, next_one = month_over
    order = pay((shop.sku_500g, 2))
    before = income(client, money.official_headers, regions.county, this_month)
    assert before["close"] is None and before["totals"]["net_fen"] > 0
    closed = close(client, money.official_headers, regions.county, this_month)
    assert closed.status_code == 201, closed.json
    assert closed.json["closed"] is True and closed.json["month"] == this_month

    frozen = income(client, money.official_headers, regions.county, this_month)
    assert frozen["close"]["region_id"] == regions.county.id
    assert frozen["totals"] == before["totals"]

    line = order["lines"][0]
    refunded = client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "坏果", "lines": [{"order_line_id": line["id"], "quantity": 1}]},
        headers=shop.station_headers,
    )
    assert refunded.status_code == 201, refunded.json
    # The closed month did not change, and its ledger did not either.
    after = income(client, money.official_headers, regions.county, this_month)
    assert after["totals"] == before["totals"]
    entry = session.execute(
        sa.select(JournalEntry).where(JournalEntry.refund_id == refunded.json["id"])
    ).scalar_one()
    assert entry.adjusts_month.strftime("%Y-%m") == this_month
    assert entry.effective_on.strftime("%Y-%m") == next_one and entry.effective_on.day == 1
    # The next month shows it, to the fen, as an adjustment of the closed one.
    following = income(client, money.official_headers, regions.county, next_one)
    reversed_income = -following["totals"]["net_fen"]
    assert following["totals"]["refunds_fen"] == reversed_income > 0
    assert following["adjustments"] == [{"month": this_month, "net_fen": -reversed_income}]
    # So do the township and the village below the closed county.
    village = income(client, money.official_headers, regions.village_a1, this_month)
    assert village["close"] is not None
    assert village["totals"]["net_fen"] == before["totals"]["net_fen"]


def test_reopening_takes_an_admin_and_a_reason(client, shop, money, pay, regions, month_over):
    this_month, _ = month_over
    pay((shop.sku_500g, 1))
    made = close(client, money.official_headers, regions.township_a, this_month).json
    url = f"{CLOSES}/{made['id']}/reopen"
    assert (
        client.post(url, json={"reason": "重算"}, headers=money.official_headers).status_code == 403
    )
    assert client.post(url, json={}, headers=money.admin_headers).status_code == 422
    reopened = client.post(url, json={"reason": "合作社分红比例录错"}, headers=money.admin_headers)
    assert reopened.status_code == 200, reopened.json
    assert (
        reopened.json["closed"] is False and reopened.json["reopen_reason"] == "合作社分红比例录错"
    )
    assert income(client, money.official_headers, regions.township_a, this_month)["close"] is None
    twice = client.post(url, json={"reason": "x"}, headers=money.admin_headers)
    assert twice.status_code == 409
    assert (twice.json["code"], twice.json["params"]) == (
        "month_close.reopened_already",
        {"close_id": made["id"]},
    )
    gone = client.post(f"{CLOSES}/999999/reopen", json={"reason": "x"}, headers=money.admin_headers)
    assert gone.status_code == 404 and gone.json["code"] == "month_close.not_found"
    listed = client.get(CLOSES, headers=money.official_headers).json
    assert [c["id"] for c in listed] == [made["id"]]
    # It can be closed again.
    assert close(client, money.official_headers, regions.township_a, this_month).status_code == 201


def test_what_may_be_closed_and_by_whom(client, session, shop, money, regions, month_over):
    this_month, next_one = month_over
    # Not over yet.
    early = close(client, money.admin_headers, regions.county, next_one)
    assert early.status_code == 409
    assert (early.json["code"], early.json["params"]) == (
        "month_close.too_early",
        {"month": next_one},
    )
    not_over = {"code": "month_close.month_not_over", "params": {}}
    assert early.json["reasons"] == {"month": [not_over]}
    # Outside the official's subtree; a station never.
    assert (
        close(client, money.official_b_headers, regions.township_a, this_month).status_code == 404
    )
    assert close(client, shop.station_headers, regions.county, this_month).status_code == 403
    # Closed above: closed here too.
    assert close(client, money.official_headers, regions.county, this_month).status_code == 201
    again = close(client, money.official_b_headers, regions.village_b1, this_month)
    assert again.status_code == 409 and again.json["errors"] == {"month": ["closed already"]}
    assert (again.json["code"], again.json["params"]) == (
        "month_close.closed_already",
        {"month": this_month, "region_name": regions.village_b1.name},
    )
    assert again.json["reasons"] == {"month": [{"code": "month_close.month_closed", "params": {}}]}
    bad = client.post(
        CLOSES,
        json={"region_id": regions.county.id, "month": "2025-Q3"},
        headers=money.admin_headers,
    )
    assert bad.status_code == 422 and "month" in bad.json["errors"]
    events = session.execute(sa.select(MonthCloseEvent.action)).scalars().all()
    assert events == ["closed"]


def test_the_command_line_closes_a_month(app, session, shop, money, regions, month_over):
    this_month, _ = month_over
    result = app.test_cli_runner().invoke(
        args=[
            "reports",
            "close-month",
            "--region",
            str(regions.county.id),
            "--month",
            this_month,
            "--as",
            money.official.username,
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"Closed {this_month}" in result.output


def test_a_close_reads_the_channels_of_its_subtree_once(
    client, shop, money, pay, regions, month_over, count_queries
):
    """A county's close freezes the channel report of every region below it (two hundred for
    a generated county): read region by region, each went over the month's postings again, and
    a county's close ran past a worker's timeout. The subtree's are read in one go."""
    this_month, _ = month_over
    pay((shop.sku_500g, 2))
    with count_queries() as counted:
        closed = close(client, money.official_headers, regions.county, this_month)
    assert closed.status_code == 201, closed.json
    over_origins = [s for s in counted.statements if "origin_village_id" in s]
    assert len(over_origins) == 1  # the money and the orders attributed, in one read
