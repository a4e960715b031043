"""Who sees a pledge: whoever sees its session."""

from marketplace.accounts.scoping import ScopeRule
from marketplace.ledger.pledges.models import Pledge
from marketplace.livestreams.scoping import SESSIONS

PLEDGES = ScopeRule.through(Pledge, Pledge.session_id, SESSIONS)
