"""Platform sales are tied to the livestream sessions of the order tests' shop."""

from tests.livestreams.conftest import live, official  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket, place, shop  # noqa: F401  (shared fixtures)
