"""Producers are paid like households: a co-operative's and an enterprise's own bank account,
set by admins only and every change kept; their lines in the bank's batch file beside the
households'; settled by the bank's return for organisations' accounts (the sample in
``data/org_bank_return.txt``), matched on credit code, account number and batch serial."""

import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.ledger import journal
from marketplace.payouts import bank_txt
from marketplace.producers.models import ProducerKind
from marketplace.reports import reconciliation
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.orders.conftest import place, shop  # noqa: F401  (shared fixtures)
from tests.payouts.conftest import DATA
from tests.payouts.test_settlement import RUNS, approved_run, days_ago, upload

SERIAL = "5f0c2e9a-0000-4000-8000-00000000e001"
COOP_ACCOUNT, COMPANY_ACCOUNT = "6228480088000000001", "6228480088000000002"


def _owed(session, key: str, fen: int) -> None:
    journal.write_entries(
        session,
        [
            journal.Entry(
                kind="attribution",
                effective_on=days_ago(5),
                legs=[
                    journal.Leg(journal.gateway_clearing("offline"), fen),
                    journal.Leg(key, -fen),
                ],
            )
        ],
    )


def _account(client, producer, headers, number, name):
    return client.put(
        f"/api/v1/producers/{producer.id}/payout-account",
        json={"bank_name": "吉林省农村信用社", "account_name": name, "account_number": number},
        headers=headers,
    )


def test_a_run_pays_a_coop_and_an_enterprise_through_the_bank_and_settles_them_from_its_return(
    client, session, people, regions, make_station, make_producer, balance
):
    station = make_station(regions.village_a1)
    coop = make_producer(
        station,
        kind=ProducerKind.cooperative,
        name="青松县靠山屯蓝莓种植专业合作社",
        credit_code="93220524MA0000001X",
    )
    company = make_producer(
        station,
        kind=ProducerKind.enterprise,
        name="青松县长白山参业有限公司",
        credit_code="91220524MA0000002Y",
    )
    _owed(session, journal.coop_retained(coop.id), 7_000)
    _owed(session, journal.producer_payable(company.id), 4_550)

    # Only admins set where an organisation's money goes.
    refused = _account(client, coop, people.approver_headers, COOP_ACCOUNT, coop.name)
    assert refused.status_code == 403
    first = _account(client, coop, people.admin_headers, "6228480088000000999", coop.name)
    assert first.status_code == 200, first.json
    changed = _account(client, coop, people.admin_headers, COOP_ACCOUNT, coop.name)
    assert changed.json["account_number"] == COOP_ACCOUNT  # in full, for an admin
    assert _account(client, company, people.admin_headers, COMPANY_ACCOUNT, company.name).json
    seen = client.get(
        f"/api/v1/producers/{coop.id}/payout-account", headers=people.approver_headers
    )
    assert seen.json["account_number"] == "622************0001"
    changes = client.get(
        f"/api/v1/producers/{coop.id}/payout-account/changes", headers=people.admin_headers
    ).json
    assert [c["before"] and c["before"]["account_masked"] for c in changes] == [
        "622************0999",
        None,
    ]
    assert changes[0]["after"]["account_masked"] == "622************0001"
    assert all(c["changed_by_id"] == people.admin.id for c in changes)

    run = approved_run(client, people, regions, batch_serial=SERIAL)
    lines = {line["producer_id"]: line for line in run["lines"]}
    assert lines[coop.id]["credit_code"] == "93220524MA0000001X"
    assert lines[company.id]["holder_name"] == company.name
    batch = client.get(f"{RUNS}/{run['id']}/files/bank.txt", headers=people.approver_headers)
    assert batch.status_code == 200, batch.get_data()
    transfers = {t.account_number: t for t in bank_txt.read_bank_txt(batch.get_data())}
    assert transfers[COOP_ACCOUNT].amount_fen == 7_000
    assert transfers[COMPANY_ACCOUNT].payee_name == company.name
    # Sent in the bank's batch: not settled by hand.
    by_hand = client.post(
        f"{RUNS}/{run['id']}/lines/{lines[coop.id]['id']}/outcome",
        json={"outcome": "paid"},
        headers=people.approver_headers,
    )
    assert by_hand.status_code == 409

    returned = upload(
        client, run["id"], (DATA / "org_bank_return.txt").read_bytes(), people.admin_headers
    )
    assert returned.status_code == 200, returned.json
    counted = returned.json["return_import"]
    assert (counted["succeeded"], counted["failed"]) == (1, 1)
    settled = {line["producer_id"]: line for line in returned.json["run"]["lines"]}
    assert settled[coop.id]["status"] == "paid"
    assert settled[company.id]["status"] == "failed"
    assert settled[company.id]["failure_reason"] == "账户已销户"
    assert returned.json["run"]["status"] == "settled"
    assert balance(journal.coop_retained(coop.id)) == 0
    # The enterprise is owed its money again, for a later run once its account is corrected.
    assert balance(journal.producer_payable(company.id)) == -4_550
    again = upload(
        client, run["id"], (DATA / "org_bank_return.txt").read_bytes(), people.admin_headers
    )
    assert again.json["replayed"] is True
    assert balance(journal.PAYOUTS_IN_TRANSIT) == 0 and balance(journal.DISBURSED) == -7_000


def test_a_return_row_that_matches_no_line_refuses_the_whole_file(
    client, session, people, regions, make_station, make_producer
):
    station = make_station(regions.village_a1)
    coop = make_producer(station, kind=ProducerKind.cooperative, credit_code="93220524MA0000001X")
    _owed(session, journal.coop_retained(coop.id), 7_000)
    assert _account(client, coop, people.admin_headers, COOP_ACCOUNT, coop.name).status_code == 200
    run = approved_run(client, people, regions, batch_serial=SERIAL)
    # The sample also answers an enterprise this run never paid.
    refused = upload(
        client, run["id"], (DATA / "org_bank_return.txt").read_bytes(), people.admin_headers
    )
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["rows.2"]
    line = session.execute(sa.text("SELECT status FROM payout_lines")).scalar_one()
    assert line == "in_transit"


def test_a_producer_without_a_credit_code_gets_no_account(
    client, people, regions, make_station, make_producer
):
    coop = make_producer(make_station(regions.village_a1), credit_code=None)
    refused = _account(client, coop, people.admin_headers, COOP_ACCOUNT, coop.name)
    assert refused.status_code == 422 and "producer_id" in refused.json["errors"]


def test_a_coops_earnings_from_real_sales_paid_through_the_bank_keep_the_ledger_reconciled(
    client, session, shop, money, pay, people, regions, balance
):
    """The same path from sales paid at the counter (no fabricated accruals), so that the
    whole ledger reconciles after the co-op's retained earnings went out and came back paid."""
    pay((shop.sku_500g, 3))
    retained = journal.coop_retained(shop.producer.id)
    owed = -balance(retained)
    assert owed > 0
    number = "6228480088000000777"
    assert _account(client, shop.producer, people.admin_headers, number, "靠山屯合作社").json
    # Sold today: a run up to today pays it.
    today = shanghai_today().isoformat()
    run = approved_run(client, people, regions, batch_serial=SERIAL, period_end=today)
    (line,) = [line for line in run["lines"] if line["producer_id"] == shop.producer.id]
    assert line["amount_fen"] == owed
    batch = client.get(f"{RUNS}/{run['id']}/files/bank.txt", headers=people.approver_headers)
    (transfer,) = [
        t for t in bank_txt.read_bank_txt(batch.get_data()) if t.account_number == number
    ]
    answer = "\r\n".join(
        [
            bank_txt.ORG_RETURN_HEADER,
            f"{SERIAL},{shop.producer.credit_code},{number},{transfer.payee_name},"
            f"{transfer.amount_fen / 100:.2f},成功,",
        ]
    ).encode("gbk")
    returned = upload(client, run["id"], answer, people.admin_headers)
    assert returned.status_code == 200, returned.json
    assert balance(retained) == 0
    assert reconciliation.run(session).differences == []
