"""A year of the demo county's sales, so that officials' reports show a trend.

The stations sold on their Douyin shops every month of the year before the load: each month
some orders of each active SKU, more in the summer blueberry and autumn nut seasons, a few
refunded. They are recorded as imported platform sales (``platform_sales.recording``), the way
the stations' exports would be, so each is paid on its day in the past and attributed by the
rules in force then: the ledger's business days spread over the twelve months.

It also has 青松县农业农村局 buy for its paired villages this year (consumption assistance
against its quota): orders placed and paid at the stations on the day of the load.

Deterministic (a fixed random seed), and idempotent: when the first month's orders exist,
nothing is done; when the unit has orders, it buys nothing more.
"""

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.catalog.models import Product, ProductStatus, Sku
from marketplace.clock import SHANGHAI, shanghai_today
from marketplace.db import utcnow
from marketplace.orders import checkout
from marketplace.orders.models import Order, OrderStatus
from marketplace.payments.service import record_offline_payment
from marketplace.periods import next_month
from marketplace.platform_sales import recording as platform_sales
from marketplace.producers.models import Station
from seed.demo_livestream import actor_of

PREFIX = "IMDEMO"
#: How much each month sells, as a share of a base: the blueberry summer, the nut autumn.
SEASON = {1: 5, 2: 6, 3: 4, 4: 4, 5: 5, 6: 7, 7: 10, 8: 12, 9: 10, 10: 8, 11: 6, 12: 7}
#: The bureau's orders, one station each: (station user, [(SKU code, quantity)]). The rice is
#: not certified, so it counts as a purchase but not towards the certified share.
UNIT_ORDERS = (
    ("station_shenyuan", [("SYC-201", 10), ("SYC-261", 10)]),
    ("station_erdaohe", [("EDH-301", 20), ("EDH-341", 10)]),
    ("station_shenyuan", [("SYC-271", 20)]),
)
UNIT_ADDRESS = {
    "recipient_name": "赵国庆",
    "recipient_phone": "13904350601",
    "province": "吉林省",
    "city": "通化市",
    "district": "青松县",
    "address_line": "人民路 88 号 青松县农业农村局 食堂",
    "postal_code": "134000",
}


def load_history(session, created) -> None:
    if session.execute(sa.select(Order.id).where(Order.number.startswith(PREFIX))).first():
        return
    rng = random.Random(2025)
    skus = session.execute(
        sa.select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Product.status == ProductStatus.active, Sku.price_fen > 0)
        .order_by(Sku.id)
    ).all()
    this_month = shanghai_today().replace(day=1)
    first = this_month.replace(year=this_month.year - 1)
    month, number = first, 0
    sales, refunds = [], []
    while month < this_month:
        days = (next_month(month) - month).days
        for sku, product in skus:
            for _ in range(rng.randint(0, SEASON[month.month] // 3 + 1)):
                number += 1
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
                discount = (
                    rng.choice((0, 0, 0, 500, 1000)) if sku.price_fen * quantity > 3000 else 0
                )
                paid_at = datetime(
                    month.year,
                    month.month,
                    rng.randint(1, days),
                    rng.randint(8, 22),
                    rng.randint(0, 59),
                    tzinfo=SHANGHAI,
                )
                sales.append(
                    platform_sales.Sale(
                        platform="douyin",
                        reference=f"DEMO{number:06d}",
                        number=f"{PREFIX}{number:06d}",
                        note=f"douyin order 69209{number:011d} (demo history)",
                        placed_at=paid_at - timedelta(seconds=40),
                        paid_at=paid_at,
                        livestream_session_id=None,
                        status=OrderStatus.completed,
                        lines=(
                            platform_sales.platform_line(
                                sku_id=sku.id,
                                product_id=product.id,
                                station_id=sku.station_id,
                                producer_id=product.producer_id,
                                product_name=product.name,
                                sku_spec=sku.spec,
                                unit_price_fen=sku.price_fen,
                                quantity=quantity,
                                discount_fen=discount,
                                list_price_fen=sku.price_fen,
                            ),
                        ),
                    )
                )
                if rng.random() < 0.04:
                    refunds.append(len(sales) - 1)
        month = next_month(month)
    recorded = platform_sales.record_sales(session, sales)
    for index in refunds:
        order_id, (line_id,) = recorded[index]
        sale = sales[index]
        line = sale.lines[0]
        # Half the line back (a damaged box), or all of it, the week after the sale: dated in
        # the history, as the platform's export would date it, not on the day of the load.
        amount = line.line_total_fen if index % 2 else line.line_total_fen // 2
        platform_sales.refund(
            session,
            order_id,
            [(line_id, amount, line.quantity if amount == line.line_total_fen else 0)],
            reason="售后退款 (demo history)",
            refunded_at=min(sale.paid_at + REFUNDED_AFTER, utcnow()),
        )
    created["orders"] += len(sales)
    session.flush()


#: How long after a sale of the history its refund came.
REFUNDED_AFTER = timedelta(days=5)


def load_unit_purchases(session, created) -> None:
    unit_user = session.execute(sa.select(User).where(User.username == "unit_nongye")).scalar_one()
    if session.execute(sa.select(Order.id).where(Order.unit_id == unit_user.unit_id)).first():
        return
    as_unit = actor_of(unit_user)
    for number, (station_username, lines) in enumerate(UNIT_ORDERS, start=1):
        operator = session.execute(
            sa.select(User).where(User.username == station_username)
        ).scalar_one()
        station = session.get(Station, operator.station_id)
        skus = dict(
            session.execute(
                sa.select(Sku.code, Sku.id).where(
                    Sku.station_id == station.id, Sku.code.in_([code for code, _ in lines])
                )
            ).all()
        )
        order, _ = checkout.checkout(
            session,
            as_unit,
            {
                "lines": [{"sku_id": skus[code], "quantity": q} for code, q in lines],
                "shipping_address": dict(UNIT_ADDRESS),
                "live_price_only": False,
            },
            idempotency_key=f"demo-unit-{number}",
            hold=timedelta(minutes=30),
        )
        record_offline_payment(
            session,
            actor_of(operator, station),
            order.id,
            method="bank_transfer",
            reference=f"DEMO-UNIT-{number}",
            amount_fen=order.total_fen,
        )
        created["orders"] += 1
