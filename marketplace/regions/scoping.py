"""Which regions an actor oversees. Reading the tree is public; acting for a region (proposing
its payouts, closing its month) is for admins and the officials whose subtree holds it."""

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.scoping import ScopeRule
from marketplace.regions.models import Region
from marketplace.regions.service import ancestors, in_subtree

OVERSEEN_REGIONS = ScopeRule(Region, official=lambda a: in_subtree(Region.id, a.region_path))


def ancestors_seen_by(session, region: Region, actor: Actor) -> list[Region]:
    """The regions above ``region`` (county first) that ``actor`` oversees: for an official,
    those from their own region down."""
    above = ancestors(session, region)
    seen = set(
        session.execute(
            OVERSEEN_REGIONS.restrict(
                sa.select(Region.id).where(Region.id.in_([r.id for r in above])), actor
            )
        ).scalars()
    )
    return [r for r in above if r.id in seen]
