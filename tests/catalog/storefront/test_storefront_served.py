"""The signed-in storefront list on PostgreSQL, on a served app with real connection pools (the
tests' usual session is bound to one connection in an outer transaction, where none of this
applies): it reads outside a transaction (no BEGIN, no COMMIT), and builds the page on the
storefront's read pool, whose connections use generic plans, while the rest keeps the default."""

import json
import urllib.request

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Sku
from marketplace.catalog.storefront import page_cache
from marketplace.extensions import db
from tests.orders.test_races import _post_order, _setup_shop
from tests.served import served_app

pytestmark = pytest.mark.postgres


def _get(served, path, headers):
    request = urllib.request.Request(f"{served.base_url}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_signed_in_list_reads_in_autocommit_and_hands_back_a_transactional_connection(tmp_path):
    # What the list runs on the main pool (who is asking; the page itself is read on the
    # storefront pool, next test) runs in autocommit. One pooled connection: the write that
    # follows the list gets the very connection it used, and must find it transactional. (A
    # write through the app's session: a checkout now writes in autocommit on purpose.)
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

            with served.session() as session:
                session.execute(sa.update(Sku).where(Sku.id == sku_id).values(stock=Sku.stock))
            written = list(seen)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

    assert listed and all(autocommit for _, autocommit in listed), listed
    assert written and not any(autocommit for _, autocommit in written), written
    assert "UPDATE" in {verb for verb, _ in written}


def test_the_list_is_read_on_the_storefront_pool_with_its_plan_mode_and_nothing_else_is(
    tmp_path,
):
    with served_app(tmp_path) as served:
        sku_id, (buyer,) = _setup_shop(served, tag=72, stock=5, buyers=1)
        with served.app.app_context():
            engine = db.engine
        reads = page_cache._read_pool(engine)
        ran_on = []

        def record(conn, cursor, statement, parameters, context, executemany):
            ran_on.append((statement.split("FROM")[0][:60], conn.engine is reads))

        sa.event.listen(sa.Engine, "before_cursor_execute", record)
        try:
            status, cards = _get(served, "/api/v1/products?sort=price_asc", buyer)
            assert status == 200
            assert [sku["id"] for card in cards for sku in card["skus"]] == [sku_id]
            status, order = _post_order(served, buyer, sku_id, "after-the-list")
            assert status == 201, order
        finally:
            sa.event.remove(sa.Engine, "before_cursor_execute", record)

        def plan_mode(of):
            with of.connect() as connection:
                return connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one()

        assert plan_mode(reads) == "force_generic_plan"
        assert plan_mode(engine) == "auto"

    on_reads = [statement for statement, read_pool in ran_on if read_pool]
    elsewhere = [statement for statement, read_pool in ran_on if not read_pool]
    # The page and its SKUs on the read pool; who is asking, and the checkout, on the main one.
    assert [s.split()[1] for s in on_reads] == ["products.id,", "skus.product_id,"], on_reads
    assert elsewhere and all("products.id, products.name" not in s for s in elsewhere)
