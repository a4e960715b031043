"""Payout runs in the console: an official proposes a run on a form, another approves it (the
proposer is refused in Chinese), the approver downloads the bank's batch (the API's own file),
uploads the bank's return, and the lines show paid or failed; only the region's runs."""

import re
from io import BytesIO

from marketplace.ledger import journal
from marketplace.payouts import bank_files
from marketplace.payouts.models import FileDownload, LineStatus, PayoutLine, PayoutRun, RunStatus
from marketplace.producers.models import ProducerKind
from tests.console.conftest import csrf_of
from tests.payouts.conftest import (  # noqa: F401  (shared fixtures)
    DATA,
    accrue,
    days_ago,
    give_card,
    people,
    return_file,
)
from tests.payouts.test_producer_accounts import (
    COMPANY_ACCOUNT,
    COOP_ACCOUNT,
    SERIAL,
    _account,
    _owed,
)
from tests.payouts.test_runs import RUNS, body, village  # noqa: F401  (shared fixtures)
from tests.payouts.test_settlement import approved_run


def propose_on_the_form(client, regions, **over):
    page = client.get("/console/payouts")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page),
        "region_id": str(regions.county.id),
        "period_end": days_ago(1).isoformat(),
        "project_name": "2026年11月消费帮扶收益",
        **over,
    }
    return client.post("/console/payouts", data=form)


def run_id_of(response) -> int:
    return int(re.search(r"/console/payouts/(\d+)", response.headers["Location"]).group(1))


def test_a_run_proposed_on_the_form_is_approved_by_another_paid_by_the_return(
    client, session, sign_in, people, regions, village
):
    sign_in(people.proposer)
    proposed = propose_on_the_form(client, regions)
    assert proposed.status_code == 302, proposed.text
    run_id = run_id_of(proposed)
    page = client.get(proposed.headers["Location"])
    assert "批次已提出" in page.text and "1 户因没有可用的一卡通账户未列入" in page.text
    assert "王桂芬" in page.text and "1,236.40" in page.text  # the household's line, in yuan

    # The proposer cannot approve: the service's four-eyes rule, in Chinese, nothing changed.
    own = client.post(f"/console/payouts/{run_id}/approve", data={"csrf_token": csrf_of(page)})
    assert own.status_code == 403 and "提出发放批次的人不能批准" in own.text
    assert session.get(PayoutRun, run_id).status is RunStatus.proposed

    sign_in(people.approver)
    page = client.get(f"/console/payouts/{run_id}")
    approved = client.post(f"/console/payouts/{run_id}/approve", data={"csrf_token": csrf_of(page)})
    assert approved.status_code == 302
    page = client.get(approved.headers["Location"])
    assert "已批准" in page.text and "一卡通批量文件" in page.text

    # The batch file is the API's: the same rows, and the download is recorded.
    sent = client.get(f"/console/payouts/{run_id}/files/yikatong.xlsx")
    assert sent.status_code == 200
    from_api = client.get(f"{RUNS}/{run_id}/files/yikatong.xlsx", headers=people.approver_headers)
    assert bank_files.read_yikatong(sent.data) == bank_files.read_yikatong(from_api.data)
    assert session.query(FileDownload).filter_by(run_id=run_id).count() == 2

    answer = return_file(sent.data, {0: (bank_files.RECEIPT_FAILURE, "账户已冻结")})
    uploaded = client.post(
        f"/console/payouts/{run_id}/returns",
        data={"csrf_token": csrf_of(page), "file": (BytesIO(answer), "回执.xlsx")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, uploaded.text
    page = client.get(uploaded.headers["Location"])
    assert "回执已导入：成功 1 笔，失败 1 笔" in page.text
    assert "账户已冻结" in page.text and "已到账" in page.text
    session.expire_all()
    statuses = {line.status for line in session.query(PayoutLine).filter_by(run_id=run_id)}
    assert LineStatus.paid in statuses and LineStatus.failed in statuses
    # The failed lines alone, a filter kept by the pager's links.
    failed = client.get(f"/console/payouts/{run_id}?lines=failed")
    assert failed.text.count("data-line=") == 1 and "账户已冻结" in failed.text

    # The same file again changes nothing, and says so.
    again = client.post(
        f"/console/payouts/{run_id}/returns",
        data={"csrf_token": csrf_of(page), "file": (BytesIO(answer), "回执.xlsx")},
        content_type="multipart/form-data",
    )
    assert "之前已导入过" in client.get(again.headers["Location"]).text


def test_a_refused_proposal_names_its_fields_in_chinese_and_writes_nothing(
    client, session, sign_in, people, regions, village
):
    sign_in(people.proposer)
    refused = propose_on_the_form(client, regions, project_name="")
    assert refused.status_code == 422 and 'data-field="project_name"' in refused.text
    future = propose_on_the_form(client, regions, period_end=days_ago(-3).isoformat())
    assert future.status_code == 422 and 'data-field="period_end"' in future.text
    assert "不能晚于今天" in future.text
    assert session.query(PayoutRun).count() == 0
    # A village is no payout region: said beside the region's field.
    village_run = propose_on_the_form(client, regions, region_id=str(regions.village_a1.id))
    assert village_run.status_code == 422 and 'data-field="region_id"' in village_run.text


def test_a_return_that_is_no_return_is_refused_and_settles_nothing(
    client, session, sign_in, people, regions, village
):
    run = client.post(RUNS, json=body(regions), headers=people.proposer_headers).json["run"]
    client.post(f"{RUNS}/{run['id']}/approve", headers=people.approver_headers)
    sign_in(people.approver)
    page = client.get(f"/console/payouts/{run['id']}")
    refused = client.post(
        f"/console/payouts/{run['id']}/returns",
        data={"csrf_token": csrf_of(page), "file": (BytesIO(b"PK not a workbook"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "无法读取回执文件" in refused.text
    missing = client.post(
        f"/console/payouts/{run['id']}/returns", data={"csrf_token": csrf_of(page)}
    )
    assert missing.status_code == 422 and 'data-field="file"' in missing.text
    session.expire_all()
    lines = session.query(PayoutLine).filter_by(run_id=run["id"]).all()
    assert {line.status for line in lines} == {LineStatus.in_transit}


def test_runs_are_listed_a_page_at_a_time_in_the_officials_region_only(
    client, sign_in, people, regions, village
):
    run = client.post(RUNS, json=body(regions), headers=people.proposer_headers).json["run"]
    sign_in(people.approver)
    listed = client.get("/console/payouts")
    assert f"/console/payouts/{run['id']}" in listed.text and "待审批" in listed.text
    assert 'class="pager"' in listed.text
    assert f"/console/payouts/{run['id']}" not in client.get("/console/payouts?status=settled").text
    # Only the approver and admins may download; a run of another county is not there.
    assert "只有批准这个批次的官员" not in client.get(f"/console/payouts/{run['id']}").text
    sign_in(people.other_county_official)
    assert f"/console/payouts/{run['id']}" not in client.get("/console/payouts").text
    assert client.get(f"/console/payouts/{run['id']}").status_code == 404
    page = client.get("/console/payouts")
    refused = client.post(
        f"/console/payouts/{run['id']}/approve", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 404
    assert client.get(f"/console/payouts/{run['id']}/files/bank.txt").status_code == 404


def test_a_regions_runs_are_listed_from_its_page(client, sign_in, people, regions, village):
    run = client.post(RUNS, json=body(regions), headers=people.proposer_headers).json["run"]
    sign_in(people.approver)
    county = client.get(f"/console/regions/{regions.county.id}").text
    assert f"/console/payouts?region_id={regions.county.id}" in county
    listed = client.get(f"/console/payouts?region_id={regions.county.id}").text
    assert f"/console/payouts/{run['id']}" in listed and f"只列出 {regions.county.name}" in listed
    assert f"status=approved&amp;region_id={regions.county.id}" in listed  # kept by the filters
    township = client.get(f"/console/payouts?region_id={regions.township_a.id}").text
    assert f"/console/payouts/{run['id']}" not in township
    assert client.get("/console/payouts?region_id=x").status_code == 422


def test_the_organisations_return_text_settles_producers_lines_from_the_same_form(
    client, session, sign_in, people, regions, make_station, make_producer
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
    for producer, number in ((coop, COOP_ACCOUNT), (company, COMPANY_ACCOUNT)):
        assert _account(client, producer, people.admin_headers, number, producer.name).json
    run = approved_run(client, people, regions, batch_serial=SERIAL)

    sign_in(people.approver)
    page = client.get(f"/console/payouts/{run['id']}")
    uploaded = client.post(
        f"/console/payouts/{run['id']}/returns",
        data={
            "csrf_token": csrf_of(page),
            "file": (BytesIO((DATA / "org_bank_return.txt").read_bytes()), "回执.txt"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, uploaded.text
    page = client.get(uploaded.headers["Location"]).text
    assert "回执已导入：成功 1 笔，失败 1 笔" in page and "账户已销户" in page
    assert '<small id="run-status">已结清</small>' in page


def test_a_payee_in_an_open_run_is_refused_until_that_run_is_cancelled(
    client, session, sign_in, people, regions, village
):
    sign_in(people.proposer)
    first = run_id_of(propose_on_the_form(client, regions))
    again = propose_on_the_form(client, regions)
    assert again.status_code == 409 and "请先批准、结清或取消那个批次" in again.text
    page = client.get(f"/console/payouts/{first}")
    cancelled = client.post(f"/console/payouts/{first}/cancel", data={"csrf_token": csrf_of(page)})
    assert cancelled.status_code == 302
    assert "批次已取消" in client.get(cancelled.headers["Location"]).text
    assert session.get(PayoutRun, first).status is RunStatus.cancelled
    assert propose_on_the_form(client, regions).status_code == 302
