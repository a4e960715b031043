"""A product as its managers read it before an edit: in any state for its station, the admins
and the officials over its village; a 404 for another station even while it is on sale (the
storefront shows it to anyone, the edit page must not)."""

import pytest

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog import service
from marketplace.catalog.models import ProductStatus
from marketplace.errors import NotFound


def _station(world, user) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role.station,
        station_id=user.station_id,
        station_village_id=world.tree.village_a1.id,
    )


def test_a_station_reads_its_own_draft_and_not_anothers_product_on_sale(session, world, listed):
    draft = listed(world.station_a, world.producer_a, status=ProductStatus.draft)
    on_sale = listed(world.station_b, world.producer_b)
    own = _station(world, world.user_a)
    assert service.managed_product(session, own, draft.id).id == draft.id
    with pytest.raises(NotFound):
        service.managed_product(session, own, on_sale.id)
    # The storefront's read shows the same product to anyone.
    assert service.get_product(session, own, on_sale.id).id == on_sale.id
