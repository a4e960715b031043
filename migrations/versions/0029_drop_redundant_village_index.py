"""drop the households' index on village_id alone

``ix_households_village_id`` (from 0001) leads with the column that two later indexes lead
with too: ``ix_households_village_id_latest_status`` (village and status, a county's counts)
and ``ix_households_village_listing`` (0028, a village's households in id order). Every lookup
by village, the foreign key's checks when a region is deleted included, is served by either,
and on the benchmark's county the planner had not used it once. It only cost every household
registered, moved or restated a third index entry to write and to vacuum (1.6 MB a county).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 23:15:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_households_village_id", table_name="households")


def downgrade():
    op.create_index("ix_households_village_id", "households", ["village_id"], unique=False)
