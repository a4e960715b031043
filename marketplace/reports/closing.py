"""Closing a month: an official closes it for their region (an admin for any), which freezes
its income report for the region and every region below it; reopening takes an admin and a
reason. Both are recorded as events.

While the close is written it holds the ledger's closing lock (``ledger.closing``), so every
entry is either in the snapshot or dated into the first open month: a closed month's report
equals its ledger, and never changes. Snapshots are the API's own output for each region,
taken in one go: a county of a few hundred villages is a few hundred reports, once a month.
"""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, NotFound, PermissionDenied
from marketplace.ledger.closing import (
    closed_months,
    lock_for_closing,
    record_close,
    record_reopening,
)
from marketplace.ledger.models import MonthClose
from marketplace.periods import Period
from marketplace.regions.service import subtree
from marketplace.reports import income
from marketplace.reports.models import ReportSnapshot
from marketplace.reports.schemas import IncomeReportOut
from marketplace.reports.scoping import CLOSES, reported_region


def close_month(session, actor: Actor, region_id: int, month: Period) -> MonthClose:
    region = reported_region(session, actor, region_id)
    if month.end >= shanghai_today():
        raise Conflict(
            f"{month.label} is not over yet: a month is closed after its last day.",
            errors={"month": ["not over yet"]},
        )
    lock_for_closing(session)
    if month.start in closed_months(session, region.id):
        raise Conflict(
            f"{month.label} is closed already for {region.name} or a region above it.",
            errors={"month": ["closed already"]},
        )
    close = record_close(session, region.id, month.start, actor_id=actor.user_id)
    regions = subtree(session, region)
    schema = IncomeReportOut()
    session.execute(
        sa.insert(ReportSnapshot),
        [
            {
                "close_id": close.id,
                "region_id": each.id,
                "month": month.start,
                "report": schema.dump(income.build_report(session, each, month)),
                "created_at": utcnow(),
            }
            for each in regions
        ],
    )
    session.flush()
    return close


def reopen_month(session, actor: Actor, close_id: int, reason: str) -> MonthClose:
    if actor.role is not Role.admin:
        raise PermissionDenied("Only an admin reopens a closed month.")
    close = session.execute(
        sa.select(MonthClose).where(MonthClose.id == close_id).with_for_update()
    ).scalar_one_or_none()
    if close is None:
        raise NotFound(f"Close {close_id} not found.")
    if not close.closed:
        raise Conflict(f"Close {close_id} was reopened already.")
    lock_for_closing(session)
    record_reopening(session, close, actor_id=actor.user_id, reason=reason)
    session.execute(sa.delete(ReportSnapshot).where(ReportSnapshot.close_id == close.id))
    session.flush()
    return close


def list_closes(session, actor: Actor, filters: dict, *, page: int, page_size: int):
    """The closes of regions in the actor's subtree, newest month first."""
    stmt = CLOSES.restrict(sa.select(MonthClose), actor)
    if filters.get("region_id") is not None:
        stmt = stmt.where(MonthClose.region_id == filters["region_id"])
    if filters.get("closed") is not None:
        stmt = stmt.where(MonthClose.closed.is_(filters["closed"]))
    return page_of(
        session,
        stmt,
        order_by=[MonthClose.month.desc(), MonthClose.id.desc()],
        page=page,
        page_size=page_size,
    )
