"""The reconciliation of a large ledger, run by a job: checking every invariant reads the whole
ledger, about a minute for a generated county's ten million postings, past a request's
timeout. ``GET /reconciliation`` on a ledger of more than ``RECONCILIATION_JOB_POSTINGS``
postings answers 202 with the job's link; the job's result is the body the request would have
answered (``reconciliation.as_body``). A smaller ledger is still checked in the request.

Reconciliations run one at a time (a second one queues behind the first): each reads the
whole ledger, and two at once would only halve each other's speed."""

import sqlalchemy as sa
from flask import Response, current_app

from marketplace.accounts.auth import Actor
from marketplace.jobs.api import accepted
from marketplace.jobs.kinds import Outcome, register
from marketplace.jobs.models import Job
from marketplace.jobs.service import start_job
from marketplace.ledger.models import Posting
from marketplace.reports import reconciliation

KIND = "reconciliation"


def too_large(session) -> bool:
    """Whether the ledger is past what a request checks. Postings are never deleted, so the
    newest one's id counts them (rolled-back inserts aside) from the primary key's end, where
    a count would itself read the whole table."""
    newest = session.execute(sa.select(sa.func.max(Posting.id))).scalar_one()
    return (newest or 0) > current_app.config["RECONCILIATION_JOB_POSTINGS"]


def start_reconciliation(session, actor: Actor) -> Response:
    """Queue the reconciliation; the answer is the job, 202, its link in Location."""
    job = start_job(
        session,
        actor,
        KIND,
        data=b"",
        media_type="application/octet-stream",
        parameters={},
        serial_key=KIND,
    )
    session.flush()
    return accepted(job)


@register(KIND)
def run_reconciliation(session, job: Job, inputs, progress):
    report = reconciliation.run(session, progress=progress)
    return Outcome(reconciliation.as_body(report), {})
