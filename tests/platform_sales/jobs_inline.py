"""A platform import posted through the test client, then its job run in the test's own
process and transaction (the real-worker runs are in ``tests/jobs``), answered as the upload's
outcome: 201 and the upload's record, 200 and a dry run's report, the job's failure as a 422
naming its field, or the refusal the request itself answered."""

from dataclasses import dataclass

from marketplace.extensions import db
from marketplace.jobs import running
from marketplace.jobs.models import Job, JobState


@dataclass
class Outcome:
    status_code: int
    json: dict
    job: dict | None = None
    headers: dict | None = None


def run_inline(job_id: int) -> Job:
    assert running.work(db.session, job_id, progress=lambda done, total: None) != "waiting"
    return db.session.get(Job, job_id, populate_existing=True)


def imported_through_job(client, response, headers) -> Outcome:
    if response.status_code != 202:
        return Outcome(response.status_code, response.json, headers=response.headers)
    job = run_inline(response.json["id"])
    seen = client.get(f"/api/v1/jobs/{job.id}", headers=headers).json
    if job.state is JobState.failed:
        failure = seen["failure"]
        problem = {"errors": {"file": [failure["detail"]]}, **failure}
        return Outcome(422, problem, seen, {"Content-Type": "application/problem+json"})
    assert job.state is JobState.succeeded, seen
    if job.result["dry_run"]:
        return Outcome(200, job.result["report"], seen)
    record = client.get(
        f"/api/v1/platform-imports/{job.result['platform_import_id']}", headers=headers
    )
    return Outcome(201, record.json, seen)
