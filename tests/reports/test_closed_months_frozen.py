"""A closed month never changes: after a close, every kind of write that can carry a date in
the month is made (a sale paid at the counter, a refund, a back-dated status change, a
registration whose status dates from the month, a household renamed and moved to another
village), and every report and download of the month, at every level, is compared byte for
byte with what it was right after the close. A write that would change what was signed off is
refused with a 409 naming the close, or takes effect from the first open month and says so."""

from datetime import timedelta

import pytest

from marketplace.clock import shanghai_today
from marketplace.periods import next_month
from marketplace.reports import closing
from tests.conftest import _valid_id_number
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)

REPORTS = "/api/v1/reports"


@pytest.fixture
def month_over(monkeypatch):
    """This month, treated as over: closing asks whether its last day has passed."""
    this_month = shanghai_today().replace(day=1)
    later = next_month(this_month) + timedelta(days=3)
    monkeypatch.setattr(closing, "shanghai_today", lambda: later)
    return this_month, next_month(this_month)


def _everything(client, headers, regions, members, month: str) -> dict[str, bytes]:
    """Every report and download of the month, by what was asked: the bodies as served."""
    served = {}
    for region in (regions.county, regions.township_a, regions.village_a1, regions.village_a2):
        query = {"region_id": region.id, "period": month}
        urls = [
            ("income", f"{REPORTS}/income", query),
            ("channels", f"{REPORTS}/channels", query),
            ("coverage", f"{REPORTS}/coverage", query),
            ("reached", f"{REPORTS}/coverage", {**query, "reached": "true"}),
            ("not reached", f"{REPORTS}/coverage", {**query, "reached": "false"}),
            ("lifted", f"{REPORTS}/coverage", {**query, "status": "lifted"}),
            *[
                (f"{name}.{kind}", f"{REPORTS}/{name}.{kind}", query)
                for name in ("income", "income/households", "channels")
                for kind in ("csv", "xlsx")
            ],
        ]
        for name, url, parameters in urls:
            response = client.get(url, query_string=parameters, headers=headers)
            assert response.status_code == 200, (url, response.json)
            served[f"{region.name} {name} {sorted(parameters.items())}"] = response.data
    return served


def _register(client, shop, village, registry_number: str, head_name: str, status_month):
    """Register a household whose initial status dates from the first day of ``status_month``."""
    return client.post(
        "/api/v1/households",
        json={
            "registry_number": registry_number,
            "head_name": head_name,
            "head_id_number": _valid_id_number(),
            "members_count": 2,
            "village_id": village.id,
            "poverty_causes": ["illness"],
            "status": "in_poverty",
            "status_effective_from": f"{status_month:%Y-%m}-01",
        },
        headers=shop.admin_headers,
    )


def _differences(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def test_no_dated_write_changes_a_closed_month(
    client, session, shop, money, pay, regions, month_over, make_household
):
    this_month, next_one = month_over
    month = f"{this_month:%Y-%m}"
    headers = money.official_headers
    first = pay((shop.sku_500g, 3))
    outsider = make_household(regions.village_a2, head_name="未受益户")
    closed = client.post(
        f"{REPORTS}/closes", json={"region_id": regions.county.id, "month": month}, headers=headers
    )
    assert closed.status_code == 201, closed.json
    signed_off = _everything(client, headers, regions, money.members, month)
    assert signed_off == _everything(client, headers, regions, money.members, month)

    # A sale paid now: the ledger dates its attribution into the first open month.
    pay((shop.sku_500g, 2))
    # A refund of a sale of the closed month: dated into the first open month too.
    refunded = client.post(
        f"/api/v1/orders/{first['id']}/refunds",
        json={
            "reason": "坏果",
            "lines": [{"order_line_id": first["lines"][0]["id"], "quantity": 1}],
        },
        headers=shop.station_headers,
    )
    assert refunded.status_code == 201, refunded.json

    # A status change dated in the closed month: refused, naming the close.
    member = money.members[0]
    back_dated = client.post(
        f"/api/v1/households/{member.id}/status-changes",
        json={
            "status": "monitoring",
            "monitoring_type": "unstable_lifted",
            "effective_from": f"{this_month:%Y-%m}-02",
            "note": "补录",
        },
        headers=shop.admin_headers,
    )
    assert back_dated.status_code == 409, back_dated.json
    assert back_dated.json["code"] == "month_close.write_refused"
    assert back_dated.json["close"] == {
        "id": closed.json["id"],
        "region_id": regions.county.id,
        "month": month,
        "closed_at": back_dated.json["close"]["closed_at"],
        "first_open_month": f"{next_one:%Y-%m}",
    }
    assert back_dated.json["reasons"]["effective_from"][0]["code"] == "month_close.in_closed_month"
    # Dated in the first open month, it is accepted.
    dated_later = client.post(
        f"/api/v1/households/{member.id}/status-changes",
        json={
            "status": "monitoring",
            "monitoring_type": "unstable_lifted",
            "effective_from": f"{next_one:%Y-%m-%d}",
            "note": "补录",
        },
        headers=shop.admin_headers,
    )
    assert dated_later.status_code == 201, dated_later.json

    # A registration whose status dates from the closed month: kept as dated, counted from
    # the first open month, and the answer says so.
    registered = _register(
        client, shop, regions.village_a1, "2205241042019999", "补录户", this_month
    )
    assert registered.status_code == 201, registered.json
    assert registered.json["reported_from"] == f"{next_one:%Y-%m}"

    # A household renamed and moved to another village (not dated: it is the registry now).
    for household, village in ((member, regions.village_a2), (outsider, regions.village_a1)):
        read = client.get(f"/api/v1/households/{household.id}", headers=shop.admin_headers).json
        moved = client.patch(
            f"/api/v1/households/{household.id}",
            json={"version": read["version"], "head_name": "=改名", "village_id": village.id},
            headers=shop.admin_headers,
        )
        assert moved.status_code == 200, moved.json

    after = _everything(client, headers, regions, money.members, month)
    assert _differences(signed_off, after) == []

    # The month is live again once its close is reopened, and no longer what it was.
    reopened = client.post(
        f"{REPORTS}/closes/{closed.json['id']}/reopen",
        json={"reason": "补录"},
        headers=shop.admin_headers,
    )
    assert reopened.status_code == 200, reopened.json
    assert _differences(signed_off, _everything(client, headers, regions, money.members, month))


def test_a_registration_in_an_open_month_is_counted_from_it(
    client, shop, money, regions, month_over
):
    this_month, _ = month_over
    registered = _register(client, shop, regions.village_a1, "2205241042019998", "新户", this_month)
    assert registered.status_code == 201, registered.json
    assert registered.json["reported_from"] == f"{this_month:%Y-%m}"
