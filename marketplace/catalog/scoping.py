"""Who manages or oversees which products (the public storefront filters on status instead).

A station its own listings; an official those whose produce comes from their subtree.
"""

from marketplace.accounts.scoping import ScopeRule
from marketplace.catalog.models import Product, ProductImage, Sku
from marketplace.regions.service import in_subtree

PRODUCTS = ScopeRule(
    Product,
    official=lambda a: in_subtree(Product.origin_village_id, a.region_path),
    station=lambda a: Product.station_id == a.station_id,
)

SKUS = ScopeRule.through(Sku, Sku.product_id, PRODUCTS)
IMAGES = ScopeRule.through(ProductImage, ProductImage.product_id, PRODUCTS)
