"""Closing a month: an official closes it for their region (an admin for any), which freezes
every monthly report of the month for the region and every region below it (``frozen``): the
income and channels reports, and the region's households with their figures, which its
households file and coverage list are cut from. Reopening takes an admin and a reason, and
drops what the close froze. Both are recorded as events.

While the close is written it holds the closing lock (``closes.months``), so every entry and
every dated registry write is either in what it froze or sees the close (dated into the first
open month, or refused): a closed month's reports equal its ledger, and never change.
Snapshots are the API's own output for each region, taken in one go: a county of a few
hundred villages is a few hundred reports and one row per household, once a month.
"""

from itertools import islice

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role, User
from marketplace.clock import shanghai_today
from marketplace.closes.models import MonthClose, MonthCloseEvent
from marketplace.closes.months import (
    closed_months,
    lock_for_closing,
    record_close,
    record_reopening,
)
from marketplace.db import page_of, utcnow
from marketplace.errors import Conflict, NotFound, PermissionDenied
from marketplace.periods import Period
from marketplace.reasons import reason
from marketplace.regions.models import Region
from marketplace.regions.service import lineage_ids, subtree
from marketplace.reports import channels, income, income_households
from marketplace.reports.channels_schemas import ChannelReportOut
from marketplace.reports.frozen import CHANNELS, INCOME
from marketplace.reports.models import FrozenHousehold, ReportSnapshot
from marketplace.reports.schemas import IncomeReportOut
from marketplace.reports.scoping import CLOSES, reported_region

CLOSE_TOO_EARLY = reason(
    "month_close.too_early", "{month} is not over yet: a month is closed after its last day."
)
MONTH_NOT_OVER = reason("month_close.month_not_over", "not over yet")
CLOSED_ALREADY = reason(
    "month_close.closed_already",
    "{month} is closed already for {region_name} or a region above it.",
)
MONTH_CLOSED = reason("month_close.month_closed", "closed already")
REOPENING_NEEDS_ADMIN = reason(
    "month_close.reopening_needs_admin", "Only an admin reopens a closed month."
)
NO_SUCH_CLOSE = reason("month_close.not_found", "Close {close_id} not found.")
#: Frozen households written per statement.
_BATCH = 2000

REOPENED_ALREADY = reason("month_close.reopened_already", "Close {close_id} was reopened already.")


def close_month(session, actor: Actor, region_id: int, month: Period) -> MonthClose:
    region = reported_region(session, actor, region_id)
    if month.end >= shanghai_today():
        raise Conflict(CLOSE_TOO_EARLY(month=month.label), errors={"month": [MONTH_NOT_OVER()]})
    lock_for_closing(session)
    if month.start in closed_months(session, region.id):
        raise Conflict(
            CLOSED_ALREADY(month=month.label, region_name=region.name),
            errors={"month": [MONTH_CLOSED()]},
        )
    close = record_close(session, region.id, month.start, actor_id=actor.user_id)
    _freeze(session, close, region, month)
    session.flush()
    return close


def _freeze(session, close: MonthClose, region: Region, month: Period) -> None:
    """Take what the close freezes (``frozen`` reads it back)."""
    regions = subtree(session, region)
    # The channel reports of the whole subtree from one read of the month's ledger: read one
    # region at a time, a county's two hundred took most of a minute.
    by_channel = channels.build_reports(session, region, month, regions)
    income_out, channels_out = IncomeReportOut(), ChannelReportOut()
    session.execute(
        sa.insert(ReportSnapshot),
        [
            {
                "close_id": close.id,
                "region_id": each.id,
                "month": month.start,
                "kind": kind,
                "report": report,
                "created_at": utcnow(),
            }
            for each in regions
            for kind, report in (
                (INCOME, income_out.dump(income.build_report(session, each, month))),
                (CHANNELS, channels_out.dump(by_channel[each.id])),
            )
        ],
    )
    rows = income_households.live_household_rows(session, region, month)
    while batch := list(islice(rows, _BATCH)):
        session.execute(
            sa.insert(FrozenHousehold),
            [
                {
                    "close_id": close.id,
                    "household_id": row["household_id"],
                    "village_id": row["village_id"],
                    "status": row["status"],
                    "reached": row["reached"],
                    "row": row,
                }
                for row in batch
            ],
        )


def reopen_month(session, actor: Actor, close_id: int, reason: str) -> MonthClose:
    if actor.role is not Role.admin:
        raise PermissionDenied(REOPENING_NEEDS_ADMIN())
    close = session.execute(
        sa.select(MonthClose).where(MonthClose.id == close_id).with_for_update()
    ).scalar_one_or_none()
    if close is None:
        raise NotFound(NO_SUCH_CLOSE(close_id=close_id))
    if not close.closed:
        raise Conflict(REOPENED_ALREADY(close_id=close_id))
    lock_for_closing(session)
    record_reopening(session, close, actor_id=actor.user_id, reason=reason)
    session.execute(sa.delete(ReportSnapshot).where(ReportSnapshot.close_id == close.id))
    session.execute(sa.delete(FrozenHousehold).where(FrozenHousehold.close_id == close.id))
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


def close_history(session, actor: Actor, region_id: int, *, page: int, page_size: int):
    """Every close and reopening of the months of a region and of the regions above it that
    the actor sees (a county's close freezes its townships' months too), newest first: the
    month, whose close it was, what was done, by whom (their display name), when and why."""
    region = reported_region(session, actor, region_id)
    closes = CLOSES.visible_ids(actor).where(
        MonthClose.region_id.in_(lineage_ids(session, region.id))
    )
    stmt = (
        sa.select(
            MonthCloseEvent.id,
            MonthClose.month,
            Region.name.label("region_name"),
            MonthCloseEvent.action,
            User.display_name.label("by"),
            MonthCloseEvent.reason,
            MonthCloseEvent.created_at,
        )
        .join(MonthClose, MonthClose.id == MonthCloseEvent.close_id)
        .join(Region, Region.id == MonthClose.region_id)
        .outerjoin(User, User.id == MonthCloseEvent.actor_id)
        .where(MonthCloseEvent.close_id.in_(closes))
    )
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.order_by(MonthCloseEvent.created_at.desc(), MonthCloseEvent.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return rows, total
