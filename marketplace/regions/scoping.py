"""Which regions an actor oversees. Reading the tree is public; acting for a region (proposing
its payouts, closing its month) is for admins and the officials whose subtree holds it."""

from marketplace.accounts.scoping import ScopeRule
from marketplace.regions.models import Region
from marketplace.regions.service import in_subtree

OVERSEEN_REGIONS = ScopeRule(Region, official=lambda a: in_subtree(Region.id, a.region_path))
