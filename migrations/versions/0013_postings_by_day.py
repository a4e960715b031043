"""postings by day

A BRIN index on postings.effective_on (a plain index on SQLite): the income report reads a
period's postings, which arrive in roughly business-day order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 20:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_postings_effective_on", "postings", ["effective_on"], postgresql_using="brin"
    )


def downgrade():
    op.drop_index("ix_postings_effective_on", table_name="postings")
