"""Who sees which stations, producers, co-operative memberships and buying units.

A station sees itself and the producers it manages; an official the stations, producers and
co-operatives of their subtree, and the buying units seated in it or paired with one of its
villages; a unit's users their own unit.
"""

import sqlalchemy as sa

from marketplace.accounts.scoping import ScopeRule
from marketplace.producers.models import (
    BuyingUnit,
    CooperativeMembership,
    Producer,
    Station,
    UnitVillagePairing,
)
from marketplace.regions.service import in_subtree

STATIONS = ScopeRule(
    Station,
    official=lambda a: in_subtree(Station.village_id, a.region_path),
    station=lambda a: Station.id == a.station_id,
)

PRODUCERS = ScopeRule(
    Producer,
    official=lambda a: in_subtree(Producer.region_id, a.region_path),
    station=lambda a: Producer.station_id == a.station_id,
)

MEMBERSHIPS = ScopeRule.through(
    CooperativeMembership, CooperativeMembership.cooperative_id, PRODUCERS
)

UNITS = ScopeRule(
    BuyingUnit,
    official=lambda a: sa.or_(
        in_subtree(BuyingUnit.region_id, a.region_path),
        BuyingUnit.id.in_(
            sa.select(UnitVillagePairing.unit_id).where(
                in_subtree(UnitVillagePairing.village_id, a.region_path)
            )
        ),
    ),
    unit=lambda a: BuyingUnit.id == a.unit_id,
)
