"""closed months frozen

A close freezes every monthly report it covers, not only the income report: the channels
report beside it (``report_snapshots.kind``), and the households of the closed region with
their figures (``frozen_households``), which the households file and the coverage list of a
closed month are read from. Months closed before this revision froze only their income
report: their other reports stay live until they are reopened and closed again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_snapshots', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), server_default='income', nullable=False)
        )
        batch_op.drop_constraint('uq_report_snapshots_close_id_region_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_report_snapshots_close_id_region_id_kind'),
            ['close_id', 'region_id', 'kind'],
        )
    op.create_table(
        'frozen_households',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('close_id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=True),
        sa.Column('reached', sa.Boolean(), nullable=False),
        sa.Column('row', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ['close_id'], ['month_closes.id'],
            name=op.f('fk_frozen_households_close_id_month_closes'),
        ),
        sa.ForeignKeyConstraint(
            ['village_id'], ['regions.id'], name=op.f('fk_frozen_households_village_id_regions')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_frozen_households')),
        sa.UniqueConstraint(
            'close_id', 'household_id', name=op.f('uq_frozen_households_close_id_household_id')
        ),
    )
    op.create_index(
        'ix_frozen_households_close_village',
        'frozen_households',
        ['close_id', 'village_id', 'household_id'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_frozen_households_close_village', table_name='frozen_households')
    op.drop_table('frozen_households')
    op.execute("DELETE FROM report_snapshots WHERE kind <> 'income'")
    with op.batch_alter_table('report_snapshots', schema=None) as batch_op:
        batch_op.drop_constraint('uq_report_snapshots_close_id_region_id_kind', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_report_snapshots_close_id_region_id'), ['close_id', 'region_id']
        )
        batch_op.drop_column('kind')
