"""Two imports of overlapping exports at once (the command line's, each one transaction, in
two threads of a served app; uploads through the API are jobs that a station runs one at a
time, tested in ``tests/jobs``): every refund is applied once, whatever the order of their
rows, and neither import deadlocks the other.

On PostgreSQL the station's lock (``importing.lock_station``, which each batch of a job takes
too) is what is tested; on SQLite writers queue on the database lock. Both must hold."""

import io
import json
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from marketplace.accounts.auth import actor_for_username
from marketplace.accounts.models import Role
from marketplace.catalog.models import Sku
from marketplace.db import sqlite_write_intent
from marketplace.extensions import db
from marketplace.livestreams.models import Platform
from marketplace.orders.models import OrderLine
from marketplace.platform_sales import importing
from marketplace.platform_sales.models import ImportedLine
from marketplace.reports import reconciliation
from tests.orders.test_races import _all_at_once, _setup_shop
from tests.served import served_app, signed_in_user

HEADER = (
    "订单号,订单状态,订单创建时间,订单支付时间,商品ID,商品名称,商品单价,商品数量,实付款,"
    "退款状态,退款金额,订单来源"
)
LINES = 150


def kuaishou(*, refunded: bool, reverse: bool = False) -> bytes:
    """LINES Kuaishou orders of 100.00 yuan; with ``refunded``, 30.00 of each refunded."""
    rows = [HEADER]
    numbers = reversed(range(LINES)) if reverse else range(LINES)
    for number in numbers:
        refund = "退款成功,30.00" if refunded else ","
        rows.append(
            f"\t25091200{number:08d},交易成功,2025-09-12 19:08:11,2025-09-12 19:08:20,\t999,"
            f"人参,100.00,1,100.00,{refund},商品卡"
        )
    return ("\r\n".join(rows) + "\r\n").encode("utf-8-sig")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("import-races")) as served:
        yield served


def _post(served, path, headers, *, body: bytes, content_type: str):
    request = urllib.request.Request(
        f"{served.base_url}/api/v1{path}",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _upload(served, username, station_id, content):
    """What ``flask livestreams import --as`` does: the export in one transaction."""
    with served.app.app_context():
        # As a command that writes: on SQLite its transaction takes the write lock at once.
        sqlite_write_intent.set(True)
        try:
            actor = actor_for_username(db.session, username)
            report = importing.import_export(
                db.session,
                actor,
                station_id,
                importing.Upload(
                    platform=Platform.kuaishou, stream=io.BytesIO(content), filename="x.csv"
                ),
            )
            db.session.commit()
            return 201, {
                "created_lines": report.created_lines,
                "updated_lines": report.updated_lines,
            }
        finally:
            db.session.remove()


@pytest.mark.parametrize("reverse", [False, True], ids=["same order", "reversed"])
def test_two_uploads_of_one_refund_apply_it_once(served, reverse):
    tag = 71 if reverse else 72
    sku_id, _ = _setup_shop(served, tag=tag, stock=5, buyers=0)
    with served.session() as session:
        station_id = session.get(Sku, sku_id).station_id
        headers = signed_in_user(
            session,
            username=f"import-station-{tag}",
            role=Role.station,
            display_name="站",
            station_id=station_id,
        )
    mapped = _post(
        served,
        f"/stations/{station_id}/platform-products",
        headers,
        body=json.dumps(
            {"products": [{"platform": "kuaishou", "outside_id": "999", "sku_id": sku_id}]}
        ).encode(),
        content_type="application/json",
    )
    assert mapped[0] == 200, mapped
    # The line ids are per platform: each parametrized run uses its own.
    first = kuaishou(refunded=False).replace(b"\t25091200", f"\t2509{tag}00".encode())
    username = f"import-station-{tag}"
    status, body = _upload(served, username, station_id, first)
    assert status == 201 and body["created_lines"] == LINES, body

    files = [
        kuaishou(refunded=True).replace(b"\t25091200", f"\t2509{tag}00".encode()),
        kuaishou(refunded=True, reverse=reverse).replace(b"\t25091200", f"\t2509{tag}00".encode()),
    ]
    results = _all_at_once(2, lambda i: _upload(served, username, station_id, files[i]))
    assert [status for status, _ in results] == [201, 201], results
    assert sorted(body["updated_lines"] for _, body in results) == [0, LINES]

    with served.session() as session:
        lines = sa.select(ImportedLine.order_line_id).where(ImportedLine.station_id == station_id)
        refunded = session.execute(
            sa.select(sa.func.sum(OrderLine.refunded_fen)).where(OrderLine.id.in_(lines))
        ).scalar_one()
        assert refunded == LINES * 3000
        assert reconciliation.run(session).differences == []
