"""Co-operative memberships: which households hold how many shares of a co-operative, when.

Memberships are history: changing a household's shares ends the old membership the day before
and starts a new one, so dividends computed for any past day use the shares of that day. A
member lives in the co-operative's county.
"""

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.accounts.auth import Actor
from marketplace.db import page_of
from marketplace.errors import NotFound, ValidationFailed
from marketplace.producers.models import CooperativeMembership, Producer, ProducerKind
from marketplace.producers.scoping import PRODUCERS
from marketplace.producers.service import household_in_county
from marketplace.reasons import reason
from marketplace.regions.service import county_id_of

NOT_A_COOPERATIVE = reason(
    "membership.not_a_cooperative", "producer {producer_id} is a {kind}, not a co-op"
)
HOUSEHOLD_OUTSIDE_COUNTY = reason(
    "membership.household_outside_county",
    "no household {household_id} in the co-operative's county",
)
OVERLAPPING = reason(
    "membership.overlapping", "already a member in that period (joined {joined_on})"
)
NO_SUCH_MEMBERSHIP = reason(
    "membership.not_found", "Membership {membership_id} of producer {producer_id} not found."
)
ENDED = reason("membership.ended", "the membership ended on {left_on}; history stays as it was")
LEFT_BEFORE_JOINING = reason("membership.left_before_joining", "before joining on {joined_on}")
SAME_SHARES = reason("membership.same_shares", "already {shares}")
CHANGE_BEFORE_JOINING = reason(
    "membership.change_before_joining", "must be after joining on {joined_on}"
)


def _in_force_on(day: date):
    return sa.and_(
        CooperativeMembership.joined_on <= day,
        sa.or_(CooperativeMembership.left_on.is_(None), CooperativeMembership.left_on >= day),
    )


def active_members(session, cooperative_id: int, on_date: date) -> list[tuple[int, int]]:
    """``(household_id, shares)`` of the members of a co-operative on ``on_date``, sorted by
    household id: the basis for splitting a sale of that day among the members."""
    rows = session.execute(
        sa.select(CooperativeMembership.household_id, sa.func.sum(CooperativeMembership.shares))
        .where(CooperativeMembership.cooperative_id == cooperative_id, _in_force_on(on_date))
        .group_by(CooperativeMembership.household_id)
        .order_by(CooperativeMembership.household_id)
    )
    return [(household_id, int(shares)) for household_id, shares in rows]


def list_members(session, actor: Actor, producer_id: int, filters: dict, *, page, page_size):
    """A co-operative's memberships, all periods unless ``on`` picks the ones of one day."""
    cooperative = PRODUCERS.get(session, producer_id, actor)
    stmt = sa.select(CooperativeMembership).where(
        CooperativeMembership.cooperative_id == cooperative.id
    )
    if filters.get("on") is not None:
        stmt = stmt.where(_in_force_on(filters["on"]))
    if filters.get("household_id") is not None:
        stmt = stmt.where(CooperativeMembership.household_id == filters["household_id"])
    return page_of(
        session,
        stmt,
        order_by=[
            CooperativeMembership.household_id,
            CooperativeMembership.joined_on,
            CooperativeMembership.id,
        ],
        page=page,
        page_size=page_size,
        options=[selectinload(CooperativeMembership.household)],
    )


def _cooperative_for_change(session, actor: Actor, producer_id: int) -> Producer:
    producer = PRODUCERS.get(session, producer_id, actor)
    if producer.kind is not ProducerKind.cooperative:
        kind = producer.kind.value
        raise ValidationFailed(
            {"producer_id": [NOT_A_COOPERATIVE(producer_id=producer_id, kind=kind)]}
        )
    # Membership checks read, then write: one writer per co-operative at a time (PostgreSQL;
    # SQLite serializes writers anyway and renders no FOR UPDATE).
    session.execute(sa.select(Producer.id).where(Producer.id == producer.id).with_for_update())
    return producer


def add_member(session, actor: Actor, producer_id: int, data: dict) -> CooperativeMembership:
    """A household joins a co-operative. It must live in the co-operative's county and not
    already be a member on or after ``joined_on``."""
    cooperative = _cooperative_for_change(session, actor, producer_id)
    household_id = data["household_id"]
    county_id = county_id_of(session, cooperative.region_id)
    household = household_in_county(session, household_id, county_id)
    if household is None:
        raise ValidationFailed(
            {"household_id": [HOUSEHOLD_OUTSIDE_COUNTY(household_id=household_id)]}
        )
    overlapping = session.execute(
        sa.select(CooperativeMembership.joined_on)
        .where(
            CooperativeMembership.cooperative_id == cooperative.id,
            CooperativeMembership.household_id == household_id,
            sa.or_(
                CooperativeMembership.left_on.is_(None),
                CooperativeMembership.left_on >= data["joined_on"],
            ),
        )
        .limit(1)
    ).scalar_one_or_none()
    if overlapping is not None:
        raise ValidationFailed({"household_id": [OVERLAPPING(joined_on=overlapping)]})
    membership = CooperativeMembership(
        cooperative_id=cooperative.id,
        household=household,
        shares=data["shares"],
        joined_on=data["joined_on"],
    )
    session.add(membership)
    session.flush()
    return membership


def change_member(
    session, actor: Actor, producer_id: int, membership_id: int, data: dict
) -> CooperativeMembership:
    """End a membership (``left_on``), or change its shares from ``effective_from``: the old
    membership then ends the day before and a new one starts. Returns the membership that
    results: the ended one, or the new one."""
    cooperative = _cooperative_for_change(session, actor, producer_id)
    membership = session.execute(
        sa.select(CooperativeMembership)
        .where(
            CooperativeMembership.id == membership_id,
            CooperativeMembership.cooperative_id == cooperative.id,
        )
        .options(selectinload(CooperativeMembership.household))
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound(NO_SUCH_MEMBERSHIP(membership_id=membership_id, producer_id=producer_id))
    changed = "left_on" if "left_on" in data else "shares"
    if membership.left_on is not None:
        raise ValidationFailed({changed: [ENDED(left_on=membership.left_on)]})
    if "left_on" in data:
        if data["left_on"] < membership.joined_on:
            raise ValidationFailed(
                {"left_on": [LEFT_BEFORE_JOINING(joined_on=membership.joined_on)]}
            )
        membership.left_on = data["left_on"]
        session.flush()
        return membership
    if data["shares"] == membership.shares:
        raise ValidationFailed({"shares": [SAME_SHARES(shares=membership.shares)]})
    if data["effective_from"] <= membership.joined_on:
        raise ValidationFailed(
            {"effective_from": [CHANGE_BEFORE_JOINING(joined_on=membership.joined_on)]}
        )
    membership.left_on = data["effective_from"] - timedelta(days=1)
    successor = CooperativeMembership(
        cooperative_id=cooperative.id,
        household=membership.household,
        shares=data["shares"],
        joined_on=data["effective_from"],
    )
    session.add(successor)
    session.flush()
    return successor
