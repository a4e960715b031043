"""A storefront page's rows as the cards ``ProductCardOut`` in schemas.py documents, with their
SKUs on sale (one statement for the page), as plain dicts (listing.py says why)."""

import sqlalchemy as sa

from marketplace.catalog.models import Sku, certificate_valid_on

_skus = Sku.__table__

_SKUS = (
    sa.select(
        _skus.c.product_id,
        _skus.c.id,
        _skus.c.code,
        _skus.c.spec,
        _skus.c.price_fen,
        _skus.c.currency,
        _skus.c.stock,
        _skus.c.weight_grams,
    )
    .where(_skus.c.product_id.in_(sa.bindparam("ids", expanding=True)), _skus.c.is_active.is_(True))
    .order_by(_skus.c.product_id, _skus.c.id)
)


def skus_of(connection, rows) -> dict[int, list[dict]]:
    """The SKUs on sale of the page's products, by product, in one statement."""
    skus_by_product: dict[int, list[dict]] = {row[0]: [] for row in rows}
    sku_rows = connection.execute(_SKUS, {"ids": list(skus_by_product)})
    for product_id, sku_id, code, spec, price, currency, stock, weight in sku_rows:
        skus_by_product[product_id].append(
            {
                "id": sku_id,
                "code": code,
                "spec": spec,
                "price_fen": price,
                "currency": currency,
                "stock": stock,
                "weight_grams": weight,
            }
        )
    return skus_by_product


def build_cards(rows, skus_by_product: dict, today, media_prefix: str) -> list[dict]:
    """The page's rows as the cards ``ProductCardOut`` documents."""
    cards = []
    for (
        product_id,
        name,
        subtitle,
        unit,
        min_price_fen,
        published_at,
        certificate_number,
        certificate_level,
        valid_from,
        valid_to,
        category_code,
        category_name,
        producer_id,
        producer_name,
        producer_kind,
        village_id,
        village_name,
        station_id,
        station_name,
        image_key,
        _first_key,
        _second_key,
        _counted,
    ) in rows:
        certificate = None
        if certificate_number is not None:
            certificate = {
                "number": certificate_number,
                "level": str(certificate_level),
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
                "valid_today": certificate_valid_on(valid_from, valid_to, today),
            }
        cards.append(
            {
                "id": product_id,
                "name": name,
                "subtitle": subtitle,
                "unit": unit,
                "min_price_fen": min_price_fen,
                "currency": "CNY",
                "published_at": published_at.isoformat() if published_at else None,
                "category": {"code": category_code, "name": category_name},
                "producer": {"id": producer_id, "name": producer_name, "kind": str(producer_kind)},
                "origin_village": {"id": village_id, "name": village_name},
                "station": {"id": station_id, "name": station_name},
                "certificate": certificate,
                "image_url": media_prefix + image_key if image_key else None,
                "skus": skus_by_product[product_id],
            }
        )
    return cards
