"""A product's poverty-alleviation certificate (扶贫产品认定证书) and the ones it held before.

The product carries its current certificate (its columns, shown in every list); every
certificate it is given is also kept in ``product_certificates``, and stays there when the
product is given another or none. A sale is judged by the certificates valid on the day it
was paid (``certified_days``), so renewing, replacing or dropping a certificate today does not
change what last year's purchases counted for.
"""

from datetime import date

import sqlalchemy as sa

from marketplace.catalog.models import Product, ProductCertificate, certificate_valid_on


def apply_certificate(session, product: Product, certificate: dict | None, *, by: int | None):
    """Give the product ``certificate`` (None: none), keeping it in its history when it is
    one it did not hold already."""
    certificate = certificate or {}
    product.certificate_number = certificate.get("number")
    product.certificate_level = certificate.get("level")
    product.certificate_valid_from = certificate.get("valid_from")
    product.certificate_valid_to = certificate.get("valid_to")
    if product.certificate_number is None:
        return
    held = (
        product.certificate_number,
        product.certificate_level,
        product.certificate_valid_from,
        product.certificate_valid_to,
    )
    if product.id is not None and held in _history(session, product.id):
        return
    session.add(
        ProductCertificate(
            product=product,
            number=held[0],
            level=held[1],
            valid_from=held[2],
            valid_to=held[3],
            recorded_by_id=by,
        )
    )


def _history(session, product_id: int) -> set[tuple]:
    return {
        tuple(row)
        for row in session.execute(
            sa.select(
                ProductCertificate.number,
                ProductCertificate.level,
                ProductCertificate.valid_from,
                ProductCertificate.valid_to,
            ).where(ProductCertificate.product_id == product_id)
        )
    }


def certified_days(session, product_ids) -> "CertifiedDays":
    """The certificates the products ever held, to ask which were valid on a day."""
    ranges: dict[int, list[tuple[date, date | None]]] = {}
    if product_ids:
        rows = session.execute(
            sa.select(
                ProductCertificate.product_id,
                ProductCertificate.valid_from,
                ProductCertificate.valid_to,
            ).where(ProductCertificate.product_id.in_(set(product_ids)))
        )
        for product_id, valid_from, valid_to in rows:
            ranges.setdefault(product_id, []).append((valid_from, valid_to))
    return CertifiedDays(ranges)


class CertifiedDays:
    def __init__(self, ranges: dict[int, list[tuple[date, date | None]]]):
        self.ranges = ranges

    def on(self, product_id: int, day: date) -> bool:
        """Whether a certificate of the product was valid on ``day``."""
        return any(
            certificate_valid_on(valid_from, valid_to, day)
            for valid_from, valid_to in self.ranges.get(product_id, ())
        )
