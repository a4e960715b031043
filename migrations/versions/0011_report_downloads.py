"""report downloads

Who downloaded a report file that names households (CSV or XLSX), with what parameters.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 18:33:28.603890

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_downloads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('report', sa.String(length=40), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('downloaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_downloads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_downloads'))
    )
    with op.batch_alter_table('report_downloads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_downloads_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('report_downloads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_downloads_user_id'))

    op.drop_table('report_downloads')
