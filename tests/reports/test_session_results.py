"""Session results: the figures of a generated session (own checkout with the session's code,
platform sales imported into it, refunds of both) equal the ledger's, to the fen, and add up
across SKUs, producers and sources; who sees which lines; live while running, final after."""

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.db import utcnow
from marketplace.ledger.models import LedgerAccount, Posting
from marketplace.orders.models import Order, OrderLine, OrderStatus
from marketplace.platform_sales import recording as platform_sales
from tests.ledger.conftest import money  # noqa: F401  (shared fixture)
from tests.livestreams.conftest import SESSIONS, live, official  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket

_numbers = itertools.count(1)
FIGURES = ("gross_fen", "refunds_fen", "net_fen", "units", "units_refunded")


@pytest.fixture
def stock(shop, make_product):
    """Odd prices and stock for many examples, all the co-op's (whose members gain)."""
    product = make_product(
        shop.station,
        shop.producer,
        name="山野菜",
        skus=[
            {"spec": "a", "price_fen": 333, "stock": 100000},
            {"spec": "b", "price_fen": 12801, "stock": 100000},
            {"spec": "c", "price_fen": 7, "stock": 100000},
        ],
    )
    return product.skus_created


def ledger_of(session, session_id) -> dict:
    """What the ledger holds for the session's lines: the clearing accounts' net (sales less
    refunds) and the households' income (attribution less reversals)."""
    lines = (
        sa.select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.livestream_session_id == session_id)
    )
    rows = session.execute(
        sa.select(LedgerAccount.kind, sa.func.sum(Posting.amount_fen))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.order_line_id.in_(lines))
        .group_by(LedgerAccount.kind)
    ).all()
    by_kind = {kind.value: int(total) for kind, total in rows}
    return {
        "net_fen": by_kind.get("gateway_clearing", 0),
        "households_fen": -by_kind.get("household_income", 0),
    }


def start_session(client, shop, live):
    scheduled = live.schedule(room_id=f"room-{next(_numbers)}")
    return live.start(scheduled)


def own_sale(client, shop, place, code, lines, *, headers=None) -> dict:
    order = place(shop.buyer_headers, basket(*lines, livestream_code=code)).json
    paid = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={
            "method": "cash",
            "reference": f"R-{next(_numbers)}",
            "amount_fen": order["total_fen"],
        },
        headers=headers or shop.station_headers,
    )
    assert paid.status_code == 201, paid.json
    return order


def imported_sale(session, shop, session_id, sku, quantity, discount) -> tuple[int, int]:
    n = next(_numbers)
    [(order_id, [line_id])] = platform_sales.record_sales(
        session,
        [
            platform_sales.Sale(
                platform="douyin",
                reference=f"DY{n}",
                number=f"IMTEST{n}",
                note=f"douyin order DY{n}",
                placed_at=utcnow() - timedelta(minutes=5),
                paid_at=utcnow() - timedelta(minutes=5),
                livestream_session_id=session_id,
                status=OrderStatus.paid,
                lines=(
                    platform_sales.platform_line(
                        sku_id=sku.id,
                        product_id=sku.product_id,
                        station_id=sku.station_id,
                        producer_id=shop.producer.id,
                        product_name="山野菜",
                        sku_spec=sku.spec,
                        unit_price_fen=sku.price_fen,
                        quantity=quantity,
                        discount_fen=discount,
                        list_price_fen=sku.price_fen,
                    ),
                ),
            )
        ],
    )
    session.flush()
    return order_id, line_id


sale = st.one_of(
    st.tuples(
        st.just("own"),
        st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), min_size=1, max_size=3).map(
            lambda lines: sorted(dict(lines).items())
        ),
        st.integers(0, 4),
    ),
    st.tuples(
        st.just("douyin"), st.tuples(st.integers(0, 2), st.integers(1, 4)), st.integers(0, 6)
    ),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sales=st.lists(sale, min_size=1, max_size=6))
def test_results_equal_the_ledger_for_generated_sessions(
    client,
    session,
    shop,
    money,
    stock,
    place,
    live,
    sales,
):
    live_session = start_session(client, shop, live)
    expected = dict.fromkeys(FIGURES, 0)
    for source, what, refund in sales:
        if source == "own":
            lines = [(stock[i], quantity) for i, quantity in what]
            order = own_sale(client, shop, place, live_session["code"], lines)
            expected["gross_fen"] += order["total_fen"]
            expected["units"] += sum(quantity for _, quantity in lines)
            first = order["lines"][0]
            units = min(refund, first["quantity"])
            if units:
                refunded = client.post(
                    f"/api/v1/orders/{order['id']}/refunds",
                    json={
                        "reason": "坏果",
                        "lines": [{"order_line_id": first["id"], "quantity": units}],
                    },
                    headers=shop.station_headers,
                )
                assert refunded.status_code == 201, refunded.json
                expected["refunds_fen"] += refunded.json["amount_fen"]
                expected["units_refunded"] += units
        else:
            index, quantity = what
            sku = stock[index]
            discount = min(refund, sku.price_fen * quantity - 1)
            order_id, line_id = imported_sale(
                session, shop, live_session["id"], sku, quantity, discount
            )
            expected["gross_fen"] += sku.price_fen * quantity - discount
            expected["units"] += quantity
            if refund % 2:  # a platform refund of part of the line, no units back
                part = (sku.price_fen * quantity - discount + 1) // 2
                platform_sales.refund(session, order_id, [(line_id, part, 0)], reason="部分退款")
                session.flush()
                expected["refunds_fen"] += part
    expected["net_fen"] = expected["gross_fen"] - expected["refunds_fen"]

    results = client.get(
        f"{SESSIONS}/{live_session['id']}/results", headers=shop.admin_headers
    ).json
    assert {name: results[name] for name in FIGURES} == expected
    ledger = ledger_of(session, live_session["id"])
    assert results["net_fen"] == ledger["net_fen"]
    gained = sum(h["attributed_fen"] for h in results["households"])
    assert gained + results["other_households_fen"] == ledger["households_fen"]
    for breakdown in ("by_sku", "by_producer", "by_source"):
        for name in ("gross_fen", "refunds_fen", "net_fen", "units", "orders"):
            parts = sum(row[name] for row in results[breakdown])
            if name == "orders" and breakdown != "by_source":
                assert parts >= results[name]  # an order may hold several SKUs
            else:
                assert parts == results[name], (breakdown, name)
    sources = {row["source"] for row in results["by_source"]}
    assert sources == {"own" if s == "own" else "douyin" for s, _, _ in sales}
    live.end(live_session)


def test_results_are_live_then_final_and_scoped(
    client,
    session,
    shop,
    money,
    stock,
    place,
    live,
):
    live_session = start_session(client, shop, live)
    url = f"{SESSIONS}/{live_session['id']}/results"
    empty = client.get(url, headers=shop.station_headers).json
    assert (empty["gross_fen"], empty["orders"], empty["final"]) == (0, 0, False)
    own_sale(client, shop, place, live_session["code"], [(stock[1], 2)])
    # Another station's SKU ordered with this session's code: tied to the session, but its
    # money is the other station's to see.
    own_sale(
        client,
        shop,
        place,
        live_session["code"],
        [(shop.sku_ginseng, 1)],
        headers=shop.other_station_headers,
    )
    now = client.get(url, headers=shop.station_headers).json
    assert (now["gross_fen"], now["orders"], now["buyers"]) == (25602, 1, 1)
    admin = client.get(url, headers=shop.admin_headers).json
    assert admin["gross_fen"] == 25602 + shop.sku_ginseng.price_fen and admin["orders"] == 2
    # The co-op's members gained 80% of the net after the station's fee; their village is the
    # station's, so it sees them by name.
    assert {h["household_id"] for h in now["households"]} == {m.id for m in money.members}
    assert sum(h["attributed_fen"] for h in now["households"]) == ledger_of(
        session, live_session["id"]
    )["households_fen"] - ledger_of_other_station(session, shop, live_session["id"])
    live.end(live_session)
    final = client.get(url, headers=money.official_headers).json
    assert final["final"] is True and final["gross_fen"] == admin["gross_fen"]
    assert client.get(url, headers=money.official_far_headers).status_code == 404
    assert client.get(url, headers=shop.other_station_headers).status_code == 404
    assert client.get(url, headers=shop.buyer_headers).status_code == 403


def ledger_of_other_station(session, shop, session_id) -> int:
    lines = (
        sa.select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.livestream_session_id == session_id, OrderLine.station_id != shop.station.id)
    )
    total = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Posting.amount_fen), 0)).where(
            Posting.order_line_id.in_(lines), Posting.household_id.is_not(None)
        )
    ).scalar_one()
    return -int(total)


def test_a_township_official_reads_its_part_of_a_county_led_session(
    client, shop, money, place, live, regions
):
    county_led = live.schedule(
        headers=shop.admin_headers, region_id=regions.county.id, room_id="county-room"
    )
    for sku in (shop.sku_500g, shop.sku_ginseng):
        live.feature(county_led, sku, sku.price_fen - 100, headers=shop.admin_headers)
    live.start(county_led, headers=shop.admin_headers)
    own_sale(client, shop, place, county_led["code"], [(shop.sku_500g, 1)])
    own_sale(
        client,
        shop,
        place,
        county_led["code"],
        [(shop.sku_ginseng, 1)],
        headers=shop.other_station_headers,
    )
    url = f"{SESSIONS}/{county_led['id']}/results"
    county = client.get(url, headers=money.official_headers).json
    township = client.get(url, headers=money.official_b_headers)
    # The county-led session is the township's too: it sees it, and of its results the sale of
    # its own produce (the ginseng of township B), not the county's whole.
    assert township.status_code == 200, township.json
    assert county["gross_fen"] == shop.sku_500g.price_fen - 100 + shop.sku_ginseng.price_fen - 100
    assert township.json["gross_fen"] == shop.sku_ginseng.price_fen - 100
    listed = client.get(SESSIONS, headers=money.official_b_headers).json
    assert county_led["id"] in {s["id"] for s in listed}
    assert client.get(url, headers=money.official_far_headers).status_code == 404
