"""Who may see which rows: the one place where scoping is decided.

Every list and lookup of scoped data goes through ``restrict()`` or ``get_visible()``, so a
station never reaches another station's rows and an official never leaves their subtree. An
object outside the actor's scope is reported as missing (404), never as forbidden, so its
existence does not leak.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, ProductImage, Sku
from marketplace.errors import NotFound
from marketplace.households.models import Household, HouseholdStatusChange, PayoutAccount
from marketplace.ledger.models import AssistanceFund
from marketplace.payouts.models import PayoutRun
from marketplace.producers.models import (
    BuyingUnit,
    CooperativeMembership,
    Producer,
    Station,
    UnitVillagePairing,
)
from marketplace.regions.models import Region


def in_subtree(region_column, region_path: str):
    """``region_column`` names a region inside the subtree whose root has ``region_path``."""
    return region_column.in_(sa.select(Region.id).where(Region.path.startswith(region_path)))


@dataclass(frozen=True)
class ScopeRule:
    """How each role reaches a model's rows; ``None`` means the role sees none of them."""

    official: Callable[[Actor], sa.ColumnElement] | None = None
    station: Callable[[Actor], sa.ColumnElement] | None = None
    unit: Callable[[Actor], sa.ColumnElement] | None = None
    buyer: Callable[[Actor], sa.ColumnElement] | None = None

    def clause(self, actor: Actor) -> sa.ColumnElement:
        if actor.role is Role.admin:
            return sa.true()
        make = getattr(self, actor.role.value)
        return make(actor) if make is not None else sa.false()


def _household_rule(household_id) -> ScopeRule:
    return ScopeRule(
        official=lambda a: household_id.in_(
            sa.select(Household.id).where(in_subtree(Household.village_id, a.region_path))
        ),
        station=lambda a: household_id.in_(
            sa.select(Household.id).where(Household.village_id == a.station_village_id)
        ),
    )


def _product_rule(product_id) -> ScopeRule:
    return ScopeRule(
        official=lambda a: product_id.in_(
            sa.select(Product.id).where(in_subtree(Product.origin_village_id, a.region_path))
        ),
        station=lambda a: product_id.in_(
            sa.select(Product.id).where(Product.station_id == a.station_id)
        ),
    )


RULES: dict[type, ScopeRule] = {
    # Registry data: a station works on the households of its own village.
    Household: ScopeRule(
        official=lambda a: in_subtree(Household.village_id, a.region_path),
        station=lambda a: Household.village_id == a.station_village_id,
    ),
    HouseholdStatusChange: _household_rule(HouseholdStatusChange.household_id),
    PayoutAccount: _household_rule(PayoutAccount.household_id),
    Station: ScopeRule(
        official=lambda a: in_subtree(Station.village_id, a.region_path),
        station=lambda a: Station.id == a.station_id,
    ),
    Producer: ScopeRule(
        official=lambda a: in_subtree(Producer.region_id, a.region_path),
        station=lambda a: Producer.station_id == a.station_id,
    ),
    CooperativeMembership: ScopeRule(
        official=lambda a: CooperativeMembership.cooperative_id.in_(
            sa.select(Producer.id).where(in_subtree(Producer.region_id, a.region_path))
        ),
        station=lambda a: CooperativeMembership.cooperative_id.in_(
            sa.select(Producer.id).where(Producer.station_id == a.station_id)
        ),
    ),
    BuyingUnit: ScopeRule(
        official=lambda a: sa.or_(
            in_subtree(BuyingUnit.region_id, a.region_path),
            BuyingUnit.id.in_(
                sa.select(UnitVillagePairing.unit_id).where(
                    in_subtree(UnitVillagePairing.village_id, a.region_path)
                )
            ),
        ),
        unit=lambda a: BuyingUnit.id == a.unit_id,
    ),
    # Management views of the catalog; the public storefront filters on status instead.
    Product: ScopeRule(
        official=lambda a: in_subtree(Product.origin_village_id, a.region_path),
        station=lambda a: Product.station_id == a.station_id,
    ),
    Sku: _product_rule(Sku.product_id),
    ProductImage: _product_rule(ProductImage.product_id),
    # Payout runs: an official sees the runs of regions inside their subtree; nobody else but
    # admins (the lines carry card numbers).
    PayoutRun: ScopeRule(official=lambda a: in_subtree(PayoutRun.region_id, a.region_path)),
    # Assistance funds: overseen by the officials of the fund's region; stations see none.
    AssistanceFund: ScopeRule(
        official=lambda a: in_subtree(AssistanceFund.region_id, a.region_path)
    ),
}


def scope_clause(model: type, actor: Actor) -> sa.ColumnElement:
    try:
        rule = RULES[model]
    except KeyError:
        raise LookupError(f"{model.__name__} has no scope rule; add one to RULES") from None
    return rule.clause(actor)


def restrict(stmt: sa.Select, model: type, actor: Actor) -> sa.Select:
    """``stmt`` narrowed to the rows of ``model`` that ``actor`` may see."""
    return stmt.where(scope_clause(model, actor))


def get_visible(session, model: type, object_id: int, actor: Actor, *, options=()):
    """The object if ``actor`` may see it; otherwise NotFound, exactly as if it did not exist."""
    stmt = restrict(sa.select(model).where(model.id == object_id), model, actor)
    found = session.execute(stmt.options(*options)).unique().scalar_one_or_none()
    if found is None:
        raise NotFound(f"{model.__name__} {object_id} not found.")
    return found
