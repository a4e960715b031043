"""The benchmark catalog generator: consistent rows, and safe to run again."""

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.catalog.models import Product, Sku
from marketplace.households.models import Household
from seed.scale import BENCH_BUYER_USERNAME, generate


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_generates_the_requested_catalog_and_reuses_its_county(session):
    made = generate(session, products=60, skus_per_product=3, households=40)
    assert made == {"products": 60, "skus": 180}
    households = _count(session, Household)

    generate(session, products=10, skus_per_product=1, households=40)

    assert _count(session, Product) == 70
    assert _count(session, Sku) == 190
    assert _count(session, Household) == households
    buyers = session.scalars(sa.select(User).where(User.username == BENCH_BUYER_USERNAME)).all()
    assert len(buyers) == 1


def test_min_price_is_the_lowest_active_sku_price(session):
    generate(session, products=80, skus_per_product=3, households=40)
    lowest = dict(
        session.execute(
            sa.select(Sku.product_id, sa.func.min(Sku.price_fen))
            .where(Sku.is_active)
            .group_by(Sku.product_id)
        ).all()
    )
    products = session.scalars(sa.select(Product)).all()
    assert all(p.min_price_fen == lowest.get(p.id) for p in products)
    assert all(p.name in p.search_text for p in products)
    assert all(isinstance(price, int) and price > 0 for price in lowest.values())
