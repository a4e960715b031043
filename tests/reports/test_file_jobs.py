"""A report file above REPORT_FILE_JOB_ROWS is made by a job: 202 and the job's link, the same
bytes the request would have streamed, each download of it recorded, kept for
JOB_FILE_RETENTION_HOURS and then deleted; a smaller one stays immediate, and the scope is
checked before anything is queued."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.jobs import retention
from marketplace.jobs.models import Job, JobFile
from marketplace.reports.models import ExportDownload
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.platform_sales.jobs_inline import run_inline
from tests.reports.test_exports import _query

URL = "/api/v1/reports/income/households.csv"


@pytest.fixture
def small_threshold(app):
    app.config["REPORT_FILE_JOB_ROWS"] = 1
    yield
    app.config["REPORT_FILE_JOB_ROWS"] = 20_000


def downloads(session) -> list:
    rows = session.execute(sa.select(ExportDownload.report, ExportDownload.user_id)).all()
    return [tuple(row) for row in rows]


def test_a_large_file_is_made_by_a_job_with_the_same_bytes(
    app, client, session, shop, money, pay, regions, small_threshold
):
    pay((shop.sku_500g, 1))
    started = client.get(URL, query_string=_query(regions.county), headers=money.official_headers)
    assert started.status_code == 202, started.get_data()
    assert started.headers["Location"] == f"/api/v1/jobs/{started.json['id']}"
    assert (started.json["kind"], started.json["state"]) == ("report_file", "queued")
    assert downloads(session) == []  # nothing named yet
    job = run_inline(started.json["id"])
    seen = client.get(started.headers["Location"], headers=money.official_headers).json
    assert seen["state"] == "succeeded", seen
    name = seen["result"]["file"]
    period = _query(regions.county)["period"]
    # Kept by its ASCII name; downloaded under the name people read (RFC 6266 / 5987).
    assert name == f"income-households-county-{regions.county.id}-{period}.csv"
    readable = f"{regions.county.name}-{period}-收入到户明细.csv"
    assert seen["result"]["download_names"] == {name: readable}
    made = client.get(seen["files"][name], headers=money.official_headers)
    assert made.status_code == 200 and made.headers["Content-Type"].startswith("text/csv")
    assert made.headers["Content-Disposition"] == (
        f'attachment; filename="job-{seen["id"]}-{name}"; '
        f"filename*=UTF-8''{quote(readable, safe='')}"
    )
    assert downloads(session) == [("income_households", money.official.id)]
    app.config["REPORT_FILE_JOB_ROWS"] = 10**9
    streamed = client.get(URL, query_string=_query(regions.county), headers=money.official_headers)
    assert streamed.status_code == 200
    assert made.get_data() == streamed.get_data()
    # Another official does not learn the job exists.
    hidden = client.get(seen["files"][name], headers=money.official_b_headers)
    assert hidden.status_code == 404
    assert job.id == seen["id"]


def test_the_scope_is_checked_before_a_job_is_queued(
    client, session, shop, money, regions, small_threshold
):
    far = client.get(URL, query_string=_query(regions.township_a), headers=money.official_b_headers)
    assert far.status_code == 404
    station = client.get(URL, query_string=_query(regions.county), headers=shop.station_headers)
    assert station.status_code == 403
    assert session.execute(sa.select(sa.func.count(Job.id))).scalar() == 0


def test_a_jobs_files_are_deleted_after_the_retention(
    client, session, shop, money, pay, regions, small_threshold
):
    pay((shop.sku_500g, 1))
    started = client.get(
        URL.replace(".csv", ".xlsx"),
        query_string=_query(regions.county),
        headers=money.official_headers,
    )
    job = run_inline(started.json["id"])
    assert retention.purge_files(db.session) == 0  # finished a moment ago: kept
    later = utcnow() + timedelta(hours=73)
    assert retention.purge_files(db.session, now=later) == 2  # its (empty) input and its file
    files = session.execute(sa.select(sa.func.count(JobFile.id))).scalar()
    assert files == 0
    seen = client.get(f"/api/v1/jobs/{job.id}", headers=money.official_headers).json
    assert seen["files"] == {} and "files_deleted_at" in seen["result"]
