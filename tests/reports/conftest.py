"""The reports read what the ledger tests build: paid orders of a co-operative with members."""

from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)
