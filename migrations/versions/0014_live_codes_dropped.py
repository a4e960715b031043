"""live codes dropped

Checkout reads a session's code and state from livestream_sessions itself (the livestreams
package now sits below orders), so the orders domain's mirror of them goes. The code is unique
on the sessions already. Downgrading rebuilds the mirror from the sessions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('live_codes')


def downgrade():
    op.create_table('live_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('is_live', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['livestream_sessions.id'], name=op.f('fk_live_codes_session_id_livestream_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_live_codes_code')),
    sa.UniqueConstraint('session_id', name=op.f('uq_live_codes_session_id'))
    )
    op.execute(
        "INSERT INTO live_codes (code, session_id, is_live) "
        "SELECT code, id, state = 'live' FROM livestream_sessions ORDER BY id"
    )
