"""sales rollups

The channel report reads the sales of order lines summed by month, product, order, entry kind
and account kind (``sales_months``, kept by ``ledger/sales_rollups.py`` in the transaction that
writes the postings) instead of the postings, a hundred of which a co-op's line writes. Its
key leads with the product, so a region's report reads its products' months. The table is
filled here from the postings already written, grouped as ``sales_rollups.from_postings``
groups them.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 02:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO sales_months (product_id, month, order_id, kind, account_kind, amount_fen, postings)
SELECT ol.product_id, {month}, ol.order_id, e.kind, a.kind, SUM(p.amount_fen), COUNT(*)
FROM postings p
JOIN ledger_accounts a ON a.id = p.account_id
JOIN journal_entries e ON e.id = p.entry_id
JOIN order_lines ol ON ol.id = p.order_line_id
WHERE e.kind IN ('attribution', 'refund_reversal')
  AND a.kind IN ('gateway_clearing', 'household_income')
GROUP BY ol.product_id, {month}, ol.order_id, e.kind, a.kind
"""
MONTH = {
    'postgresql': "CAST(date_trunc('month', p.effective_on) AS DATE)",
    'sqlite': "date(p.effective_on, 'start of month')",
}


def upgrade():
    op.create_table(
        'sales_months',
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(
            'attribution', 'refund_reversal', 'late_capture', 'late_capture_refund',
            'fund_contribution', 'fund_disbursement', 'minimum_dividend', 'payout_approved',
            'payout_paid', 'payout_returned', name='entrykind', native_enum=False, length=32,
        ), nullable=False),
        sa.Column('account_kind', sa.Enum(
            'gateway_clearing', 'household_income', 'producer_payable', 'coop_retained',
            'platform_fee', 'station_fee', 'assistance_fund', 'fund_source',
            'payouts_in_transit', 'disbursed', 'suspense', name='accountkind',
            native_enum=False, length=32,
        ), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('postings', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                                name=op.f('fk_sales_months_order_id_orders')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_sales_months_product_id_products')),
        sa.PrimaryKeyConstraint('product_id', 'month', 'order_id', 'kind', 'account_kind',
                                name=op.f('pk_sales_months')),
    )
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL.format(month=MONTH[dialect]))


def downgrade():
    op.drop_table('sales_months')
