"""edit counters on SKUs and rule drafts

A SKU's price and stock, and a benefit rule's draft, were last-write-wins: two editors who
read the same figures both saved, the second unaware of the first. Each now carries a counter
an edit must name (a rule's ``version`` is its version number, which edits do not change: its
draft's counter is ``revision``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 15:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('skus') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('benefit_rules') as batch:
        batch.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('benefit_rules') as batch:
        batch.drop_column('revision')
    with op.batch_alter_table('skus') as batch:
        batch.drop_column('version')
