"""producer payout accounts

Co-operatives and enterprises get bank accounts of their own, changed only by admins and
audited, so their payout lines go into the bank's batch file beside the households' and are
settled from the bank's return (matched on credit code, account number and batch serial).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'producer_payout_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('bank_name', sa.String(length=100), nullable=False),
        sa.Column('account_name', sa.String(length=100), nullable=False),
        sa.Column('account_encrypted', sa.String(length=255), nullable=False),
        sa.Column('account_lookup', sa.String(length=64), nullable=False),
        sa.Column('account_masked', sa.String(length=40), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['producer_id'], ['producers.id'],
            name=op.f('fk_producer_payout_accounts_producer_id_producers'),
        ),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['users.id'],
            name=op.f('fk_producer_payout_accounts_updated_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_producer_payout_accounts')),
        sa.UniqueConstraint('producer_id', name=op.f('uq_producer_payout_accounts_producer_id')),
    )
    op.create_index(
        op.f('ix_producer_payout_accounts_account_lookup'),
        'producer_payout_accounts',
        ['account_lookup'],
    )
    op.create_table(
        'producer_payout_account_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['producer_id'], ['producers.id'],
            name=op.f('fk_producer_payout_account_changes_producer_id_producers'),
        ),
        sa.ForeignKeyConstraint(
            ['changed_by_id'], ['users.id'],
            name=op.f('fk_producer_payout_account_changes_changed_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_producer_payout_account_changes')),
    )
    op.create_index(
        op.f('ix_producer_payout_account_changes_producer_id'),
        'producer_payout_account_changes',
        ['producer_id'],
    )
    with op.batch_alter_table('payout_lines') as batch:
        batch.add_column(sa.Column('credit_code', sa.String(length=18), nullable=True))


def downgrade():
    with op.batch_alter_table('payout_lines') as batch:
        batch.drop_column('credit_code')
    op.drop_index(
        op.f('ix_producer_payout_account_changes_producer_id'),
        table_name='producer_payout_account_changes',
    )
    op.drop_table('producer_payout_account_changes')
    op.drop_index(
        op.f('ix_producer_payout_accounts_account_lookup'), table_name='producer_payout_accounts'
    )
    op.drop_table('producer_payout_accounts')
