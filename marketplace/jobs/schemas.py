from marshmallow import Schema, fields

from marketplace import i18n
from marketplace.jobs.models import JobState
from marketplace.jobs.service import progress


class JobQuery(Schema):
    kind = fields.String()
    state = fields.Enum(JobState)


class ProgressOut(Schema):
    done = fields.Integer(metadata={"description": "Rows done."})
    total = fields.Integer(allow_none=True, metadata={"description": "Rows in all, once known."})


class FailureOut(Schema):
    code = fields.String(metadata={"description": "The reason's code (x-reason-codes)."})
    params = fields.Dict()
    detail = fields.String(metadata={"description": "The reason, in the request's language."})


def _failure(job) -> dict | None:
    if job.failure is None:
        return None
    return {**job.failure, "detail": i18n.kept_in_language(job.failure, i18n.response_language())}


def _progress(job) -> dict:
    done, total = progress(job)
    return {"done": done, "total": total}


class JobOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    state = fields.Enum(JobState)
    created_by_id = fields.Integer()
    parameters = fields.Dict()
    progress = fields.Function(_progress, metadata={"description": "Rows done of rows total."})
    attempts = fields.Integer(metadata={"description": "How many times a worker took it."})
    result = fields.Dict(
        allow_none=True, metadata={"description": "What it made (its kind says what is in it)."}
    )
    failure = fields.Function(
        _failure,
        allow_none=True,
        metadata={"description": "Why it failed or was cancelled, in the request's language."},
    )
    files = fields.Method("_files", metadata={"description": "Links to the files it made."})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)

    def _files(self, job):
        made = (job.result or {}).get("files", [])
        return {name: f"/api/v1/jobs/{job.id}/files/{name}" for name in made}
