"""`flask ledger check`: silent and 0 on a consistent ledger; each kind of inconsistency
named, and exit status 1."""

from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import EntryKind, JournalEntry, Posting
from marketplace.orders.models import Order, PaymentStatus
from marketplace.payments.models import Payment
from marketplace.reports import reconciliation as check
from tests.orders.conftest import basket
from tests.platform_sales.jobs_inline import run_inline


@pytest.fixture
def busy_ledger(client, shop, money, pay, regions):
    """Paid orders at both stations, a partial refund, a fund given to a household."""
    first = pay((shop.sku_500g, 2), (shop.sku_1kg, 1))
    pay((shop.sku_ginseng, 1), headers=shop.other_station_headers)
    line = first["lines"][0]
    refunded = client.post(
        f"/api/v1/orders/{first['id']}/refunds",
        json={"reason": "少发", "lines": [{"order_line_id": line["id"], "quantity": 1}]},
        headers=shop.station_headers,
    )
    assert refunded.status_code == 201, refunded.json
    fund = client.post(
        "/api/v1/funds",
        json={"name": "检查基金", "source": "other", "region_id": regions.county.id},
        headers=money.admin_headers,
    ).json
    client.post(
        f"/api/v1/funds/{fund['id']}/contributions",
        json={"amount_fen": 9000, "contributor": "x", "reference": "C-1"},
        headers=money.admin_headers,
    )
    given = client.post(
        f"/api/v1/funds/{fund['id']}/disbursements",
        json={
            "mode": "fixed",
            "memo": "m",
            "amount_each_fen": 3000,
            "household_ids": [m.id for m in money.members],
        },
        headers=money.admin_headers,
    )
    assert given.status_code == 201
    return first


def run_command(app):
    return app.test_cli_runner().invoke(args=["ledger", "check"])


def test_a_consistent_ledger_passes_with_a_summary(app, session, busy_ledger):
    report = check.run(session)
    assert report.differences == []
    assert report.orders == 2 and report.gateways == 1
    result = run_command(app)
    assert result.exit_code == 0, result.output
    assert "ledger consistent" in result.output


def test_a_capture_missing_from_the_ledger_is_found(app, session, busy_ledger):
    # The payments say more was captured than the ledger ever received.
    session.execute(
        sa.update(Payment)
        .where(Payment.order_id == busy_ledger["id"])
        .values(captured_fen=Payment.captured_fen + 500, amount_fen=Payment.amount_fen + 500)
    )
    differences = check.run(session).differences
    assert any(f"order {busy_ledger['id']}: payments hold" in d for d in differences)
    assert any(d.startswith("gateway offline:") for d in differences)
    result = run_command(app)
    assert result.exit_code == 1
    assert "gateway offline" in result.output


def test_an_unbalanced_entry_and_a_zero_posting_are_found(app, session, busy_ledger):
    # Written past the application's guard (SQLite has no database-level one for inserts).
    accounts = journal.account_ids(session, [journal.SUSPENSE, journal.PLATFORM_FEE])
    entry_id = session.execute(
        sa.insert(JournalEntry)
        .values(kind=EntryKind.late_capture, effective_on=date(2026, 1, 5))
        .returning(JournalEntry.id)
    ).scalar_one()
    session.execute(
        sa.insert(Posting),
        [
            {
                "entry_id": entry_id,
                "account_id": accounts[journal.SUSPENSE],
                "amount_fen": 100,
                "effective_on": date(2026, 1, 5),
            },
            {
                "entry_id": entry_id,
                "account_id": accounts[journal.PLATFORM_FEE],
                "amount_fen": -90,
                "effective_on": date(2026, 1, 5),
            },
        ],
    )
    differences = check.run(session).differences
    assert differences == [f"entry {entry_id} (late_capture): postings sum to 10 fen, not 0"]
    assert run_command(app).exit_code == 1


def test_a_household_paid_more_than_it_accrued_is_found(session, money, busy_ledger):
    member = money.members[0]
    owed = -journal.balances(session, [journal.household_income(member.id)])[
        journal.household_income(member.id)
    ]
    journal.write_entries(
        session,
        [
            Entry(
                kind=EntryKind.payout_approved,
                effective_on=date(2026, 1, 5),
                legs=[
                    Leg(journal.household_income(member.id), owed + 1, household_id=member.id),
                    Leg(journal.PAYOUTS_IN_TRANSIT, -(owed + 1)),
                ],
            )
        ],
    )
    differences = check.run(session).differences
    assert f"household_income:{member.id} is 1 fen in debit" in " ".join(differences)
    # and no payout line stands behind that money in transit
    assert any(d.startswith("payouts in transit") for d in differences)


def test_a_paid_order_without_attribution_is_found(client, session, shop, money, place):
    order = place(shop.buyer_headers, basket((shop.sku_500g, 1))).json
    session.execute(
        sa.update(Order).where(Order.id == order["id"]).values(payment_status=PaymentStatus.paid)
    )
    differences = check.run(session).differences
    assert differences == [
        f"order {order['id']} ({order['number']}) is paid but was never attributed"
    ]


def test_the_check_takes_a_fixed_number_of_statements(session, shop, money, pay, count_queries):
    pay((shop.sku_500g, 1))
    with count_queries() as one:
        check.run(session)
    for _ in range(3):
        pay((shop.sku_500g, 1))
    with count_queries() as four:
        check.run(session)
    assert one.count == four.count


def test_admins_read_the_same_findings_over_http(client, session, busy_ledger, money, shop):
    response = client.get("/api/v1/reconciliation", headers=money.admin_headers)
    assert response.status_code == 200, response.json
    assert response.json["ok"] is True and response.json["differences"] == []
    assert response.json["summary"] == check.run(session).summary()
    session.execute(
        sa.update(Payment)
        .where(Payment.order_id == busy_ledger["id"])
        .values(captured_fen=Payment.captured_fen + 1)
    )
    broken = client.get("/api/v1/reconciliation", headers=money.admin_headers).json
    assert broken["ok"] is False and broken["differences"] == check.run(session).differences
    assert client.get("/api/v1/reconciliation", headers=money.official_headers).status_code == 403
    assert client.get("/api/v1/reconciliation", headers=shop.station_headers).status_code == 403


@pytest.fixture
def large_ledger_threshold(app):
    app.config["RECONCILIATION_JOB_POSTINGS"] = 1
    yield
    app.config["RECONCILIATION_JOB_POSTINGS"] = 1_000_000


def test_a_large_ledger_is_checked_by_a_job_with_the_same_findings(
    client, session, busy_ledger, money, large_ledger_threshold
):
    """Past RECONCILIATION_JOB_POSTINGS the check would outlast a request (a minute at ten
    million postings): 202 and the job's link, and the job's result is the body the request
    would have answered, a difference found included."""
    session.execute(
        sa.update(Payment)
        .where(Payment.order_id == busy_ledger["id"])
        .values(captured_fen=Payment.captured_fen + 1)
    )
    started = client.get("/api/v1/reconciliation", headers=money.admin_headers)
    assert started.status_code == 202, started.json
    assert started.headers["Location"] == f"/api/v1/jobs/{started.json['id']}"
    assert (started.json["kind"], started.json["state"]) == ("reconciliation", "queued")
    run_inline(started.json["id"])
    seen = client.get(started.headers["Location"], headers=money.admin_headers).json
    assert seen["state"] == "succeeded", seen
    found = check.run(session)
    assert seen["result"] == check.as_body(found)
    assert seen["result"]["ok"] is False and seen["result"]["differences"]
    assert client.get("/api/v1/reconciliation", headers=money.official_headers).status_code == 403
