"""A report file made by a real worker: above REPORT_FILE_JOB_ROWS households, the county's
every household is a job whose file holds every one of them, fetched from the job's files by
its starter and recorded as a download of personal data; another official never sees it."""

import csv
import io

import requests
import sqlalchemy as sa

from marketplace.clock import shanghai_today
from marketplace.regions.models import Region
from marketplace.reports.models import ExportDownload
from tests.jobs.test_registry_import_jobs import read_job, registry_file, upload


def test_every_household_of_a_township_as_a_file_made_by_a_worker(jobs):
    imported = upload(jobs, jobs.admin, registry_file(300, jobs.village_code))
    assert imported.status_code == 202
    jobs.drain()
    jobs.served.app.config["REPORT_FILE_JOB_ROWS"] = 100
    with jobs.served.session() as session:
        township_id = session.execute(
            sa.select(Region.parent_id).where(Region.code == jobs.village_code)
        ).scalar_one()
    query = {"region_id": township_id, "period": shanghai_today().strftime("%Y-%m")}
    started = requests.get(
        f"{jobs.served.base_url}/api/v1/reports/income/households.csv",
        params=query,
        headers=jobs.official,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    jobs.drain()
    job = read_job(jobs, jobs.official, location)
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": 300, "total": 300}
    name = job["result"]["file"]
    made = requests.get(f"{jobs.served.base_url}{job['files'][name]}", headers=jobs.official)
    assert made.status_code == 200
    rows = list(csv.DictReader(io.StringIO(made.content.decode("utf-8-sig"))))
    assert len(rows) == 300 and {row["村"] for row in rows} == {"样例一村"}
    with jobs.served.session() as session:
        recorded = session.execute(sa.select(ExportDownload.report)).scalars().all()
    assert recorded == ["income_households"]
    hidden = requests.get(f"{jobs.served.base_url}{location}", headers=jobs.other_official)
    assert hidden.status_code == 404
