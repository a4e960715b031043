"""The scoping rules, checked directly: every role against rows inside and outside its scope."""

import importlib
import pkgutil

import pytest
import sqlalchemy as sa

import marketplace
from marketplace.accounts.auth import actor_for_token, new_token
from marketplace.accounts.models import ApiToken, Role
from marketplace.accounts.scoping import ScopeRule
from marketplace.catalog.scoping import PRODUCTS
from marketplace.db import utcnow
from marketplace.errors import NotFound
from marketplace.households.scoping import HOUSEHOLDS
from marketplace.producers.scoping import PRODUCERS, STATIONS


def declared_rules() -> list[ScopeRule]:
    """Every rule of every domain's scoping module."""
    rules = []
    for package in pkgutil.iter_modules(marketplace.__path__):
        try:
            module = importlib.import_module(f"marketplace.{package.name}.scoping")
        except ModuleNotFoundError:
            continue
        rules += [value for value in vars(module).values() if isinstance(value, ScopeRule)]
    return rules


@pytest.fixture
def actor_of(session):
    def actor(user):
        token, token_hash = new_token()
        session.add(
            ApiToken(user_id=user.id, token_hash=token_hash, expires_at=utcnow().replace(year=2999))
        )
        session.flush()
        return actor_for_token(session, token)

    return actor


@pytest.fixture
def world(regions, make_household, make_station, make_producer, make_product):
    class World:
        station_a = make_station(regions.village_a1)
        station_b = make_station(regions.village_b1)
        station_far = make_station(regions.other_village)
        household_a = make_household(regions.village_a1)
        household_a2 = make_household(regions.village_a2)
        household_b = make_household(regions.village_b1)
        household_far = make_household(regions.other_village)
        producer_a = make_producer(station_a)
        producer_b = make_producer(station_b)
        producer_far = make_producer(station_far)
        product_a = make_product(station_a, producer_a)
        product_b = make_product(station_b, producer_b)
        product_far = make_product(station_far, producer_far)

    return World


def visible_ids(session, rule, actor):
    return set(session.execute(rule.visible_ids(actor)).scalars())


def test_admin_sees_everything(session, world, make_user, actor_of):
    admin = actor_of(make_user(Role.admin))
    assert {world.household_a.id, world.household_far.id} <= visible_ids(session, HOUSEHOLDS, admin)


def test_official_sees_only_their_subtree(session, regions, world, make_user, actor_of):
    township = actor_of(make_user(Role.official, region_id=regions.township_a.id))
    assert visible_ids(session, HOUSEHOLDS, township) == {
        world.household_a.id,
        world.household_a2.id,
    }
    county = actor_of(make_user(Role.official, region_id=regions.county.id))
    seen = visible_ids(session, HOUSEHOLDS, county)
    assert world.household_b.id in seen and world.household_far.id not in seen
    assert visible_ids(session, STATIONS, county) == {world.station_a.id, world.station_b.id}
    assert world.product_far.id not in visible_ids(session, PRODUCTS, county)


def test_station_sees_its_own_listings_and_its_village(session, world, make_user, actor_of):
    station = actor_of(make_user(Role.station, station_id=world.station_a.id))
    assert visible_ids(session, HOUSEHOLDS, station) == {world.household_a.id}
    assert visible_ids(session, PRODUCERS, station) == {world.producer_a.id}
    assert visible_ids(session, PRODUCTS, station) == {world.product_a.id}
    assert visible_ids(session, STATIONS, station) == {world.station_a.id}


def test_buyers_see_no_registry_data(session, world, make_user, actor_of):
    buyer = actor_of(make_user(Role.buyer))
    for rule in (HOUSEHOLDS, PRODUCERS, STATIONS, PRODUCTS):
        assert visible_ids(session, rule, buyer) == set()


def test_outside_scope_is_not_found(session, world, make_user, actor_of):
    station = actor_of(make_user(Role.station, station_id=world.station_a.id))
    assert PRODUCTS.get(session, world.product_a.id, station).id == world.product_a.id
    with pytest.raises(NotFound):
        PRODUCTS.get(session, world.product_b.id, station)


def test_every_rule_compiles_for_every_role(session, regions, world, make_user, actor_of):
    actors = [
        actor_of(make_user(Role.admin)),
        actor_of(make_user(Role.official, region_id=regions.county.id)),
        actor_of(make_user(Role.station, station_id=world.station_a.id)),
        actor_of(make_user(Role.buyer)),
    ]
    actors.append(actor_of(make_user(Role.unit, unit_id=_unit(session).id)))
    rules = declared_rules()
    assert len(rules) >= 15, [rule.model.__name__ for rule in rules]
    for rule in rules:
        for actor in actors:
            session.execute(rule.visible_ids(actor)).all()


def _unit(session):
    from marketplace.producers.models import BuyingUnit, UnitKind

    unit = BuyingUnit(name="青松县农业农村局", kind=UnitKind.government)
    session.add(unit)
    session.flush()
    return unit


def test_get_finds_what_the_actor_sees_for_every_rule_and_role(
    session, regions, world, make_user, actor_of
):
    """``ScopeRule.get`` runs a statement built once per role, the actor's values given as
    parameters: it must find exactly the rows the rule's own condition, built from the actor
    itself, lets them see (and no other), for every rule and every role, including a role
    whose actor lacks a value (a buyer has no station)."""
    unit = _unit(session)
    actors = [
        actor_of(make_user(Role.admin)),
        actor_of(make_user(Role.official, region_id=regions.county.id)),
        actor_of(make_user(Role.official, region_id=regions.township_a.id)),
        actor_of(make_user(Role.station, station_id=world.station_a.id)),
        actor_of(make_user(Role.station, station_id=world.station_far.id)),
        actor_of(make_user(Role.buyer)),
        actor_of(make_user(Role.unit, unit_id=unit.id)),
    ]
    checked = 0
    for rule in declared_rules():
        ids = list(session.execute(sa.select(rule.model.id)).scalars())
        for actor in actors:
            seen = visible_ids(session, rule, actor)
            for object_id in [*ids, max(ids, default=0) + 1]:
                try:
                    found = rule.get(session, object_id, actor)
                except NotFound:
                    assert object_id not in seen, (rule.model.__name__, actor.role, object_id)
                else:
                    assert found.id == object_id in seen, (rule.model.__name__, actor.role)
                    checked += 1
    assert checked > 30  # rows were found, so the refusals above are not the only answers
