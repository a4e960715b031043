"""adjusting entries index

A partial index on the journal entries that closed months moved into an open one: the income
report looks them up for each period, and they are few.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_journal_entries_adjusting",
        "journal_entries",
        ["adjusts_month", "effective_on"],
        postgresql_where=sa.text("adjusts_month IS NOT NULL"),
        sqlite_where=sa.text("adjusts_month IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_journal_entries_adjusting", table_name="journal_entries")
