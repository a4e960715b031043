"""a pledge's fund gives only through the pledge; why a pledge waits

A fund made from a livestream pledge holds money promised to named households: it is marked
``bound``, so that the generic fund endpoints neither add to it nor give from it (its
disbursement goes through the pledge's maker-checker approval). A pledge the session's end did
not fund says why in ``not_funded`` (formerly ``shortfall``, which held only the figures).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 18:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assistance_funds', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('bound', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE assistance_funds SET bound = true"
        " WHERE id IN (SELECT fund_id FROM pledges WHERE fund_id IS NOT NULL)"
    )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.alter_column('shortfall', new_column_name='not_funded')


def downgrade():
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.alter_column('not_funded', new_column_name='shortfall')
    with op.batch_alter_table('assistance_funds', schema=None) as batch_op:
        batch_op.drop_column('bound')
