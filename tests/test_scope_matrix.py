"""Every GET of the API document, as every role, on objects of its own and of someone else.

Two counties are built alike ("ours" and "theirs"), each with its station, household,
co-operative, products, buyer, buying unit, paid and refunded orders, fund, rule and payout run.
Each role acts from "ours". For every GET path the document lists, the path's ids are filled
with our objects and then with theirs:

* a role the view does not admit gets 401 (anonymous) or 403;
* an admitted role reaches its own objects (200), so the checks below are not vacuous;
* an admitted role other than admin never reaches theirs: 404, exactly as if it did not exist;
* every list shows our objects and none of theirs.

The endpoints come from the OpenAPI document, so a new endpoint is checked as soon as it
exists; one whose path names an id this module cannot fill, or a list it does not know, fails
until it is taught here.
"""

import io
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from marketplace.accounts.models import Role
from marketplace.catalog.models import ProductStatus
from marketplace.clock import shanghai_today
from marketplace.db import utcnow
from marketplace.extensions import api
from marketplace.households.models import PayoutAccount
from marketplace.households.service import payout_account_columns
from marketplace.ledger.models import BenefitRule, RuleKind, RuleStatus
from marketplace.producers.models import (
    BuyingUnit,
    CooperativeMembership,
    ProducerKind,
    UnitKind,
    UnitPurchaseQuota,
    UnitVillagePairing,
)
from tests.orders.conftest import basket
from tests.platform_sales.jobs_inline import imported_through_job

#: Reference data anyone may read: nothing in them is scoped.
PUBLIC = {
    "/api/v1/categories",
    "/api/v1/regions",
    "/api/v1/regions/{region_id}",
    "/api/v1/products",
    "/api/v1/media/{storage_key}",
    "/api/v1/live-sessions/{code}",
}
ROLES = ("admin", "official", "station", "buyer", "unit")

#: What a list shows, and which of each side's objects must (not) appear in it.
LISTS = {
    "/api/v1/households": "household",
    "/api/v1/producers": "producer",
    "/api/v1/stations": "station",
    "/api/v1/units": "unit",
    "/api/v1/funds": "fund",
    "/api/v1/payout-runs": "run",
    "/api/v1/orders": "order",
    "/api/v1/station/products": "draft",
    "/api/v1/users": "official_user",
    "/api/v1/livestreams": "livestream",
    "/api/v1/me": None,  # oneself
    "/api/v1/reconciliation": None,  # admins only: the whole ledger
    "/api/v1/reports/closes": "close",
    "/api/v1/jobs": None,  # the jobs one started (tests/jobs: another official sees none)
}
#: Paths whose scoping is tested where their objects can be made: a job's files exist once a
#: worker ran it (tests/jobs/test_registry_import_jobs.py), and no worker runs here.
SCOPED_ELSEWHERE = {"/api/v1/jobs/{job_id}/files/{name}"}

#: Reports that name their region in the query: the query for a side's county (their CSV and
#: XLSX files take the same).
REPORTS = {
    f"/api/v1/reports/{name}{suffix}": query
    for name, query in {
        "income": lambda side: {"region_id": side.county.id, "period": "2025-09"},
        "income/households": lambda side: {"region_id": side.county.id, "period": "2025-09"},
        "coverage": lambda side: {"region_id": side.county.id, "period": "2025-09"},
        "channels": lambda side: {"region_id": side.county.id, "period": "2025-09"},
        "assistance": lambda side: {"region_id": side.county.id, "year": 2026},
    }.items()
    for suffix in ("", ".csv", ".xlsx")
}
#: Paths with an id that also need a query.
PATH_QUERIES = {
    "/api/v1/households/{household_id}/money-trail.csv": {"period": "2025-09"},
    "/api/v1/households/{household_id}/money-trail.xlsx": {"period": "2025-09"},
}

#: Where our own object is not the caller's to read, and what it gets instead (and why).
OWN_EXCEPTIONS = {
    # The batch file holds every card in full: for the approving official and admins only,
    # and our official proposed the run (someone else approved it).
    ("/api/v1/payout-runs/{run_id}/files/{file_format}", "official"): 403,
    # A draft product is for those who manage or oversee it; buyers see only what is on sale.
    ("/api/v1/products/{product_id}", "buyer"): 404,
    ("/api/v1/products/{product_id}", "unit"): 404,
    # A job is its starter's (the side's official) and admins': nobody else learns it exists.
    ("/api/v1/jobs/{job_id}", "station"): 404,
    ("/api/v1/jobs/{job_id}", "buyer"): 404,
    ("/api/v1/jobs/{job_id}", "unit"): 404,
    # Who changed where a producer's money goes is for admins: its own station and the
    # officials over it read the (masked) account, not its history.
    ("/api/v1/producers/{producer_id}/payout-account/changes", "official"): 403,
    ("/api/v1/producers/{producer_id}/payout-account/changes", "station"): 403,
}


def _fill(path: str, side, role: str) -> str:
    values = {
        "session_id": side.livestream["id"],
        "household_id": side.household.id,
        "producer_id": side.producer.id,
        "station_id": side.station.id,
        "unit_id": side.unit.id,
        "order_id": side.unit_order["id"] if role == "unit" else side.order["id"],
        "run_id": side.run["id"],
        "fund_id": side.fund["id"],
        "rule_id": side.rule.id,
        "product_id": side.draft.id,
        "user_id": side.users["official"].id,
        "file_format": "yikatong.xlsx",
        "import_id": side.platform_import["id"],
        "pledge_id": side.pledge["id"],
        "job_id": side.job["id"],
    }
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    unknown = [name for name in names if name not in values]
    assert not unknown, f"teach tests/test_scope_matrix.py how to reach {unknown} in {path}"
    for name in names:
        path = path.replace("{" + name + "}", str(values[name]))
    return path


def _admitted_roles(app, path: str) -> tuple[Role, ...] | None:
    """The roles the GET view admits (None: anyone, signed in or not)."""
    rule = next(r for r in app.url_map.iter_rules() if _as_openapi(r.rule) == path)
    view = app.view_functions[rule.endpoint]
    return getattr(view.view_class.get, "_login_roles", None)


def _as_openapi(rule: str) -> str:
    """``/orders/<id:order_id>`` -> ``/orders/{order_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def sides(
    client,
    session,
    auth,
    make_region,
    make_station,
    make_producer,
    make_product,
    make_household,
    make_user,
):
    make = SimpleNamespace(
        region=make_region,
        station=make_station,
        producer=make_producer,
        product=make_product,
        household=make_household,
        user=make_user,
        headers=auth,
    )
    admin, checker = make_user(Role.admin), make_user(Role.admin)
    ours = _side(client, session, make, admin, checker)
    theirs = _side(client, session, make, admin, checker)
    ours.users["admin"] = admin
    return ours, theirs


def _side(client, session, make, admin, checker):
    side = SimpleNamespace()
    side.county = make.region()
    side.village = make.region(make.region(side.county))
    side.station = make.station(side.village)
    side.producer = make.producer(side.station, kind=ProducerKind.cooperative)
    side.product = make.product(side.station, side.producer)
    side.draft = make.product(side.station, side.producer, status=ProductStatus.draft)
    side.unit = BuyingUnit(
        name=f"帮扶单位{side.county.id}", kind=UnitKind.government, region_id=side.county.id
    )
    session.add(side.unit)
    session.flush()
    session.add_all(
        [
            UnitVillagePairing(
                unit_id=side.unit.id, village_id=side.village.id, since=date(2024, 1, 1)
            ),
            UnitPurchaseQuota(unit_id=side.unit.id, year=2026, quota_fen=1_000_000),
        ]
    )
    side.users = {
        "official": make.user(Role.official, region_id=side.county.id),
        "station": make.user(Role.station, station_id=side.station.id),
        "buyer": make.user(Role.buyer),
        "unit": make.user(Role.unit, unit_id=side.unit.id),
    }
    side.headers = {role: make.headers(user) for role, user in side.users.items()}
    admin_headers = make.headers(admin)
    account = client.put(
        f"/api/v1/producers/{side.producer.id}/payout-account",
        json={
            "bank_name": "农信社",
            "account_name": side.producer.name,
            "account_number": "62284800",
        },
        headers=admin_headers,
    )
    assert account.status_code == 200, account.json
    side.household = make.household(side.village)
    session.add(
        PayoutAccount(
            household_id=side.household.id,
            **payout_account_columns(
                {
                    "bank_name": "梅河口农商银行",
                    "card_number": f"621700000000{side.village.id:07d}",
                    "holder_name": side.household.head_name,
                    "holder_id_number": side.household.plain_id_number,
                    "holder_relation": "本人",
                }
            ),
        )
    )
    session.add(
        CooperativeMembership(
            cooperative_id=side.producer.id,
            household_id=side.household.id,
            shares=1,
            joined_on=date(2020, 1, 1),
        )
    )
    side.rule = BenefitRule(
        producer_id=side.producer.id,
        version=1,
        kind=RuleKind.cooperative,
        status=RuleStatus.approved,
        effective_from=date(2020, 1, 1),
        retained_bp=2000,
        created_by_id=admin.id,
        approved_by_id=checker.id,
    )
    session.add(side.rule)
    session.flush()

    (sku,) = side.product.skus_created
    side.order = _paid_order(client, side.headers["buyer"], side.headers["station"], sku)
    refund = client.post(
        f"/api/v1/orders/{side.order['id']}/refunds",
        json={
            "reason": "压坏了",
            "lines": [{"order_line_id": side.order["lines"][0]["id"], "quantity": 1}],
        },
        headers=side.headers["station"],
    )
    assert refund.status_code == 201, refund.json
    side.unit_order = _placed(client, side.headers["unit"], sku)

    side.fund = client.post(
        "/api/v1/funds",
        json={
            "name": f"帮扶基金{side.county.id}",
            "source": "campaign",
            "region_id": side.county.id,
        },
        headers=admin_headers,
    ).json
    client.post(
        f"/api/v1/funds/{side.fund['id']}/contributions",
        json={"amount_fen": 50_000, "contributor": "县商务局", "reference": f"F{side.fund['id']}"},
        headers=admin_headers,
    )
    given = client.post(
        f"/api/v1/funds/{side.fund['id']}/disbursements",
        json={
            "mode": "fixed",
            "memo": "每户500元",
            "amount_each_fen": 50_000,
            "household_ids": [side.household.id],
        },
        headers=admin_headers,
    )
    assert given.status_code == 201, given.json

    proposed = client.post(
        "/api/v1/payout-runs",
        json={
            "region_id": side.county.id,
            "period_end": shanghai_today().isoformat(),
            "project_name": "消费帮扶收益",
        },
        headers=side.headers["official"],
    )
    assert proposed.status_code == 201, proposed.json
    side.run = proposed.json["run"]
    start = utcnow()
    scheduled = client.post(
        "/api/v1/livestreams",
        json={
            "title": "蓝莓节直播",
            "host_name": "站长",
            "host_kind": "station_operator",
            "platform": "douyin",
            "room_id": f"room-{side.station.id}",
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=2)).isoformat(),
        },
        headers=side.headers["station"],
    )
    assert scheduled.status_code == 201, scheduled.json
    side.livestream = scheduled.json
    side.platform_import = _imported_sale(client, side)
    closed = client.post(
        "/api/v1/reports/closes",
        json={"region_id": side.county.id, "month": "2025-09"},
        headers=side.headers["official"],
    )
    assert closed.status_code == 201, closed.json
    side.close = closed.json
    pledged = client.post(
        f"/api/v1/livestreams/{side.livestream['id']}/pledges",
        json={
            "kind": "per_household",
            "payer_kind": "outside",
            "payer_name": "县商务局",
            "amount_each_fen": 50000,
            "household_ids": [side.household.id],
            "memo": "每户500元",
        },
        headers=side.headers["station"],
    )
    assert pledged.status_code == 201, pledged.json
    side.pledge = pledged.json
    started = client.post(
        "/api/v1/households/imports",
        data={"file": (io.BytesIO(REGISTRY_HEADER), "registry.csv")},
        headers=side.headers["official"],
    )
    assert started.status_code == 202, started.json
    side.job = started.json
    approved = client.post(f"/api/v1/payout-runs/{side.run['id']}/approve", headers=admin_headers)
    assert approved.status_code == 200, approved.json
    return side


#: A registry file of no rows: a job that fails in the worker (none runs here).
REGISTRY_HEADER = "建档立卡编号,户主姓名,身份证号,家庭人数,村代码,户类型,状态生效日期\n".encode()


def _imported_sale(client, side) -> dict:
    """One Douyin sale of the side's product, imported by its station."""
    station = side.station.id
    sku = side.product.skus_created[0]
    mapped = client.post(
        f"/api/v1/stations/{station}/platform-products",
        json={"products": [{"platform": "douyin", "outside_id": f"DY{sku.id}", "sku_id": sku.id}]},
        headers=side.headers["station"],
    )
    assert mapped.status_code == 200, mapped.json
    export = (
        "主订单编号,子订单编号,商品ID,商品数量,商品单价,订单应付金额,订单提交时间,支付完成时间,"
        "订单状态,流量体裁\n"
        f"M{station},M{station},DY{sku.id},1,68.00,68.00,2025-09-13 10:00:00,"
        "2025-09-13 10:00:05,已完成,商品卡\n"
    ).encode()
    uploaded = client.post(
        f"/api/v1/stations/{station}/platform-imports",
        data={"platform": "douyin", "file": (io.BytesIO(export), "douyin.csv")},
        headers=side.headers["station"],
        content_type="multipart/form-data",
    )
    uploaded = imported_through_job(client, uploaded, side.headers["station"])
    assert uploaded.status_code == 201 and uploaded.json["created_lines"] == 1, uploaded.json
    return uploaded.json


_keys = iter(range(10**6))


def _placed(client, headers, sku) -> dict:
    response = client.post(
        "/api/v1/orders",
        json=basket((sku, 2)),
        headers={**headers, "Idempotency-Key": f"matrix-{next(_keys)}"},
    )
    assert response.status_code == 201, response.json
    return response.json


def _paid_order(client, buyer_headers, station_headers, sku) -> dict:
    order = _placed(client, buyer_headers, sku)
    paid = client.post(
        f"/api/v1/orders/{order['id']}/offline-payments",
        json={"method": "cash", "reference": f"M-{order['id']}", "amount_fen": order["total_fen"]},
        headers=station_headers,
    )
    assert paid.status_code == 201, paid.json
    return order


@pytest.fixture
def get_paths(app):
    with app.test_request_context():
        paths = api.spec.to_dict()["paths"]
    return sorted(path for path, operations in paths.items() if "get" in operations)


def test_every_get_keeps_each_role_to_its_own(app, client, auth, sides, get_paths):
    ours, theirs = sides
    headers = {**ours.headers, "admin": auth(ours.users["admin"])}
    checked = 0
    for path in get_paths:
        if path in PUBLIC or "{" not in path or path in SCOPED_ELSEWHERE:
            continue  # lists: the next test
        admitted = _admitted_roles(app, path)
        if admitted is None:  # open to anyone, but what it shows is scoped: a draft is not
            assert client.get(_fill(path, ours, "admin")).status_code == 404, path
            admitted = tuple(Role)
        else:
            assert client.get(_fill(path, ours, "admin")).status_code == 401, path
        for role in ROLES:
            own_url, their_url = _fill(path, ours, role), _fill(path, theirs, role)
            query = PATH_QUERIES.get(path, {})
            # buffered: a file streams, and must be read out before the next request
            own = client.get(own_url, query_string=query, headers=headers[role], buffered=True)
            theirs_response = client.get(
                their_url, query_string=query, headers=headers[role], buffered=True
            )
            if Role(role) not in admitted:
                assert (own.status_code, theirs_response.status_code) == (403, 403), (path, role)
                continue
            expected_own = OWN_EXCEPTIONS.get((path, role), 200)
            assert own.status_code == expected_own, (path, role, own.get_data(as_text=True))
            if role == "admin":
                assert theirs_response.status_code == 200, (path, theirs_response.json)
            else:
                assert theirs_response.status_code == 404, (path, role, theirs_response.json)
            checked += 1
    assert checked > 60


def test_every_list_shows_each_role_its_own_and_nothing_else(app, client, auth, sides, get_paths):
    ours, theirs = sides
    headers = {**ours.headers, "admin": auth(ours.users["admin"])}
    lists = [
        path for path in get_paths if "{" not in path and path not in PUBLIC and path not in REPORTS
    ]
    unknown = sorted(set(lists) - set(LISTS))
    assert not unknown, f"teach tests/test_scope_matrix.py what these lists show: {unknown}"
    for path in lists:
        kind = LISTS[path]
        admitted = _admitted_roles(app, path)
        for role in ROLES:
            if admitted and Role(role) not in admitted:
                continue
            response = client.get(path, query_string={"page_size": 100}, headers=headers[role])
            assert response.status_code == 200, (path, role, response.json)
            if kind is None:
                continue
            shown = {item["id"] for item in response.json}
            mine = ours.unit_order["id"] if (kind, role) == ("order", "unit") else None
            own_id = mine or _object_id(ours, kind)
            their_ids = (
                {_object_id(theirs, kind), theirs.unit_order["id"]}
                if kind == "order"
                else {_object_id(theirs, kind)}
            )
            assert own_id in shown, (path, role)
            if role != "admin":
                assert not shown & their_ids, (path, role)


def _object_id(side, kind: str) -> int:
    found = {
        "livestream": side.livestream["id"],
        "household": side.household.id,
        "producer": side.producer.id,
        "station": side.station.id,
        "unit": side.unit.id,
        "fund": side.fund["id"],
        "run": side.run["id"],
        "order": side.order["id"],
        "draft": side.draft.id,
        "official_user": side.users["official"].id,
        "close": side.close["id"],
    }
    return found[kind]


def test_every_report_keeps_each_role_to_its_region(app, client, auth, sides, get_paths):
    """A report of our county for the roles it admits; of theirs, a 404 but for admins."""
    ours, theirs = sides
    headers = {**ours.headers, "admin": auth(ours.users["admin"])}
    reports = [
        path for path in get_paths if path.startswith("/api/v1/reports/") and path not in LISTS
    ]
    unknown = sorted(set(reports) - set(REPORTS))
    assert not unknown, f"teach tests/test_scope_matrix.py how to ask for: {unknown}"
    for path in reports:
        admitted = _admitted_roles(app, path)
        for role in ROLES:
            own = client.get(
                path, query_string=REPORTS[path](ours), headers=headers[role], buffered=True
            )
            other = client.get(
                path, query_string=REPORTS[path](theirs), headers=headers[role], buffered=True
            )
            if admitted and Role(role) not in admitted:
                assert (own.status_code, other.status_code) == (403, 403), (path, role)
                continue
            assert own.status_code == 200, (path, role, own.json)
            assert other.status_code == (200 if role == "admin" else 404), (path, role)
