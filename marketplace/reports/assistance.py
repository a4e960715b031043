"""Consumption assistance (消费帮扶): what buying units bought of a region's produce in a year,
against each unit's yearly purchase quota, by unit and by the villages it is paired with.

Purchases are the lines of units' orders paid in the year whose produce comes from the region
(the product's origin village, as for every sale), less their refunds. Only produce certified
as a poverty-alleviation product on the day the order was paid counts towards a quota (the
product's certificate as recorded now: its validity dates); the rest is reported beside it, so
the figure people argue about is never hidden. The units reported: those seated in the region,
those paired with one of its villages, and any that bought its produce in the year. A county's
purchases are the sum of its townships'; its quotas are those of the units it reports, which
include units seated at the county itself.
"""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.catalog.certificates import CertifiedDays, certified_days
from marketplace.catalog.models import Product, certificate_valid_on
from marketplace.clock import shanghai_date, shanghai_midnight
from marketplace.orders.models import Order, OrderLine, PaymentStatus
from marketplace.producers.models import (
    BuyingUnit,
    UnitPurchaseQuota,
    UnitVillagePairing,
)
from marketplace.regions.models import Region
from marketplace.regions.service import subtree_ids
from marketplace.reports.scoping import reported_region

_SOLD = (PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded)


def _figures() -> dict:
    return {"purchased_fen": 0, "certified_fen": 0, "uncertified_fen": 0, "orders": set()}


def assistance_report(session, actor: Actor, region_id: int, year: int) -> dict:
    region = reported_region(session, actor, region_id)
    in_region = subtree_ids(region.id)
    lines = _purchases(session, in_region, year)
    paired = _pairings(session, in_region)
    history = certified_days(session, {line[-1] for line in lines})
    by_unit, by_village = _tally(lines, paired, history)
    unit_ids = (
        set(by_unit)
        | set(paired)
        | set(
            session.execute(
                sa.select(BuyingUnit.id).where(BuyingUnit.region_id.in_(in_region))
            ).scalars()
        )
    )
    rows, totals = _unit_rows(session, year, unit_ids, paired, by_unit, by_village)
    return {
        "region": {"id": region.id, "name": region.name, "level": region.level},
        "year": year,
        "currency": "CNY",
        "totals": totals,
        "units": rows,
    }


def _purchases(session, in_region, year: int) -> list:
    """Units' order lines paid in the year of produce from the region: each line's unit,
    order, payment time, village, amount less refunds, and its product's certificate."""
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    return session.execute(
        sa.select(
            Order.unit_id,
            Order.id,
            Order.paid_at,
            Product.origin_village_id,
            OrderLine.line_total_fen - OrderLine.refunded_fen,
            Product.certificate_valid_from,
            Product.certificate_valid_to,
            Product.id,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.unit_id.is_not(None),
            Order.payment_status.in_(_SOLD),
            Order.paid_at >= shanghai_midnight(start),
            Order.paid_at < shanghai_midnight(end),
            Product.origin_village_id.in_(in_region),
        )
    ).all()


def _pairings(session, in_region) -> dict[int, set[int]]:
    """Each unit's paired villages in the region."""
    pairings = session.execute(
        sa.select(UnitVillagePairing.unit_id, UnitVillagePairing.village_id).where(
            UnitVillagePairing.village_id.in_(in_region)
        )
    ).all()
    paired = defaultdict(set)
    for unit_id, village_id in pairings:
        paired[unit_id].add(village_id)
    return paired


def _tally(lines, paired, history: CertifiedDays) -> tuple[dict, dict]:
    """The purchases summed by unit, and by unit and paired village (a village the unit is
    not paired with counts for the unit only). A line is certified when its product held a
    valid certificate on the day it was paid: the one it holds now, or one it held before."""
    by_unit: dict[int, dict] = defaultdict(_figures)
    by_village: dict[tuple[int, int], dict] = defaultdict(_figures)
    for unit_id, order_id, paid_at, village_id, amount, valid_from, valid_to, product_id in lines:
        day = shanghai_date(paid_at)
        certified = certificate_valid_on(valid_from, valid_to, day) or history.on(product_id, day)
        targets = [by_unit[unit_id]]
        if village_id in paired[unit_id]:
            targets.append(by_village[unit_id, village_id])
        for figures in targets:
            figures["purchased_fen"] += amount
            figures["certified_fen" if certified else "uncertified_fen"] += amount
            figures["orders"].add(order_id)
    return by_unit, by_village


def _unit_rows(session, year: int, unit_ids, paired, by_unit, by_village) -> tuple[list, dict]:
    """A row per unit reported (its quota for the year, its purchases, by paired village), in
    unit id order, and their totals."""
    units = {
        row.id: row
        for row in session.execute(
            sa.select(BuyingUnit.id, BuyingUnit.name, BuyingUnit.kind).where(
                BuyingUnit.id.in_(unit_ids)
            )
        )
    }
    quotas = dict(
        session.execute(
            sa.select(UnitPurchaseQuota.unit_id, UnitPurchaseQuota.quota_fen).where(
                UnitPurchaseQuota.unit_id.in_(unit_ids), UnitPurchaseQuota.year == year
            )
        ).all()
    )
    village_names = dict(
        session.execute(
            sa.select(Region.id, Region.name).where(
                Region.id.in_({village for villages in paired.values() for village in villages})
            )
        ).all()
    )
    rows = []
    totals = {"purchased_fen": 0, "certified_fen": 0, "uncertified_fen": 0, "quota_fen": 0}
    for unit_id in sorted(unit_ids):
        figures = _done(by_unit[unit_id])
        quota = quotas.get(unit_id)
        rows.append(
            {
                "unit_id": unit_id,
                "name": units[unit_id].name,
                "kind": units[unit_id].kind,
                "quota_fen": quota,
                # Basis points of the quota the certified purchases met (10000 = all of it).
                "completion_bp": figures["certified_fen"] * 10_000 // quota if quota else None,
                **figures,
                "by_village": [
                    {
                        "village_id": village_id,
                        "name": village_names[village_id],
                        **_done(by_village[unit_id, village_id]),
                    }
                    for village_id in sorted(paired[unit_id])
                ],
            }
        )
        for name in ("purchased_fen", "certified_fen", "uncertified_fen"):
            totals[name] += figures[name]
        totals["quota_fen"] += quota or 0
    return rows, totals


def _done(figures: dict) -> dict:
    return {**{k: v for k, v in figures.items() if k != "orders"}, "orders": len(figures["orders"])}
