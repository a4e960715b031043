"""household income rollups

Reports read household income by month (``household_income_months``, kept by
``ledger/rollups.py`` in the transaction that writes the postings) instead of the postings.
The table is filled here from the postings already written, grouped as ``rollups.from_postings``
groups them. A household's status on a day (the report's coverage) is read from the end of a new
index on its history.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 21:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO household_income_months
    (household_id, month, kind, producer_id, fund_id, amount_fen, postings)
SELECT p.household_id, {month}, e.kind, COALESCE(ol.producer_id, 0), COALESCE(fd.fund_id, 0),
       SUM(p.amount_fen), COUNT(*)
FROM postings p
JOIN ledger_accounts a ON a.id = p.account_id
JOIN journal_entries e ON e.id = p.entry_id
LEFT JOIN order_lines ol ON ol.id = p.order_line_id
LEFT JOIN fund_disbursements fd ON fd.id = e.fund_disbursement_id
WHERE a.kind = 'household_income' AND p.household_id IS NOT NULL
GROUP BY p.household_id, {month}, e.kind, COALESCE(ol.producer_id, 0), COALESCE(fd.fund_id, 0)
"""
MONTH = {
    'postgresql': "CAST(date_trunc('month', p.effective_on) AS DATE)",
    'sqlite': "date(p.effective_on, 'start of month')",
}


def upgrade():
    op.create_table(
        'household_income_months',
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('kind', sa.Enum(
            'attribution', 'refund_reversal', 'late_capture', 'late_capture_refund',
            'fund_contribution', 'fund_disbursement', 'minimum_dividend', 'payout_approved',
            'payout_paid', 'payout_returned', name='entrykind', native_enum=False, length=32,
        ), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('postings', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_household_income_months_household_id_households')),
        sa.PrimaryKeyConstraint('household_id', 'month', 'kind', 'producer_id', 'fund_id',
                                name=op.f('pk_household_income_months')),
    )
    op.create_index(
        'ix_household_income_months_month', 'household_income_months', ['month', 'household_id'],
        unique=False,
        postgresql_include=['kind', 'producer_id', 'fund_id', 'amount_fen', 'postings'],
    )
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL.format(month=MONTH[dialect]))
    op.create_index(
        'ix_household_status_changes_latest', 'household_status_changes',
        ['household_id', 'effective_from', 'id'], unique=False, postgresql_include=['status'],
    )


def downgrade():
    op.drop_index('ix_household_status_changes_latest', table_name='household_status_changes')
    op.drop_index('ix_household_income_months_month', table_name='household_income_months')
    op.drop_table('household_income_months')
