"""A platform export imported as a job, through the API, by real worker processes on a real
broker: several batches to completion with their progress and the failed rows file; a worker
killed mid-import and the job completed by the next with every row imported once and the
ledger clean; a station's uploads one at a time, each refund applied once; a dry run; a
corrupt file refused before it is queued, and one that breaks part way failing with its
reason; a cancel that keeps the batches committed; and who sees which job."""

import csv
import io
import os
import signal
import subprocess
import sys
import time

import requests
import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.catalog.models import Sku
from marketplace.orders.models import Order, OrderLine
from marketplace.payments.models import Payment
from marketplace.platform_sales.models import ImportedLine, PlatformImport
from tests.jobs.conftest import PROJECT_ROOT
from tests.jobs.test_registry_import_jobs import _children, read_job
from tests.orders.test_races import _setup_shop
from tests.served import signed_in_user

HEADER = (
    "订单号,订单状态,订单创建时间,订单支付时间,商品ID,商品名称,商品单价,商品数量,实付款,"
    "退款状态,退款金额,订单来源"
)


def kuaishou(rows: int, *, refunded: bool = False, unmapped: tuple[int, ...] = ()) -> bytes:
    """``rows`` Kuaishou orders of 100.00 yuan (30.00 of each refunded, with ``refunded``);
    those numbered in ``unmapped`` sell a product no SKU is mapped to."""
    lines = [HEADER]
    for number in range(rows):
        refund = "退款成功,30.00" if refunded else ","
        product = "\t404" if number in unmapped else "\t999"
        lines.append(
            f"\t25091200{number:08d},交易成功,2025-09-12 19:08:11,2025-09-12 19:08:20,{product},"
            f"人参,100.00,1,100.00,{refund},商品卡"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


class Shop:
    """A station of the served app, its user, and its one SKU mapped to Kuaishou's 999."""

    def __init__(self, jobs, tag: int):
        self.jobs = jobs
        self.sku_id, _ = _setup_shop(jobs.served, tag=tag, stock=5, buyers=0)
        with jobs.served.session() as session:
            self.station_id = session.get(Sku, self.sku_id).station_id
            self.headers = signed_in_user(
                session,
                username=f"station-{tag}",
                role=Role.station,
                display_name="站",
                station_id=self.station_id,
            )
        self.map_product("999")

    def map_product(self, outside_id: str) -> None:
        mapped = requests.post(
            f"{self.jobs.served.base_url}/api/v1/stations/{self.station_id}/platform-products",
            json={
                "products": [
                    {"platform": "kuaishou", "outside_id": outside_id, "sku_id": self.sku_id}
                ]
            },
            headers=self.headers,
            timeout=30,
        )
        assert mapped.status_code == 200, mapped.text

    def upload(self, data: bytes, **form) -> requests.Response:
        return requests.post(
            f"{self.jobs.served.base_url}/api/v1/stations/{self.station_id}/platform-imports",
            files={"file": ("export.csv", data, "text/csv")},
            data={"platform": "kuaishou", **{k: str(v).lower() for k, v in form.items()}},
            headers=self.headers,
            timeout=60,
        )

    def job(self, location: str) -> dict:
        return read_job(self.jobs, self.headers, location)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.jobs.served.base_url}{path}", headers=self.headers, timeout=30)


def counts(jobs, station_id: int) -> dict:
    with jobs.served.session() as session:
        lines = sa.select(ImportedLine.order_id).where(ImportedLine.station_id == station_id)

        def count(stmt):
            return session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar()

        return {
            "lines": count(lines),
            "distinct": count(sa.select(ImportedLine.outside_line_id.distinct())),
            "orders": count(sa.select(Order.id).where(Order.id.in_(lines))),
            "order_lines": count(sa.select(OrderLine.id).where(OrderLine.order_id.in_(lines))),
            "payments": count(sa.select(Payment.id).where(Payment.order_id.in_(lines))),
        }


def ledger_check(jobs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "ledger", "check"],
        cwd=PROJECT_ROOT,
        env=jobs.worker_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_export_of_several_batches_imports_through_a_worker(jobs):
    shop = Shop(jobs, 31)
    started = shop.upload(kuaishou(2500, unmapped=(7, 2100)))
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    assert (started.json()["kind"], started.json()["state"]) == ("platform_import", "queued")
    jobs.drain()
    done = shop.job(location)
    assert (done["state"], done["attempts"]) == ("succeeded", 1), done
    assert done["progress"] == {"done": 2500, "total": 2500}
    link = done["result"]["links"]["platform_import"]
    record = shop.get(link).json()
    assert (record["rows"], record["created_lines"], record["failed_lines"]) == (2500, 2498, 2)
    assert record["complete"] is True and record["job_id"] == done["id"]
    assert counts(jobs, shop.station_id)["orders"] == 2498
    failed = shop.get(done["files"]["failed_rows.csv"])
    assert failed.status_code == 200
    rows = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["行号", "列", "问题", "订单号"]
    # Each failed row as the export had it, after its line and reason.
    assert [(row[0], row[1]) for row in rows[1:]] == [("9", "商品ID"), ("2102", "商品ID")]
    # Written so that a spreadsheet shows it as text; read back as the id it was.
    assert rows[1][3] == "'\t2509120000000007" and "404" in rows[1][2]
    # Mapped now, the failed rows alone are uploaded again and imported.
    shop.map_product("404")
    again = shop.upload(failed.content).headers["Location"]
    jobs.drain()
    retried = shop.get(shop.job(again)["result"]["links"]["platform_import"]).json()
    assert (retried["rows"], retried["created_lines"], retried["failed_lines"]) == (2, 2, 0)
    assert counts(jobs, shop.station_id)["orders"] == 2500


def test_a_worker_killed_mid_import_and_the_job_run_again_import_every_row_once(jobs):
    shop = Shop(jobs, 32)
    rows = 12_000
    worker = jobs.start_worker("--heartbeat-grace", "3")
    location = shop.upload(kuaishou(rows)).headers["Location"]
    deadline = time.monotonic() + 180
    while True:
        job = shop.job(location)
        if job["state"] == "running" and job["progress"]["done"] >= 1000:
            break
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.05)
    # The machine dies: the job's process and its worker, at once, mid-batch.
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    killed = shop.job(location)
    assert killed["state"] == "running" and killed["attempts"] == 1
    part = counts(jobs, shop.station_id)
    # What was committed is whole batches, each whole.
    assert part["lines"] % 1000 == 0 and 1000 <= part["lines"] < rows, part
    assert part["orders"] == part["order_lines"] == part["payments"] == part["lines"]

    jobs.start_worker("--heartbeat-grace", "3")
    deadline = time.monotonic() + 300
    while (job := shop.job(location))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert (job["state"], job["attempts"]) == ("succeeded", 2), job
    record = shop.get(job["result"]["links"]["platform_import"]).json()
    assert (record["rows"], record["created_lines"], record["duplicate_lines"]) == (rows, rows, 0)
    assert counts(jobs, shop.station_id) == dict.fromkeys(
        ("lines", "distinct", "orders", "order_lines", "payments"), rows
    )
    checked = ledger_check(jobs)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_stations_uploads_run_one_at_a_time_and_apply_each_refund_once(jobs):
    shop = Shop(jobs, 33)
    first = shop.upload(kuaishou(1500)).headers["Location"]
    refunds = [shop.upload(kuaishou(1500, refunded=True)).headers["Location"] for _ in range(2)]
    jobs.drain(workers=2)
    states = [shop.job(location) for location in (first, *refunds)]
    assert [(job["state"], job["attempts"]) for job in states] == [("succeeded", 1)] * 3, states
    # In the order they were uploaded: the second refunds everything, the third nothing more.
    made = [shop.get(job["result"]["links"]["platform_import"]).json() for job in states]
    assert [record["updated_lines"] for record in made] == [0, 1500, 0]
    assert made[2]["unchanged_lines"] == 1500
    with jobs.served.session() as session:
        lines = sa.select(ImportedLine.order_line_id).where(
            ImportedLine.station_id == shop.station_id
        )
        refunded = session.execute(
            sa.select(sa.func.sum(OrderLine.refunded_fen)).where(OrderLine.id.in_(lines))
        ).scalar_one()
    assert refunded == 1500 * 3000
    started = [job["started_at"] for job in states]
    finished = [job["finished_at"] for job in states]
    assert started[1] >= finished[0] and started[2] >= finished[1]


def test_a_dry_run_job_reports_and_writes_nothing(jobs):
    shop = Shop(jobs, 34)
    location = shop.upload(kuaishou(1200, unmapped=(3,)), dry_run=True).headers["Location"]
    jobs.drain()
    job = shop.job(location)
    assert job["state"] == "succeeded", job
    report = job["result"]["report"]
    assert (report["rows"], report["created_lines"], report["failed_lines"]) == (1200, 1199, 1)
    assert report["dry_run"] is True and job["result"]["platform_import_id"] is None
    assert "failed_rows.csv" in job["files"]
    assert counts(jobs, shop.station_id)["lines"] == 0
    with jobs.served.session() as session:
        assert session.execute(sa.select(sa.func.count(PlatformImport.id))).scalar() == 0


def test_a_corrupt_file_is_refused_before_it_is_queued_and_a_late_break_fails_the_job(jobs):
    shop = Shop(jobs, 35)
    refused = shop.upload("订单号,金额\n1,2\n".encode("utf-16"))
    assert refused.status_code == 422 and "file" in refused.json()["errors"], refused.text
    no_header = shop.upload(b"a,b\n1,2\n")
    assert no_header.status_code == 422 and "订单号" in no_header.json()["errors"]["file"][0]
    broken = kuaishou(1500) + "\t坏,".encode("gbk") * 3 + b"\r\n"
    location = shop.upload(broken).headers["Location"]
    jobs.drain()
    job = shop.job(location)
    assert job["state"] == "failed" and job["failure"]["code"] == "platform_file.mixed_encodings"
    assert "1502" in job["failure"]["detail"]
    record = shop.get(f"/api/v1/stations/{shop.station_id}/platform-imports").json()[0]
    # The batch before the break was committed; the record says the file was not read whole.
    assert (record["rows"], record["created_lines"], record["complete"]) == (1000, 1000, False)


def test_an_import_cancelled_while_it_runs_keeps_the_batches_it_committed(jobs):
    shop = Shop(jobs, 36)
    rows = 12_000
    jobs.start_worker()
    location = shop.upload(kuaishou(rows)).headers["Location"]
    deadline = time.monotonic() + 180
    while (job := shop.job(location))["progress"]["done"] < 1000:
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.05)
    cancelled = requests.post(
        f"{jobs.served.base_url}{location}/cancel", headers=shop.headers, timeout=30
    )
    assert cancelled.status_code == 200, cancelled.text
    while (job := shop.job(location))["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    if job["state"] == "succeeded":  # it finished before it read the request: nothing to test
        return
    assert job["state"] == "cancelled" and job["failure"]["code"] == "job.cancelled", job
    record = shop.get(f"/api/v1/stations/{shop.station_id}/platform-imports").json()[0]
    assert record["complete"] is False and record["rows"] % 1000 == 0
    assert counts(jobs, shop.station_id)["lines"] == record["created_lines"] == record["rows"]
    # Uploaded again, the file imports the rest, and nothing twice.
    again = shop.upload(kuaishou(rows)).headers["Location"]
    while (job := shop.job(again))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline + 120, job
        time.sleep(0.2)
    assert job["state"] == "succeeded", job
    made = shop.get(job["result"]["links"]["platform_import"]).json()
    assert made["created_lines"] + made["unchanged_lines"] == rows
    assert counts(jobs, shop.station_id)["distinct"] == rows


def test_a_station_sees_its_own_import_jobs_only(jobs):
    shop, other = Shop(jobs, 37), Shop(jobs, 38)
    location = shop.upload(kuaishou(3)).headers["Location"]
    assert other.get(location).status_code == 404
    theirs = requests.post(
        f"{jobs.served.base_url}/api/v1/stations/{shop.station_id}/platform-imports",
        files={"file": ("export.csv", kuaishou(3), "text/csv")},
        data={"platform": "kuaishou"},
        headers=other.headers,
        timeout=30,
    )
    assert theirs.status_code == 404, theirs.text
    assert other.get("/api/v1/jobs").json() == []
