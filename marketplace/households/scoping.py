"""Who sees which rows of the registry.

A station works on the households of its own village; an official reads those of their subtree;
buyers and units see none. A household's status history and payout account follow it.
"""

from marketplace.accounts.scoping import ScopeRule
from marketplace.households.models import Household, HouseholdStatusChange, PayoutAccount
from marketplace.regions.service import in_subtree

HOUSEHOLDS = ScopeRule(
    Household,
    official=lambda a: in_subtree(Household.village_id, a.region_path),
    station=lambda a: Household.village_id == a.station_village_id,
)

STATUS_CHANGES = ScopeRule.through(
    HouseholdStatusChange, HouseholdStatusChange.household_id, HOUSEHOLDS
)
PAYOUT_ACCOUNTS = ScopeRule.through(PayoutAccount, PayoutAccount.household_id, HOUSEHOLDS)
