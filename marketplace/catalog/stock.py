"""What may be sold, and the stock it is sold from: the catalog's rules, for checkout.

A SKU is on sale while it is active, its product is active and it is priced in CNY. Stock is
taken only under the SKUs' row locks, taken in id order (so two baskets sharing SKUs queue
instead of deadlocking), and never below zero (a CHECK backs it). These are the only places the
rules are written: the step-by-step checkout calls the functions, and the one-statement checkout
builds its statement from ``locked_for_sale`` and ``stock_taken``.
"""

import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductStatus, Sku

#: The only currency this shop sells in.
CURRENCY = "CNY"


def on_sale(sku=Sku, product=Product) -> sa.ColumnElement[bool]:
    """Whether the SKU may be sold now (as a column of a statement reading both)."""
    return sa.and_(sku.is_active, product.status == ProductStatus.active, sku.currency == CURRENCY)


def can_serve(stock, quantity) -> sa.ColumnElement[bool]:
    """Whether ``stock`` units on the shelf serve ``quantity``."""
    return stock >= quantity


def locked_for_sale(sku_ids) -> sa.Select:
    """The SKUs ``sku_ids`` (a list, or a subquery of ids) with what a sale records of them and
    their products, locked in id order for the rest of the transaction. The lock returns each
    row as it is once locked, so what is read cannot move until commit. It is ``FOR NO KEY
    UPDATE`` (the stock is no key): two sales of a SKU still queue on it, but a transaction
    that inserts rows referring to the SKU (an import's order lines, which hold a KEY SHARE
    lock on it until their batch commits) does not hold a sale up."""
    return (
        sa.select(
            Sku.id,
            Sku.price_fen,
            Sku.currency,
            Sku.stock,
            Sku.is_active,
            Sku.spec,
            Sku.station_id,
            Sku.product_id,
            Product.name.label("product_name"),
            Product.status,
            Product.producer_id,
            on_sale().label("on_sale"),
        )
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sku_ids))
        .order_by(Sku.id)
        .with_for_update(of=Sku, key_share=True)
    )


def take_stock(session, wanted: dict[int, int]) -> int:
    """Take ``{sku id: units}`` off the shelf in one statement; only SKUs that still have
    enough change. Returns how many did."""
    amount = sa.case(wanted, value=Sku.id)
    result = session.execute(
        sa.update(Sku)
        .where(Sku.id.in_(wanted), can_serve(Sku.stock, amount))
        .values(stock=Sku.stock - amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def stock_taken(basket, gate, now) -> sa.Update:
    """For a statement that has locked the SKUs: take each ``basket`` row's ``quantity`` off
    the stock it locked (``basket.c.id``, ``basket.c.stock``), when ``gate`` (a CTE) has a row,
    at ``now`` (a bound parameter).

    It sets the locked figure less the quantity rather than filtering on the stock it scans:
    that is the statement's snapshot, from before it waited for the lock, and PostgreSQL
    re-checks only rows that passed the filter there, so a SKU restocked from 0 while the
    statement waited would be skipped. The caller checked ``can_serve`` on the locked figures,
    and the CHECK constraint backs it."""
    return (
        sa.update(Sku)
        .values(stock=basket.c.stock - basket.c.quantity, updated_at=now)
        .where(Sku.id == basket.c.id)
        .where(sa.exists(sa.select(1).select_from(gate)))
        .returning(Sku.id)
    )


def return_stock(session, returned: dict[int, int]) -> None:
    """Give units back to the shelf (a cancelled or expired order, a refund before shipping)."""
    if not returned:
        return
    amount = sa.case(returned, value=Sku.id)
    session.execute(
        sa.update(Sku)
        .where(Sku.id.in_(returned))
        .values(stock=Sku.stock + amount)
        .execution_options(synchronize_session=False)
    )
