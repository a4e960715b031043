"""Downloads of the batch files (audited, approver and admins only), and the bank's return."""

from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from marketplace.ledger import journal
from marketplace.payouts import bank_files, bank_txt
from marketplace.payouts.models import FileDownload, PayoutLine, ReturnImport
from marketplace.producers.models import ProducerKind
from tests.payouts.conftest import DATA, days_ago, return_file

RUNS = "/api/v1/payout-runs"
SAMPLE_SERIAL = "5f0c2e9a-0000-4000-8000-00000000d001"
#: the sample batch's rows: name, ID number, card number, amount in fen
SAMPLE = [
    ("王桂芬", "220581196403120247", "9999001000000000011", 123_640),
    ("李长顺", "220581195807210316", "9999001000000000029", 87_920),
    ("赵秀兰", "220581197101050428", "9999001000000000037", 45_500),
    ("刘德福", "220524196209180134", "9999001000000000045", 154_080),
    ("孙玉梅", "220524196904300281", "9999001000000000052", 31_260),
    ("张铁柱", "220581197506110177", "9999001000000000060", 68_800),
    ("陈淑华", "220524196002220469", "9999001000000000078", 26_450),
    ("周金山", "22058119670809035X", "9999001000000000086", 92_130),
]


@pytest.fixture
def sample_households(regions, make_household, give_card, accrue):
    """The eight households of the sample batch, owed exactly the sample's amounts. The
    sample spans two counties; a run covers one, so all eight live in the first county here
    (the return is matched on ID, card and serial, not on the county's name)."""
    villages = [regions.village_a1, regions.village_a2, regions.village_b1, regions.village_b2]
    households = {}
    for index, (name, id_number, card, amount) in enumerate(SAMPLE):
        household = make_household(
            villages[index % 4], head_name=name, id_number=id_number, phone=f"1380000000{index}"
        )
        give_card(household, card)
        accrue(household.id, amount)
        households[name] = household
    return households


def approved_run(client, people, regions, **over):
    data = {
        "region_id": regions.county.id,
        "period_end": days_ago(1).isoformat(),
        "project_name": "2025年9月消费帮扶农产品销售收益(靠山屯电商服务站第1批)",
    }
    data.update(over)
    proposed = client.post(RUNS, json=data, headers=people.proposer_headers)
    assert proposed.status_code == 201, proposed.json
    run_id = proposed.json["run"]["id"]
    approved = client.post(f"{RUNS}/{run_id}/approve", headers=people.approver_headers)
    assert approved.status_code == 200
    return approved.json


def upload(client, run_id, content, headers):
    return client.post(
        f"{RUNS}/{run_id}/returns",
        data={"file": (BytesIO(content), "return.xlsx")},
        headers=headers,
        content_type="multipart/form-data",
    )


def downloads(session):
    return session.execute(sa.select(FileDownload)).scalars().all()


def owed(balance, household):
    return -balance(journal.household_income(household.id))


# --- downloads -------------------------------------------------------------------------------


def test_the_approver_downloads_the_one_card_file_in_full_and_it_is_audited(
    client, people, regions, sample_households, session
):
    run = approved_run(client, people, regions, batch_serial=SAMPLE_SERIAL)

    response = client.get(
        f"{RUNS}/{run['id']}/files/yikatong.xlsx", headers=people.approver_headers
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rows = bank_files.read_yikatong(response.data)
    assert sorted((r.name, r.id_number, r.card_number, r.amount_fen) for r in rows) == sorted(
        SAMPLE
    )
    assert {r.batch_serial for r in rows} == {SAMPLE_SERIAL}
    assert {r.county for r in rows} == {"青松县"}
    assert {r.township for r in rows} == {"白山镇", "松江乡"}
    sheet = load_workbook(BytesIO(response.data))["导出"]
    assert sheet.title == "导出"
    (audit,) = downloads(session)
    assert (audit.run_id, audit.user_id, audit.file_format) == (
        run["id"],
        people.approver.id,
        "yikatong.xlsx",
    )


def test_the_bank_text_file_sums_to_the_run(client, people, regions, sample_households, session):
    run = approved_run(client, people, regions)

    response = client.get(f"{RUNS}/{run['id']}/files/bank.txt", headers=people.admin_headers)

    assert response.status_code == 200
    transfers = bank_txt.read_bank_txt(response.data)
    assert sum(t.amount_fen for t in transfers) == run["total_fen"] == 629_780
    assert response.data.endswith("总额：6297.80".encode("gbk"))
    assert [d.user_id for d in downloads(session)] == [people.admin.id]


def test_other_officials_may_not_download(client, people, regions, sample_households, session):
    run = approved_run(client, people, regions)
    url = f"{RUNS}/{run['id']}/files/yikatong.xlsx"

    assert client.get(url, headers=people.proposer_headers).status_code == 403
    stranger = client.get(url, headers=people.other_county_official_headers)
    assert stranger.status_code == 404
    assert SAMPLE[0][1] not in stranger.text
    assert client.get(url, headers=people.buyer_headers).status_code == 403
    assert client.get(url).status_code == 401
    assert (
        client.get(f"{RUNS}/{run['id']}/files/other.csv", headers=people.admin_headers).status_code
        == 404
    )
    assert downloads(session) == []


def test_nothing_is_downloadable_before_approval(
    client, people, regions, sample_households, session
):
    proposed = client.post(
        RUNS,
        json={
            "region_id": regions.county.id,
            "period_end": days_ago(1).isoformat(),
            "project_name": "九月",
        },
        headers=people.proposer_headers,
    ).json["run"]

    response = client.get(f"{RUNS}/{proposed['id']}/files/bank.txt", headers=people.admin_headers)

    assert response.status_code == 409
    assert downloads(session) == []


# --- the bank's return -----------------------------------------------------------------------


def test_the_sample_return_pays_six_and_re_credits_exactly_the_two_failures(
    client, people, regions, sample_households, balance, session
):
    run = approved_run(client, people, regions, batch_serial=SAMPLE_SERIAL)
    assert all(owed(balance, h) == 0 for h in sample_households.values())

    response = upload(
        client,
        run["id"],
        (DATA / "yikatong_bank_return.xlsx").read_bytes(),
        people.approver_headers,
    )

    assert response.status_code == 200, response.json
    assert response.json["replayed"] is False
    assert response.json["return_import"]["succeeded"] == 6
    assert response.json["return_import"]["failed"] == 2
    assert response.json["run"]["status"] == "settled"
    re_credited = {
        name: owed(balance, household)
        for name, household in sample_households.items()
        if owed(balance, household)
    }
    assert re_credited == {"赵秀兰": 45_500, "张铁柱": 68_800}
    reasons = {
        line["payee_name"]: line["failure_reason"]
        for line in response.json["run"]["lines"]
        if line["status"] == "failed"
    }
    assert reasons == {"赵秀兰": "账户已销户", "张铁柱": "户名不符,账户名为[张铁*]"}
    assert balance(journal.PAYOUTS_IN_TRANSIT) == 0
    assert balance(journal.DISBURSED) == -(629_780 - 45_500 - 68_800)


def test_importing_the_same_return_twice_changes_nothing(
    client, people, regions, sample_households, posting_count, session
):
    run = approved_run(client, people, regions, batch_serial=SAMPLE_SERIAL)
    content = (DATA / "yikatong_bank_return.xlsx").read_bytes()
    first = upload(client, run["id"], content, people.admin_headers)
    after_first = posting_count()

    second = upload(client, run["id"], content, people.approver_headers)

    assert second.status_code == 200
    assert second.json["replayed"] is True
    assert second.json["return_import"] == first.json["return_import"]
    assert posting_count() == after_first
    assert session.execute(sa.select(sa.func.count(ReturnImport.id))).scalar_one() == 1


def test_a_failed_line_is_re_issued_once_the_card_is_corrected(
    client, people, regions, sample_households, balance, session
):
    run = approved_run(client, people, regions, batch_serial=SAMPLE_SERIAL)
    upload(
        client, run["id"], (DATA / "yikatong_bank_return.xlsx").read_bytes(), people.admin_headers
    )

    not_yet = client.post(
        RUNS,
        json={"region_id": regions.county.id, "period_end": days_ago(1).isoformat(),
              "project_name": "补发"},
        headers=people.proposer_headers,
    )  # fmt: skip
    assert not_yet.status_code == 409
    assert {s["household_id"] for s in not_yet.json["skipped"]} == {
        sample_households["赵秀兰"].id,
        sample_households["张铁柱"].id,
    }
    assert "账户已销户" in str(not_yet.json["skipped"])
    # Each with its reason's code and parameters, for a client to say it in its language.
    assert {s["code"] for s in not_yet.json["skipped"]} == {"payout_run.skipped_last_payout_failed"}
    assert "账户已销户" in {s["params"]["failure_reason"] for s in not_yet.json["skipped"]}

    zhao = sample_households["赵秀兰"]
    corrected = client.put(
        f"/api/v1/households/{zhao.id}/payout-account",
        json={
            "bank_name": "梅河口农商银行",
            "card_number": "9999001000000000994",
            "holder_name": "赵秀兰",
            "holder_id_number": zhao.plain_id_number,
        },
        headers=people.admin_headers,
    )
    assert corrected.status_code == 200
    reissue = approved_run(client, people, regions, project_name="补发")

    (line,) = reissue["lines"]
    assert (line["household_id"], line["amount_fen"]) == (zhao.id, 45_500)
    sent = client.get(f"{RUNS}/{reissue['id']}/files/yikatong.xlsx", headers=people.admin_headers)
    assert [r.card_number for r in bank_files.read_yikatong(sent.data)] == ["9999001000000000994"]
    assert owed(balance, zhao) == 0


def test_a_return_of_another_batch_is_refused_and_nothing_changes(
    client, people, regions, sample_households, posting_count
):
    run = approved_run(client, people, regions)  # a fresh serial, not the sample's
    before = posting_count()

    response = upload(
        client, run["id"], (DATA / "yikatong_bank_return.xlsx").read_bytes(), people.admin_headers
    )

    assert response.status_code == 422
    assert set(response.json["errors"]) == {f"rows.{n}.流水号" for n in range(2, 10)}
    assert posting_count() == before


def test_a_return_whose_amount_differs_is_refused_whole(
    client, people, regions, sample_households, posting_count, session
):
    run = approved_run(client, people, regions)
    sent = client.get(f"{RUNS}/{run['id']}/files/yikatong.xlsx", headers=people.admin_headers)
    workbook = load_workbook(BytesIO(return_file(sent.data)))
    workbook["导出"]["F3"] = float(workbook["导出"]["F3"].value) + 0.01
    buffer = BytesIO()
    workbook.save(buffer)
    before = posting_count()

    response = upload(client, run["id"], buffer.getvalue(), people.admin_headers)

    assert response.status_code == 422
    assert list(response.json["errors"]) == ["rows.3.发放金额"]
    assert posting_count() == before
    statuses = session.execute(sa.select(PayoutLine.status)).scalars().all()
    assert {s.value for s in statuses} == {"in_transit"}


def test_a_partial_answer_settles_only_the_lines_answered(
    client, people, regions, sample_households, session
):
    run = approved_run(client, people, regions)
    sent = client.get(f"{RUNS}/{run['id']}/files/yikatong.xlsx", headers=people.admin_headers)
    blanks = {index: (None, None) for index in range(1, 8)}

    first = upload(client, run["id"], return_file(sent.data, blanks), people.admin_headers)
    assert first.json["return_import"]["succeeded"] == 1
    assert first.json["run"]["status"] == "approved"

    # The full answer later: the line already paid keeps its answer, the rest settle.
    everything = upload(
        client, run["id"], return_file(sent.data, {0: ("失败", "账户冻结")}), people.admin_headers
    )
    assert everything.json["return_import"] == {
        **everything.json["return_import"],
        "succeeded": 7,
        "failed": 0,
    }
    assert everything.json["run"]["status"] == "settled"


def test_returns_need_an_approved_run_in_scope_and_a_file(
    client, people, regions, sample_households
):
    content = (DATA / "yikatong_bank_return.xlsx").read_bytes()
    proposed = client.post(
        RUNS,
        json={"region_id": regions.county.id, "period_end": days_ago(1).isoformat(),
              "project_name": "九月", "batch_serial": SAMPLE_SERIAL},
        headers=people.proposer_headers,
    ).json["run"]  # fmt: skip

    assert upload(client, proposed["id"], content, people.admin_headers).status_code == 409
    assert upload(client, proposed["id"], content, {}).status_code == 401
    stranger = upload(client, proposed["id"], content, people.other_county_official_headers)
    assert stranger.status_code == 404
    missing = client.post(f"{RUNS}/{proposed['id']}/returns", headers=people.admin_headers)
    assert missing.status_code == 422
    assert "file" in missing.json["errors"]
    garbage = upload(client, proposed["id"], b"not a workbook", people.admin_headers)
    assert garbage.status_code == 409  # the run is not approved: checked before the file


def test_producer_lines_are_settled_one_by_one(
    client, people, regions, make_station, make_producer, session, balance
):
    coop = make_producer(make_station(regions.village_a1), kind=ProducerKind.cooperative)
    journal.write_entries(
        session,
        [
            journal.Entry(
                kind="attribution",
                effective_on=days_ago(5),
                legs=[
                    journal.Leg(journal.gateway_clearing("offline"), 7_000),
                    journal.Leg(journal.coop_retained(coop.id), -7_000),
                ],
            )
        ],
    )
    run = approved_run(client, people, regions)
    (line,) = run["lines"]
    url = f"{RUNS}/{run['id']}/lines/{line['id']}/outcome"

    assert client.post(url, json={"outcome": "lost"}, headers=people.admin_headers).status_code == (
        422
    )
    paid = client.post(url, json={"outcome": "paid"}, headers=people.approver_headers)
    assert paid.status_code == 200
    assert paid.json["status"] == "settled"
    again = client.post(url, json={"outcome": "paid"}, headers=people.approver_headers)
    assert again.json == paid.json
    assert client.post(
        url, json={"outcome": "failed"}, headers=people.admin_headers
    ).status_code == (409)
    assert balance(journal.DISBURSED) == -7_000
    assert balance(journal.coop_retained(coop.id)) == 0


def test_the_commands_export_and_import_as_an_admin(
    app, client, people, regions, sample_households, session, tmp_path
):
    run = approved_run(client, people, regions, batch_serial=SAMPLE_SERIAL)
    runner = app.test_cli_runner()
    target = tmp_path / "batch.xlsx"

    exported = runner.invoke(
        args=["payouts", "export", str(run["id"]), str(target), "--as", people.admin.username]
    )
    assert exported.exit_code == 0, exported.output
    assert len(bank_files.read_yikatong(target.read_bytes())) == 8
    assert [d.user_id for d in downloads(session)] == [people.admin.id]

    args = ["payouts", "import-return", str(run["id"]), str(DATA / "yikatong_bank_return.xlsx")]
    refused = runner.invoke(args=[*args, "--as", people.approver.username])
    assert refused.exit_code != 0
    imported = runner.invoke(args=[*args, "--as", people.admin.username])
    assert imported.exit_code == 0, imported.output
    assert "6 paid, 2 failed" in imported.output
    again = runner.invoke(args=[*args, "--as", people.admin.username])
    assert "nothing changed" in again.output
