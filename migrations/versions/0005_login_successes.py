"""successful logins are recorded beside the failures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:00:00

Throttling keys on the username and the client address together: failures of one pair lock
only that pair, and the wider limits (per username, per address) spare the addresses a user
has logged in from before. Knowing those needs the successes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("succeeded", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_column("succeeded")
