"""Every table, imported so Alembic and the mappers see the whole schema."""

from marketplace.accounts.models import *  # noqa: F403
from marketplace.catalog.models import *  # noqa: F403
from marketplace.closes.models import *  # noqa: F403
from marketplace.households.models import *  # noqa: F403
from marketplace.idempotency import IdempotencyKey  # noqa: F401
from marketplace.ledger.models import *  # noqa: F403
from marketplace.ledger.pledges.models import *  # noqa: F403
from marketplace.ledger.village_rollups import VillageIncomeMonth, VillageReachMonth  # noqa: F401
from marketplace.livestreams.models import *  # noqa: F403
from marketplace.orders.models import *  # noqa: F403
from marketplace.payments.models import *  # noqa: F403
from marketplace.payouts.models import *  # noqa: F403
from marketplace.platform_sales.models import *  # noqa: F403
from marketplace.producers.models import *  # noqa: F403
from marketplace.regions.models import *  # noqa: F403
from marketplace.reports.models import *  # noqa: F403
