"""The scoping rules, checked directly: every role against rows inside and outside its scope."""

import pytest
import sqlalchemy as sa

from marketplace.accounts.auth import actor_for_token, new_token
from marketplace.accounts.models import ApiToken, Role
from marketplace.accounts.scoping import RULES, get_visible, restrict
from marketplace.catalog.models import Product
from marketplace.db import utcnow
from marketplace.errors import NotFound
from marketplace.households.models import Household
from marketplace.producers.models import Producer, Station


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


def visible_ids(session, model, actor):
    return set(session.execute(restrict(sa.select(model.id), model, actor)).scalars())


def test_admin_sees_everything(session, world, make_user, actor_of):
    admin = actor_of(make_user(Role.admin))
    assert {world.household_a.id, world.household_far.id} <= visible_ids(session, Household, admin)


def test_official_sees_only_their_subtree(session, regions, world, make_user, actor_of):
    township = actor_of(make_user(Role.official, region_id=regions.township_a.id))
    assert visible_ids(session, Household, township) == {
        world.household_a.id,
        world.household_a2.id,
    }
    county = actor_of(make_user(Role.official, region_id=regions.county.id))
    seen = visible_ids(session, Household, county)
    assert world.household_b.id in seen and world.household_far.id not in seen
    assert visible_ids(session, Station, county) == {world.station_a.id, world.station_b.id}
    assert world.product_far.id not in visible_ids(session, Product, county)


def test_station_sees_its_own_listings_and_its_village(session, world, make_user, actor_of):
    station = actor_of(make_user(Role.station, station_id=world.station_a.id))
    assert visible_ids(session, Household, station) == {world.household_a.id}
    assert visible_ids(session, Producer, station) == {world.producer_a.id}
    assert visible_ids(session, Product, station) == {world.product_a.id}
    assert visible_ids(session, Station, station) == {world.station_a.id}


def test_buyers_see_no_registry_data(session, world, make_user, actor_of):
    buyer = actor_of(make_user(Role.buyer))
    for model in (Household, Producer, Station, Product):
        assert visible_ids(session, model, buyer) == set()


def test_outside_scope_is_not_found(session, world, make_user, actor_of):
    station = actor_of(make_user(Role.station, station_id=world.station_a.id))
    assert get_visible(session, Product, world.product_a.id, station).id == world.product_a.id
    with pytest.raises(NotFound):
        get_visible(session, Product, world.product_b.id, station)


def test_every_rule_compiles_for_every_role(session, regions, world, make_user, actor_of):
    actors = [
        actor_of(make_user(Role.admin)),
        actor_of(make_user(Role.official, region_id=regions.county.id)),
        actor_of(make_user(Role.station, station_id=world.station_a.id)),
        actor_of(make_user(Role.buyer)),
    ]
    for model in RULES:
        for actor in actors:
            session.execute(restrict(sa.select(model.id), model, actor)).all()
