"""The demo catalog: products and SKUs from ``seed/data/products.json`` (see seed.demo)."""

from datetime import date

import sqlalchemy as sa

from marketplace.catalog.models import (
    Category,
    CertificationLevel,
    Product,
    ProductStatus,
    Sku,
    fold_for_search,
)
from marketplace.db import utcnow


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def search_text(product_name, subtitle, producer_name, village_name, category_name) -> str:
    """What the catalog's substring search looks in, built as the catalog service builds it
    (its own helper needs the product's relationships loaded, which bulk rows do not have)."""
    parts = (product_name, subtitle, producer_name, village_name, category_name)
    return fold_for_search(" ".join(part for part in parts if part))


def lowest_active_price(skus: list[dict]) -> int | None:
    prices = [sku["price_fen"] for sku in skus if sku.get("is_active", True)]
    return min(prices) if prices else None


def load_products(session, data, regions, stations, producers, created) -> None:
    categories = {c.code: c for c in session.execute(sa.select(Category)).scalars()}
    station_ids = [s.id for s in stations.values()]
    products = {
        (p.station_id, p.name): p
        for p in session.execute(
            sa.select(Product).where(Product.station_id.in_(station_ids))
        ).scalars()
    }
    sku_codes = set(
        session.execute(
            sa.select(Sku.station_id, Sku.code).where(Sku.station_id.in_(station_ids))
        ).tuples()
    )
    village_names = {region.id: region.name for region in regions.values()}
    now = utcnow()
    for item in data:
        station = stations[item["station"]]
        producer = producers[item["producer"]]
        product = products.get((station.id, item["name"]))
        if product is None:
            origin = regions[item["origin_village"]] if "origin_village" in item else None
            origin_id = origin.id if origin else producer.region_id
            category = categories[item["category"]]
            status = ProductStatus(item["status"])
            product = Product(
                station_id=station.id,
                producer_id=producer.id,
                origin_village_id=origin_id,
                category_id=category.id,
                name=item["name"],
                subtitle=item["subtitle"],
                description=item["description"],
                unit=item["unit"],
                status=status,
                min_price_fen=lowest_active_price(item["skus"]),
                search_text=search_text(
                    item["name"],
                    item["subtitle"],
                    producer.name,
                    village_names.get(origin_id),
                    category.name,
                ),
                published_at=None if status is ProductStatus.draft else now,
                **_certificate_fields(item.get("certificate")),
            )
            session.add(product)
            session.flush()
            products[(station.id, item["name"])] = product
            created["products"] += 1
        added_sku = False
        for sku in item["skus"]:
            if (station.id, sku["code"]) in sku_codes:
                continue
            session.add(
                Sku(
                    product_id=product.id,
                    station_id=station.id,
                    code=sku["code"],
                    spec=sku["spec"],
                    price_fen=sku["price_fen"],
                    currency="CNY",
                    stock=sku["stock"],
                    weight_grams=sku.get("weight_grams"),
                    is_active=sku.get("is_active", True),
                )
            )
            sku_codes.add((station.id, sku["code"]))
            created["skus"] += 1
            added_sku = True
        if added_sku and product.min_price_fen != lowest_active_price(item["skus"]):
            product.min_price_fen = lowest_active_price(item["skus"])
    session.flush()


def _certificate_fields(certificate: dict | None) -> dict:
    if not certificate:
        return {}
    return {
        "certificate_number": certificate["number"],
        "certificate_level": CertificationLevel(certificate["level"]),
        "certificate_valid_from": _day(certificate["valid_from"]),
        "certificate_valid_to": _day(certificate.get("valid_to")),
    }
