"""Who sees which payout runs: the officials of the run's region; nobody else but admins (the
lines carry card numbers)."""

from marketplace.accounts.scoping import ScopeRule
from marketplace.payouts.models import PayoutRun
from marketplace.regions.service import in_subtree

PAYOUT_RUNS = ScopeRule(
    PayoutRun,
    official=lambda a: in_subtree(PayoutRun.region_id, a.region_path),
)
