"""A household's status over time: dated changes, appended, and the current status they give.

Back-dated changes are allowed (the registry is often updated late) down to the first open
month of the household's village (``closes.months``); a change dated in the future takes effect
on its day (``apply_due_status_changes``, run daily). Who reaches which
household is the registry's rule (``service.get_household``).
"""

from datetime import date

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.clock import shanghai_today
from marketplace.closes.months import refuse_if_closed
from marketplace.db import page_of, utcnow
from marketplace.households.models import Household, HouseholdStatusChange
from marketplace.households.service import get_household


def list_status_history(session, actor: Actor, household_id: int, *, page: int, page_size: int):
    household = get_household(session, actor, household_id)
    return page_of(
        session,
        sa.select(HouseholdStatusChange).where(HouseholdStatusChange.household_id == household.id),
        order_by=[HouseholdStatusChange.effective_from, HouseholdStatusChange.id],
        page=page,
        page_size=page_size,
    )


def _status_in_force(session, household_id: int, today: date):
    return session.execute(
        sa.select(HouseholdStatusChange.status, HouseholdStatusChange.monitoring_type)
        .where(
            HouseholdStatusChange.household_id == household_id,
            HouseholdStatusChange.effective_from <= today,
        )
        .order_by(HouseholdStatusChange.effective_from.desc(), HouseholdStatusChange.id.desc())
        .limit(1)
    ).first()


def record_status_change(
    session, actor: Actor, household_id: int, data: dict, *, today: date | None = None
) -> HouseholdStatusChange:
    """Append a dated status change and recompute the current status from the whole history.

    Back-dated changes are allowed (the registry is often updated late), but not into a month
    closed for the household's village (409 naming the close: the month was signed off with
    the status it had); a change dated in the future takes effect on its day (see
    ``apply_due_status_changes``).
    """
    today = today or shanghai_today()
    household = get_household(session, actor, household_id)
    refuse_if_closed(session, household.village_id, data["effective_from"], field="effective_from")
    change = HouseholdStatusChange(
        household_id=household.id,
        status=data["status"],
        monitoring_type=data["monitoring_type"],
        effective_from=data["effective_from"],
        note=data["note"],
        recorded_by_id=actor.user_id,
    )
    session.add(change)
    session.flush()
    in_force = _status_in_force(session, household.id, today)
    if in_force is not None:
        household.status, household.monitoring_type = in_force
    # Always a versioned UPDATE, even when the status stays: two changes appended at once
    # then conflict (one gets 409) instead of each recomputing without the other's row.
    household.updated_at = utcnow()
    session.flush()
    return change


def apply_due_status_changes(session, *, today: date | None = None) -> int:
    """Bring every household's current status up to date with the changes effective by
    ``today``: future-dated changes take effect when their day comes (run daily)."""
    today = today or shanghai_today()
    ranked = _latest_changes(HouseholdStatusChange.effective_from <= today)
    stale = session.execute(
        sa.select(Household, ranked.c.status, ranked.c.monitoring_type)
        .join(ranked, sa.and_(ranked.c.household_id == Household.id, ranked.c.rank == 1))
        .where(
            sa.or_(
                Household.status != ranked.c.status,
                Household.monitoring_type.is_distinct_from(ranked.c.monitoring_type),
            )
        )
        .order_by(Household.id)
    ).all()
    for household, status, monitoring_type in stale:
        household.status, household.monitoring_type = status, monitoring_type
    session.flush()
    return len(stale)


def latest_status_differences(session, *, shown: int = 20) -> list[str]:
    """Households whose ``latest_status`` is not the status of their latest change (by day,
    then id): the trigger that keeps it (migration 0025) was bypassed or dropped. Reports count
    coverage from it, so ``flask ledger check`` lists these beside the ledger's own findings."""
    ranked = _latest_changes(sa.true())
    found = session.execute(
        sa.select(Household.id, Household.latest_status, ranked.c.status)
        .outerjoin(ranked, sa.and_(ranked.c.household_id == Household.id, ranked.c.rank == 1))
        .where(Household.latest_status.is_distinct_from(ranked.c.status))
        .order_by(Household.id)
        .limit(shown)
    ).all()
    return [
        f"household {household_id}: latest_status is {kept}, its latest change says {latest}"
        for household_id, kept, latest in found
    ]


def _latest_changes(among):
    """Each household's changes ``among`` those given (a condition), ranked newest first (by
    day, then id): ``rank == 1`` is the one in force."""
    return (
        sa.select(
            HouseholdStatusChange.household_id,
            HouseholdStatusChange.status,
            HouseholdStatusChange.monitoring_type,
            sa.func.row_number()
            .over(
                partition_by=HouseholdStatusChange.household_id,
                order_by=(
                    HouseholdStatusChange.effective_from.desc(),
                    HouseholdStatusChange.id.desc(),
                ),
            )
            .label("rank"),
        )
        .where(among)
        .subquery()
    )
