"""a village's households from an index alone

A village's income report lists its households (id, head's name, members, latest status) in id
order. Read through ``ix_households_village_id_latest_status`` that visited every household's
row (on the benchmark's county, each on a page of its own), twice in the statement (the list,
and the rollup's households of the village), then sorted them. This index holds what the report
reads, in the order it reads it: an index-only scan, no sort. On the benchmark's county the
village month's statement went from 2.8 to 2.2 ms (``bench/README.md``).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 17:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_households_village_listing",
        "households",
        ["village_id", "id"],
        postgresql_include=["head_name", "members_count", "latest_status"],
    )


def downgrade():
    op.drop_index("ix_households_village_listing", table_name="households")
