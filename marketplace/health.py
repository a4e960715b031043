"""Liveness with a real database round trip, for load balancers and `make run` smoke checks."""

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from marketplace.errors import problem_response
from marketplace.extensions import db
from marketplace.reasons import reason

DATABASE_CHECK_FAILED = reason("service.database_check_failed", "database check failed: {error}")

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        return problem_response(
            503,
            kind="database-unavailable",
            title="Service Unavailable",
            detail=DATABASE_CHECK_FAILED(error=type(error).__name__),
        )
    return jsonify(status="ok", database="ok")


@blp.get("/api/v1/ping")
def ping():
    """The trivial JSON endpoint that benchmarks measure the framework's own cost against."""
    return jsonify(pong=True)
