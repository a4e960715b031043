"""The signed-in storefront list reads outside a transaction on PostgreSQL (no BEGIN, no
COMMIT), on a served app with a real connection pool: the tests' usual session is bound to one
connection in an outer transaction, where that mode never applies."""

import json
import urllib.request

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from tests.orders.test_races import _post_order, _setup_shop
from tests.served import served_app

pytestmark = pytest.mark.postgres


def _get(served, path, headers):
    request = urllib.request.Request(f"{served.base_url}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_signed_in_list_reads_in_autocommit_and_hands_back_a_transactional_connection(tmp_path):
    # One pooled connection: the write that follows the list gets the very connection it used.
    with served_app(
        tmp_path, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0}
    ) as served:
        sku_id, (buyer,) = _setup_shop(served, tag=71, stock=5, buyers=1)
        with served.app.app_context():
            engine = db.engine
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            status, cards = _get(served, "/api/v1/products", buyer)
            assert status == 200
            assert [sku["id"] for card in cards for sku in card["skus"]] == [sku_id]
            listed, seen[:] = list(seen), []

            status, order = _post_order(served, buyer, sku_id, "after-the-list")
            assert status == 201, order
            written = list(seen)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

    assert listed and all(autocommit for _, autocommit in listed), listed
    assert written and not any(autocommit for _, autocommit in written), written
    assert "INSERT" in {verb for verb, _ in written} or "WITH" in {verb for verb, _ in written}
