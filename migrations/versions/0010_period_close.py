"""period close

Months closed per region (and each close and reopening as an event), the report snapshot each
close froze, and on a journal entry the closed month it adjusts when it was dated into the
first open month instead.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 18:17:39.257157

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('month_closes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reopened_by_id', sa.Integer(), nullable=True),
    sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopen_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_month_closes_closed_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_month_closes_region_id_regions')),
    sa.ForeignKeyConstraint(['reopened_by_id'], ['users.id'], name=op.f('fk_month_closes_reopened_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_month_closes')),
    sa.UniqueConstraint('region_id', 'month', name=op.f('uq_month_closes_region_id_month'))
    )
    with op.batch_alter_table('month_closes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_month_closes_region_id'), ['region_id'], unique=False)

    op.create_table('month_close_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('close_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_month_close_events_actor_id_users')),
    sa.ForeignKeyConstraint(['close_id'], ['month_closes.id'], name=op.f('fk_month_close_events_close_id_month_closes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_month_close_events'))
    )
    with op.batch_alter_table('month_close_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_month_close_events_close_id'), ['close_id'], unique=False)

    op.create_table('report_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('close_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['close_id'], ['month_closes.id'], name=op.f('fk_report_snapshots_close_id_month_closes')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_report_snapshots_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_snapshots')),
    sa.UniqueConstraint('close_id', 'region_id', name=op.f('uq_report_snapshots_close_id_region_id'))
    )
    with op.batch_alter_table('report_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_snapshots_close_id'), ['close_id'], unique=False)
        batch_op.create_index('ix_report_snapshots_region_month', ['region_id', 'month'], unique=False)

    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adjusts_month', sa.Date(), nullable=True))



def downgrade():
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_column('adjusts_month')

    with op.batch_alter_table('report_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_report_snapshots_region_month')
        batch_op.drop_index(batch_op.f('ix_report_snapshots_close_id'))

    op.drop_table('report_snapshots')
    with op.batch_alter_table('month_close_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_month_close_events_close_id'))

    op.drop_table('month_close_events')
    with op.batch_alter_table('month_closes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_month_closes_region_id'))

    op.drop_table('month_closes')
