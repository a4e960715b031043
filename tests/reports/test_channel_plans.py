"""On PostgreSQL, with a province's proportions of products and orders (the county reported on
holds a twentieth of them, each sold every month for two years), every statement of a county's
channels report for a month, a quarter and a year, and of a village's month, reads an index
and scans no table that grows with the ledger, the catalog or the province: not the sales
rollup it reads the money from, not the postings, not the orders or their payments it names
each order from, not the products whose village places a sale."""

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Product
from marketplace.orders.models import Order
from marketplace.payments.models import Payment
from tests.ledger.conftest import money, pay  # noqa: F401  (shared fixtures)
from tests.reports.test_report_plans import REGIONS_AND_PERIODS, _statements_of, tables_read

pytestmark = pytest.mark.postgres

#: Products of the county reported on, and of the rest of the province; orders a product a
#: month.
COUNTY_PRODUCTS = 100
PROVINCE_PRODUCTS = 1_900
ORDERS_A_MONTH = 3
MONTHS = 24
GROWING = {"sales_months", "postings", "journal_entries", "orders", "payments", "products"}


def _copies(session, table, template_id: int, numbered: str, changed: dict) -> None:
    """Copies of the row ``template_id`` of ``table``, one for each ``n`` of the FROM item
    ``numbered`` (which names ``n``), the columns of ``changed`` written as the SQL given
    (which may name ``n`` and the item's other columns), ids new."""
    columns = [c.name for c in table.columns if c.name != "id"]
    values = [changed.get(name, f"t.{name}") for name in columns]
    session.execute(
        sa.text(
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM {table.name} t "
            f"CROSS JOIN {numbered} WHERE t.id = :template"
        ),
        {"template": template_id},
    )


@pytest.fixture
def province_sales(session, regions, shop, pay):
    """Products spread over the county's four villages and the other county's village, each
    sold in a few orders every month of two years (attributed, and some refunded), as the
    sales rollup holds them; analysed."""
    template = pay((shop.sku_500g, 1))
    session.flush()
    county = [r.id for r in (regions.village_a1, regions.village_a2, regions.village_b1)]
    county.append(regions.village_b2.id)
    total = COUNTY_PRODUCTS + PROVINCE_PRODUCTS
    _copies(
        session,
        Product.__table__,
        shop.sku_500g.product_id,
        f"generate_series(1, {total}) AS n",
        {
            "name": "'规划' || n",
            "search_text": "'规划' || n",
            "origin_village_id": (
                f"CASE WHEN n <= {COUNTY_PRODUCTS} THEN (ARRAY{county})[1 + n % 4] "
                f"ELSE {regions.other_village.id} END"
            ),
        },
    )
    orders = total * ORDERS_A_MONTH * MONTHS
    _copies(
        session,
        Order.__table__,
        template["id"],
        f"generate_series(1, {orders}) AS n",
        {"number": "'PLAN' || n"},
    )
    # Each order paid, as the template was: the report names each order's channel through
    # its payments, a table as large as the orders.
    payment_id = session.execute(
        sa.select(Payment.id).where(Payment.order_id == template["id"])
    ).scalar_one()
    _copies(
        session,
        Payment.__table__,
        payment_id,
        "(SELECT id AS n FROM orders WHERE number LIKE 'PLAN%') AS copied",
        {"order_id": "n", "provider_reference": "'PLAN' || n"},
    )
    session.execute(
        sa.text(
            """
            WITH products AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS p FROM products
                WHERE name LIKE '规划%'
            ), orders AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS o FROM orders
                WHERE number LIKE 'PLAN%'
            )
            INSERT INTO sales_months (month, product_id, order_id, kind, account_kind,
                amount_fen, postings)
            SELECT (DATE '2025-01-01'
                    + make_interval(months => ((o.o / :each) % :months)::int))::date,
                p.id, o.id, k.kind, k.account, k.amount, k.postings
            FROM orders o
            JOIN products p ON p.p = o.o / (:each * :months)
            CROSS JOIN (VALUES ('attribution', 'gateway_clearing', 6800, 1),
                               ('attribution', 'household_income', -3000, 100),
                               ('refund_reversal', 'gateway_clearing', -100, 1))
                AS k(kind, account, amount, postings)
            WHERE k.kind = 'attribution' OR o.o % 10 = 0
            """
        ),
        {"each": ORDERS_A_MONTH, "months": MONTHS},
    )
    for table in ("products", "orders", "payments", "sales_months"):
        session.execute(sa.text(f"ANALYZE {table}"))
    session.flush()


@REGIONS_AND_PERIODS
def test_a_channels_report_reads_indexes_only(
    client, session, money, regions, province_sales, region, period
):
    statements = _statements_of(
        client,
        money.admin_headers,
        "/api/v1/reports/channels",
        {"region_id": getattr(regions, region).id, "period": period},
    )
    assert statements
    read = tables_read(session, statements, GROWING)
    assert "sales_months" in read
    assert "postings" not in read
