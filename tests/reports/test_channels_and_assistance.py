"""The channel and livestream report, and the consumption-assistance report against the units'
quotas (only certified produce counts)."""

import itertools
from datetime import date, timedelta

import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.catalog.models import Product, ProductCertificate
from marketplace.clock import shanghai_today
from marketplace.db import utcnow
from marketplace.ledger.models import LedgerAccount, Posting
from marketplace.livestreams.models import HostKind, LivestreamSession, Platform, SessionState
from marketplace.orders.models import OrderLine, OrderStatus
from marketplace.periods import parse_period
from marketplace.platform_sales import recording as platform_sales
from marketplace.producers.models import (
    BuyingUnit,
    ProducerKind,
    UnitKind,
    UnitPurchaseQuota,
    UnitVillagePairing,
)
from marketplace.regions.models import Region
from marketplace.regions.service import subtree
from marketplace.reports import channels
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.orders.conftest import basket

_numbers = itertools.count(1)


def _session_of(session, shop) -> LivestreamSession:
    now = utcnow()
    live = LivestreamSession(
        code=f"CH{next(_numbers)}",
        title="蓝莓节",
        host_name="站长",
        host_kind=HostKind.station_operator,
        station_id=shop.station.id,
        platform=Platform.douyin,
        room_id=f"room-ch-{next(_numbers)}",
        scheduled_start=now - timedelta(hours=2),
        scheduled_end=now,
        state=SessionState.ended,
    )
    session.add(live)
    session.flush()
    return live


def _imported(session, shop, live, quantity):
    n = next(_numbers)
    sku = shop.sku_500g
    [(order_id, [line_id])] = platform_sales.record_sales(
        session,
        [
            platform_sales.Sale(
                platform="douyin",
                reference=f"CHDY{n}",
                number=f"IMCH{n}",
                note="douyin",
                placed_at=utcnow(),
                paid_at=utcnow(),
                livestream_session_id=live.id,
                status=OrderStatus.paid,
                lines=(
                    platform_sales.platform_line(
                        sku_id=sku.id,
                        product_id=sku.product_id,
                        station_id=sku.station_id,
                        producer_id=shop.producer.id,
                        product_name="野生蓝莓",
                        sku_spec=sku.spec,
                        unit_price_fen=sku.price_fen,
                        quantity=quantity,
                        discount_fen=0,
                        list_price_fen=sku.price_fen,
                    ),
                ),
            )
        ],
    )
    session.flush()
    return order_id, line_id


def test_channels_and_sessions_from_the_ledger(client, session, shop, money, pay, regions):
    own = pay((shop.sku_500g, 1))
    live = _session_of(session, shop)
    _imported(session, shop, live, 2)
    month = shanghai_today().strftime("%Y-%m")
    response = client.get(
        "/api/v1/reports/channels",
        query_string={"region_id": regions.county.id, "period": month},
        headers=money.official_headers,
    )
    assert response.status_code == 200, response.json
    report = response.json
    by_channel = {row["channel"]: row for row in report["by_channel"]}
    assert by_channel["web"]["gross_fen"] == own["total_fen"] == 6800
    assert by_channel["imported:douyin"]["gross_fen"] == 13600
    assert by_channel["imported:douyin"]["orders"] == 1
    [row] = report["by_session"]
    assert row["session_id"] == live.id and row["gross_fen"] == 13600
    # Attributed: the households' postings on those lines, to the fen.
    households = -session.execute(
        sa.select(sa.func.sum(Posting.amount_fen))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.kind == "household_income", Posting.order_line_id.is_not(None))
    ).scalar_one()
    assert report["totals"]["attributed_fen"] == households > 0
    assert report["totals"]["net_fen"] == 6800 + 13600
    # Township B has no such produce.
    other = client.get(
        "/api/v1/reports/channels",
        query_string={"region_id": regions.township_b.id, "period": month},
        headers=money.official_headers,
    ).json
    assert other["totals"]["gross_fen"] == 0 and other["by_channel"] == []


def test_assistance_counts_certified_produce_against_the_quota(
    client,
    session,
    shop,
    money,
    regions,
    make_user,
    auth,
    place,
):
    unit = BuyingUnit(
        name="青松县农业农村局", kind=UnitKind.government, region_id=regions.county.id
    )
    session.add(unit)
    session.flush()
    session.add(UnitPurchaseQuota(unit_id=unit.id, year=shanghai_today().year, quota_fen=100_000))
    session.add(
        UnitVillagePairing(
            unit_id=unit.id, village_id=regions.village_a1.id, since=date(2024, 1, 1)
        )
    )
    blueberries = session.get(Product, shop.blueberries.id)
    blueberries.certificate_number = "FP-2024-001"
    blueberries.certificate_level = "county"
    blueberries.certificate_valid_from = date(2024, 1, 1)
    blueberries.certificate_valid_to = None
    session.flush()
    headers = auth(make_user(Role.unit, unit_id=unit.id))
    for lines, reference in (([(shop.sku_500g, 2)], "U-1"), ([(shop.sku_ginseng, 1)], "U-2")):
        order = place(headers, basket(*lines)).json
        station = shop.station_headers if reference == "U-1" else shop.other_station_headers
        paid = client.post(
            f"/api/v1/orders/{order['id']}/offline-payments",
            json={"method": "invoice", "reference": reference, "amount_fen": order["total_fen"]},
            headers=station,
        )
        assert paid.status_code == 201, paid.json
    response = client.get(
        "/api/v1/reports/assistance",
        query_string={"region_id": regions.county.id, "year": shanghai_today().year},
        headers=money.official_headers,
    )
    assert response.status_code == 200, response.json
    [row] = [u for u in response.json["units"] if u["unit_id"] == unit.id]
    # The certified blueberries count; the uncertified ginseng is shown beside them.
    assert (row["certified_fen"], row["uncertified_fen"]) == (13600, 39900)
    assert row["quota_fen"] == 100_000 and row["completion_bp"] == 1360
    [village] = row["by_village"]
    assert village["village_id"] == regions.village_a1.id and village["certified_fen"] == 13600
    lines = session.execute(sa.select(sa.func.count()).select_from(OrderLine)).scalar_one()
    assert lines == 2


def test_a_purchase_is_judged_by_the_certificate_valid_on_its_day(
    client, session, shop, money, regions, make_user, auth, place
):
    """Certified when bought: renewing the certificate with one that starts later, or dropping
    it, leaves what the purchase counted for as it was."""
    unit = BuyingUnit(name="青松县扶贫办", kind=UnitKind.government, region_id=regions.county.id)
    session.add(unit)
    session.flush()
    product_url = f"/api/v1/products/{shop.blueberries.id}"

    def certify(certificate):
        version = client.get(product_url, headers=shop.station_headers).json["version"]
        changed = client.patch(
            product_url,
            json={"version": version, "certificate": certificate},
            headers=shop.station_headers,
        )
        assert changed.status_code == 200, changed.json

    certify({"number": "FP-2024-001", "level": "county", "valid_from": "2024-01-01"})
    headers = auth(make_user(Role.unit, unit_id=unit.id))
    order = place(headers, basket((shop.sku_500g, 2))).json
    paid = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={"method": "invoice", "reference": "U-9", "amount_fen": order["total_fen"]},
        headers=shop.station_headers,
    )
    assert paid.status_code == 201, paid.json

    def certified() -> int:
        report = client.get(
            "/api/v1/reports/assistance",
            query_string={"region_id": regions.county.id, "year": shanghai_today().year},
            headers=money.official_headers,
        ).json
        [row] = [u for u in report["units"] if u["unit_id"] == unit.id]
        return row["certified_fen"]

    assert certified() == 13600
    tomorrow = (shanghai_today() + timedelta(days=1)).isoformat()
    certify({"number": "FP-2026-777", "level": "provincial", "valid_from": tomorrow})
    assert certified() == 13600
    certify(None)
    assert certified() == 13600
    history = session.execute(
        sa.select(ProductCertificate.number)
        .where(ProductCertificate.product_id == shop.blueberries.id)
        .order_by(ProductCertificate.id)
    ).scalars()
    assert list(history) == ["FP-2024-001", "FP-2026-777"]


def _sales_in_two_townships(session, shop, pay, regions, make_producer, make_product):
    """Sales of a county-level enterprise's produce from township B, the shop's from township
    A, and one imported sale in a livestream session (returned)."""
    enterprise = make_producer(
        shop.other_station, kind=ProducerKind.enterprise, region_id=regions.county.id
    )
    mushrooms = make_product(
        shop.other_station, enterprise, name="黑木耳", origin_village_id=regions.village_b2.id
    )
    pay((shop.sku_500g, 2))
    pay((mushrooms.skus_created[0], 3), headers=shop.other_station_headers)
    live = _session_of(session, shop)
    _imported(session, shop, live, 1)
    return live


def test_every_report_of_a_county_is_the_sum_of_its_townships(
    client, session, shop, money, pay, regions, make_producer, make_product
):
    """A county-level enterprise's produce is placed by its village of origin (in township B),
    so the county's figures are its townships' added, in every report; and each report's
    rows add up to its totals."""
    _sales_in_two_townships(session, shop, pay, regions, make_producer, make_product)
    month = shanghai_today().strftime("%Y-%m")

    def report(kind: str, region) -> dict:
        response = client.get(
            f"/api/v1/reports/{kind}",
            query_string={"region_id": region.id, "period": month},
            headers=money.official_headers,
        )
        assert response.status_code == 200, response.json
        return response.json

    money_figures = ("gross_fen", "refunds_fen", "net_fen", "attributed_fen")
    county = report("channels", regions.county)
    townships = [report("channels", t) for t in (regions.township_a, regions.township_b)]
    for name in money_figures:
        assert county["totals"][name] == sum(t["totals"][name] for t in townships)
        assert county["totals"][name] == sum(row[name] for row in county["by_region"])
        assert county["totals"][name] == sum(row[name] for row in county["by_channel"])
    assert county["totals"]["gross_fen"] == 2 * 6800 + 3 * 6800 + 6800
    by_region = {row["region_id"]: row for row in county["by_region"]}
    assert by_region[regions.township_b.id]["gross_fen"] == 3 * 6800
    assert [t["totals"]["gross_fen"] for t in townships] == [3 * 6800, 3 * 6800]
    income_county = report("income", regions.county)
    income_townships = [report("income", t) for t in (regions.township_a, regions.township_b)]
    assert income_county["totals"]["net_fen"] == sum(
        t["totals"]["net_fen"] for t in income_townships
    )
    assert income_county["totals"]["net_fen"] == sum(
        row["net_fen"] for row in income_county["rows"]
    )


def test_the_subtree_read_at_once_gives_each_region_its_own_report(
    client, session, shop, money, pay, regions, make_producer, make_product
):
    """A close freezes every region's channel report from one read of the month's ledger
    (``build_reports``): each must be what the region's own report says, its orders,
    sessions and idle children included."""
    live = _sales_in_two_townships(session, shop, pay, regions, make_producer, make_product)
    _imported(session, shop, live, 2)
    month = parse_period(shanghai_today().strftime("%Y-%m"))
    county = session.get(Region, regions.county.id)
    everywhere = subtree(session, county)
    at_once = channels.build_reports(session, county, month, everywhere)
    assert set(at_once) == {region.id for region in everywhere}
    for region in everywhere:
        assert at_once[region.id] == channels.build_report(session, region, month), region.name
    assert at_once[county.id]["totals"]["orders"] == 4
    assert at_once[county.id]["by_session"][0]["orders"] == 2
