"""Who sees which benefit-linking rules and assistance funds.

A rule is seen by whoever sees its producer; a fund by the officials of its region (stations
see none).
"""

from marketplace.accounts.scoping import ScopeRule
from marketplace.ledger.models import AssistanceFund, BenefitRule
from marketplace.producers.scoping import PRODUCERS
from marketplace.regions.service import in_subtree

BENEFIT_RULES = ScopeRule.through(BenefitRule, BenefitRule.producer_id, PRODUCERS)

FUNDS = ScopeRule(
    AssistanceFund,
    official=lambda a: in_subtree(AssistanceFund.region_id, a.region_path),
)
