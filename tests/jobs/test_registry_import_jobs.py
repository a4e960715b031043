"""The registry import as a job, through the API, run by real worker processes on a real
broker: a file of several batches to completion with its progress, refused rows downloadable,
a corrupt file failing fast with its reason, cancelling (queued, and while it runs), two
workers draining many jobs each run exactly once, and who sees which job."""

import csv
import io
import os
import signal
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from marketplace import pii
from marketplace.households.models import Household
from marketplace.jobs import broker as jobs_broker
from marketplace.jobs.models import Job

HEADER = "建档立卡编号,户主姓名,身份证号,家庭人数,村代码,户类型,状态生效日期"


def _id_number(n: int) -> str:
    body = f"220621{1950 + n // 1000:04d}0101{n % 1000:03d}"
    return body + pii.id_check_digit(body)


def registry_file(rows: int, village_code: str, *, first: int = 1) -> bytes:
    lines = [HEADER] + [
        f"22062110{n:08d},户主{n},{_id_number(n)},3,{village_code},脱贫户,2020-12-31"
        for n in range(first, first + rows)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload(jobs, headers, data: bytes, **form) -> requests.Response:
    return requests.post(
        f"{jobs.served.base_url}/api/v1/households/imports",
        files={"file": ("registry.csv", data, "text/csv")},
        data={key: str(value).lower() for key, value in form.items()},
        headers=headers,
        timeout=30,
    )


def read_job(jobs, headers, location: str, **extra) -> dict:
    response = requests.get(f"{jobs.served.base_url}{location}", headers={**headers, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def households(jobs) -> int:
    with jobs.served.session() as session:
        return session.execute(sa.select(sa.func.count()).select_from(Household)).scalar_one()


def test_a_registry_file_of_several_batches_imports_through_a_worker(jobs):
    started = upload(jobs, jobs.admin, registry_file(1200, jobs.village_code))
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    job = started.json()
    assert location == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["state"]) == ("registry_import", "queued")
    assert households(jobs) == 0
    jobs.drain()
    done = read_job(jobs, jobs.admin, location)
    assert done["state"] == "succeeded", done
    assert done["result"] == {
        "rows": 1200,
        "created": 1200,
        "with_payout_account": 0,
        "skipped": 0,
        "dry_run": False,
    }
    assert done["progress"] == {"done": 1200, "total": 1200}
    assert done["attempts"] == 1 and done["failure"] is None
    assert households(jobs) == 1200


def test_refused_rows_fail_the_job_and_are_downloadable(jobs):
    unknown_village = registry_file(1, "999999999999", first=50).split(b"\n", 1)[1]
    data = registry_file(3, jobs.village_code) + unknown_village
    started = upload(jobs, jobs.admin, data)
    jobs.drain()
    failed = read_job(jobs, jobs.admin, started.headers["Location"], **{"Accept-Language": "zh"})
    assert failed["state"] == "failed"
    assert failed["failure"]["code"] == "registry_import.rows_refused"
    assert failed["failure"]["params"] == {"problems": 1, "lines": 1}
    assert (
        "failed_rows.csv" in failed["failure"]["detail"]
        and "没有导入" in failed["failure"]["detail"]
    )
    link = failed["files"]["failed_rows.csv"]
    rows = requests.get(f"{jobs.served.base_url}{link}", headers=jobs.admin, timeout=30)
    assert rows.status_code == 200
    table = list(csv.reader(io.StringIO(rows.content.decode("utf-8-sig"))))
    assert table[0] == ["行号", "列", "问题"]
    assert table[1][:2] == ["5", "村代码"]
    assert households(jobs) == 0


def test_a_corrupt_file_fails_fast_with_its_reason(jobs):
    refused = upload(jobs, jobs.admin, bytes(range(256)) * 64)
    assert refused.status_code == 422  # no text at all: refused before it is queued
    # Rows past what the upload's check reads, then bytes that are no text: the worker
    # refuses the file at once.
    corrupt = registry_file(1000, jobs.village_code) + bytes(range(256)) * 64
    started = upload(jobs, jobs.admin, corrupt)
    assert started.status_code == 202, started.text
    began = time.monotonic()
    jobs.drain()
    failed = read_job(jobs, jobs.admin, started.headers["Location"])
    assert failed["state"] == "failed" and failed["attempts"] == 1
    assert failed["failure"]["code"] == "registry_import.rows_refused"
    assert "files" in failed and "failed_rows.csv" in failed["files"]
    # A worker's start-up is most of it; the file itself is refused at once.
    assert time.monotonic() - began < 60


def test_a_queued_job_is_cancelled_and_never_runs(jobs):
    started = upload(jobs, jobs.admin, registry_file(10, jobs.village_code))
    url = f"{jobs.served.base_url}{started.headers['Location']}/cancel"
    cancelled = requests.post(url, headers=jobs.admin, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["failure"]["code"] == "job.cancelled"
    jobs.drain()
    after = read_job(jobs, jobs.admin, started.headers["Location"])
    assert after["state"] == "cancelled" and after["attempts"] == 0
    assert households(jobs) == 0
    again = requests.post(url, headers=jobs.admin, timeout=30)
    assert again.status_code == 409 and again.json()["code"] == "job.finished_already"


def test_a_job_cancelled_while_it_runs_rolls_back(jobs, broker):
    started = upload(jobs, jobs.admin, registry_file(1200, jobs.village_code))
    job_id = started.json()["id"]
    # The cancel request a running job's worker reads at its next progress report (what
    # POST .../cancel sends for a running job), there before the worker takes it.
    with jobs.served.app.app_context():
        jobs_broker.ask_to_cancel(job_id, "admin")
    jobs.drain()
    after = read_job(jobs, jobs.admin, started.headers["Location"])
    assert after["state"] == "cancelled", after
    assert after["failure"]["params"] == {"username": "admin"}
    assert households(jobs) == 0


def test_two_workers_run_every_job_exactly_once(jobs):
    locations = [
        upload(
            jobs, jobs.admin, registry_file(20, jobs.village_code, first=100 * n), dry_run=True
        ).headers["Location"]
        for n in range(1, 13)
    ]
    jobs.drain(workers=2)
    for location in locations:
        job = read_job(jobs, jobs.admin, location)
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job
        assert job["result"]["rows"] == 20 and job["result"]["dry_run"] is True
    assert households(jobs) == 0
    with jobs.served.session() as session:
        assert session.execute(sa.select(sa.func.sum(Job.attempts))).scalar_one() == 12


def test_an_official_imports_into_their_region_and_sees_only_their_jobs(jobs):
    mine = upload(jobs, jobs.official, registry_file(2, jobs.village_code))
    theirs = upload(jobs, jobs.official, registry_file(2, jobs.far_village_code, first=500))
    assert mine.status_code == theirs.status_code == 202
    jobs.drain()
    assert read_job(jobs, jobs.official, mine.headers["Location"])["state"] == "succeeded"
    refused = read_job(jobs, jobs.official, theirs.headers["Location"])
    assert refused["state"] == "failed"
    hidden = requests.get(
        f"{jobs.served.base_url}{mine.headers['Location']}", headers=jobs.other_official
    )
    assert hidden.status_code == 404 and hidden.json()["code"] == "job.not_found"
    listed = requests.get(f"{jobs.served.base_url}/api/v1/jobs", headers=jobs.other_official)
    assert listed.json() == []
    everyone = requests.get(f"{jobs.served.base_url}/api/v1/jobs", headers=jobs.admin).json()
    assert len(everyone) == 2


def test_an_upload_is_checked_before_it_is_queued(jobs):
    empty = upload(jobs, jobs.admin, b"")
    assert empty.status_code == 422 and "file" in empty.json()["errors"]
    not_registry = upload(jobs, jobs.admin, "订单号,金额\n1,2\n".encode())
    assert not_registry.status_code == 422, not_registry.text
    assert "订单号" in not_registry.json()["errors"]["file"][0]
    utf16 = upload(jobs, jobs.admin, registry_file(2, jobs.village_code).decode().encode("utf-16"))
    assert utf16.status_code == 422
    assert utf16.json()["errors"]["file"] == ["neither UTF-8 nor GB18030 text"]
    with jobs.served.session() as session:
        assert session.execute(sa.select(sa.func.count(Job.id))).scalar() == 0
    station_like = requests.post(
        f"{jobs.served.base_url}/api/v1/households/imports",
        files={"file": ("registry.csv", b"x", "text/csv")},
        timeout=30,
    )
    assert station_like.status_code == 401


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_worker_killed_mid_import_leaves_nothing_and_the_job_completes_on_restart(jobs):
    rows = 20_000
    worker = jobs.start_worker("--heartbeat-grace", "3")
    started = upload(jobs, jobs.admin, registry_file(rows, jobs.village_code))
    location = started.headers["Location"]
    deadline = time.monotonic() + 120
    while True:
        job = read_job(jobs, jobs.admin, location)
        if job["state"] == "running" and job["progress"]["done"] > 0:
            break
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.05)
    # The machine dies: the job's process and its worker, at once, mid-insert.
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    killed = read_job(jobs, jobs.admin, location)
    assert killed["state"] == "running" and killed["attempts"] == 1
    assert households(jobs) == 0  # its transaction died with it

    jobs.start_worker("--heartbeat-grace", "3")
    deadline = time.monotonic() + 180
    while (job := read_job(jobs, jobs.admin, location))["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert (job["state"], job["attempts"]) == ("succeeded", 2), job
    assert job["result"]["created"] == rows
    assert households(jobs) == rows
