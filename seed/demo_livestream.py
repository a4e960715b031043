"""The demo's ended livestream: "县长来了", the deputy county head selling 蓝莓沟村's blueberries
on Douyin, with results to show.

It is made the way people make one, through the services: 蓝莓沟村's station schedules the
session, features its fresh blueberries at a live price, goes live and records the blueberry
co-op's pledge (10% of its net sales in the session to 蓝莓沟村's registered households); two
buyers order with the session's code and pay at the counter, one box is refunded; the station
imports the Douyin shop's export of the evening; the session ends, the station funds the pledge
(a share of a Douyin session's sales waits for its export) and the admin approves its
disbursement. Its times are moved to the hours before the load, so the session looks like one
that happened.

Idempotent like the rest of the demo: when the session's code exists, nothing is done.
"""

import io
from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User
from marketplace.catalog.models import Sku
from marketplace.clock import SHANGHAI
from marketplace.db import utcnow
from marketplace.ledger.pledges import funding as pledge_funding
from marketplace.ledger.pledges import service as pledges
from marketplace.ledger.pledges.models import PayerKind, PledgeKind
from marketplace.livestreams import live_prices, service
from marketplace.livestreams.models import HostKind, LivestreamSession, Platform, SessionState
from marketplace.orders import checkout
from marketplace.payments import refund_requests
from marketplace.payments.service import record_offline_payment
from marketplace.platform_sales import importing
from marketplace.platform_sales import mapping as platform_products
from marketplace.producers.models import Producer, Station

CODE = "QSXZ0912"
STATION = "QS-LMG-01"
CO_OP = "93229901MA0CLB7Q1F"
ADDRESS = {
    "recipient_name": "张伟",
    "recipient_phone": "13800138000",
    "province": "吉林省",
    "city": "长春市",
    "district": "朝阳区",
    "address_line": "人民大街 1000 号",
    "postal_code": "130000",
}
#: (buyer, [(SKU code, quantity)]) ordered in our own checkout with the session's code
OWN_ORDERS = (
    ("buyer_zhang", [("LMG-101", 2), ("LMG-111", 1)]),
    ("buyer_li", [("LMG-101", 3)]),
    ("buyer_zhang", [("LMG-131", 1)]),
)
#: Douyin rows: (sub-order, SKU code, quantity, unit price yuan, paid yuan, minutes into the
#: session, status, after-sales)
DOUYIN_ROWS = (
    ("6920990912000001", "LMG-101", 2, "39.80", "59.80", 12, "已完成", "-"),
    ("6920990912000002", "LMG-102", 1, "128.00", "118.00", 25, "已完成", "-"),
    ("6920990912000003", "LMG-111", 3, "45.80", "137.40", 41, "已发货", "-"),
    ("6920990912000004", "LMG-121", 1, "99.00", "99.00", 58, "已关闭", "退款成功"),
    ("6920990912000005", "LMG-101", 4, "39.80", "119.60", 73, "已发货", "-"),
    ("6920990912000006", "LMG-131", 2, "42.00", "84.00", 96, "已完成", "-"),
)
DOUYIN_HEADER = (
    "主订单编号,子订单编号,选购商品,商品ID,商品数量,商品单价,订单应付金额,订单提交时间,"
    "支付完成时间,订单状态,售后状态,流量体裁,达人ID,达人昵称"
)


def load_livestream(session, created) -> None:
    if session.execute(
        sa.select(LivestreamSession.id).where(LivestreamSession.code == CODE)
    ).first():
        return
    station = session.execute(sa.select(Station).where(Station.code == STATION)).scalar_one()
    users = {
        user.username: user
        for user in session.execute(
            sa.select(User).where(
                User.username.in_(["station_lanmeigou", "buyer_zhang", "buyer_li", "admin"])
            )
        ).scalars()
    }
    as_station = actor_of(users["station_lanmeigou"], station)
    as_admin = actor_of(users["admin"])
    skus = {
        sku.code: sku
        for sku in session.execute(sa.select(Sku).where(Sku.station_id == station.id)).scalars()
    }
    co_op = session.execute(sa.select(Producer).where(Producer.credit_code == CO_OP)).scalar_one()

    now = utcnow()
    start, end = now - timedelta(hours=3), now - timedelta(minutes=30)
    live = service.create_session(
        session,
        as_station,
        {
            "title": "县长来了：长白山蓝莓专场",
            "host_name": "刘明（青松县副县长）",
            "host_kind": HostKind.official,
            "host_account": "2299010000000001",
            "platform": Platform.douyin,
            "room_id": "qingsong-lanmeigou",
            "scheduled_start": start,
            "scheduled_end": end,
            "code": CODE,
        },
    )
    live_prices.feature(
        session, as_station, live.id, skus["LMG-101"].id, {"price_fen": 2990, "cap": 50}
    )
    service.move(session, as_station, live.id, SessionState.live, reason="开播")
    live.actual_start = start
    pledge = pledges.create_pledge(
        session,
        as_station,
        live.id,
        {
            "kind": PledgeKind.share_of_net,
            "payer_kind": PayerKind.producer,
            "producer_id": co_op.id,
            "share_bp": 1000,
            "village_id": station.village_id,
            "memo": "本场合作社净销售额的10%，平均分给蓝莓沟村建档立卡户",
        },
    )
    for number, (buyer, lines) in enumerate(OWN_ORDERS, start=1):
        order, _ = checkout.checkout(
            session,
            actor_of(users[buyer]),
            {
                "lines": [{"sku_id": skus[code].id, "quantity": q} for code, q in lines],
                "shipping_address": dict(ADDRESS),
                "livestream_code": CODE,
                "live_price_only": False,
            },
            idempotency_key=f"demo-live-{number}",
            hold=timedelta(minutes=30),
        )
        record_offline_payment(
            session,
            as_station,
            order.id,
            method="cash",
            reference=f"DEMO-LIVE-{number}",
            amount_fen=order.total_fen,
        )
        created["orders"] += 1
        if number == 2:
            refund_requests.request_refund(
                session,
                as_station,
                order.id,
                lines=[{"order_line_id": order.lines[0].id, "quantity": 1}],
                reason="一盒压坏",
            )
    platform_products.map_products(
        session,
        as_station,
        station.id,
        [
            {"platform": Platform.douyin, "outside_id": f"37{code}", "sku_id": sku.id}
            for code, sku in skus.items()
        ],
    )
    report = importing.import_export(
        session,
        as_station,
        station.id,
        importing.Upload(
            platform=Platform.douyin,
            stream=io.BytesIO(_douyin_export(start, skus).encode("utf-8-sig")),
            filename="抖店订单_县长来了.csv",
        ),
    )
    created["orders"] += report.created_lines
    service.move(session, as_station, live.id, SessionState.ended, reason="下播")
    live.actual_end = end
    # A share of a Douyin session's sales waits for the Douyin export; it is in: fund it.
    pledge_funding.fund_pledge(session, as_station, pledge.id)
    pledge_funding.approve_pledge(session, as_admin, pledge.id)
    created["livestream_sessions"] += 1
    created["pledges"] += 1
    session.flush()


def actor_of(user: User, station: Station | None = None) -> Actor:
    """The demo user acting through the services, as a signed-in request would."""
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        station_id=station.id if station else None,
        station_village_id=station.village_id if station else None,
        unit_id=user.unit_id,
    )


def _douyin_export(start, skus) -> str:
    rows = [DOUYIN_HEADER]
    for line_id, code, quantity, price, paid, minutes, status, after_sales in DOUYIN_ROWS:
        placed = (start + timedelta(minutes=minutes)).astimezone(SHANGHAI)
        at = placed.strftime("%Y-%m-%d %H:%M:%S")
        paid_at = (placed + timedelta(seconds=12)).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            f"\t{line_id},\t{line_id},{skus[code].spec},\t37{code},{quantity},{price},{paid},"
            f"{at},{paid_at},{status},{after_sales},直播,\t2299010000000001,青松县副县长"
        )
    return "\r\n".join(rows) + "\r\n"
