"""Which regions an actor may report on, and which closes they see: the regions they oversee
(``regions.scoping.OVERSEEN_REGIONS``: an admin every region, an official their subtree,
nobody else any). Every report, report file and close goes through these; a region outside
them is a 404, as if it did not exist."""

from marketplace.accounts.auth import Actor
from marketplace.accounts.scoping import ScopeRule
from marketplace.closes.models import MonthClose
from marketplace.regions.models import Region
from marketplace.regions.scoping import OVERSEEN_REGIONS

#: A month's close is seen by whoever oversees its region.
CLOSES = ScopeRule.through(MonthClose, MonthClose.region_id, OVERSEEN_REGIONS)


def reported_region(session, actor: Actor, region_id: int) -> Region:
    """The region, if the actor may report on it."""
    return OVERSEEN_REGIONS.get(session, region_id, actor)
