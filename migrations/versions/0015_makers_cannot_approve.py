"""makers cannot approve

A rule version remembers who edited it (none of them may approve it), and a pledge may not be
approved by whoever recorded it either (before, only its funder was checked).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OLD_CHECK = (
    "state <> 'disbursed' OR (disbursement_id IS NOT NULL AND approved_by_id IS NOT NULL"
    " AND approved_by_id <> proposed_by_id)"
)
NEW_CHECK = (
    "state <> 'disbursed' OR (disbursement_id IS NOT NULL AND approved_by_id IS NOT NULL"
    " AND approved_by_id <> proposed_by_id"
    " AND (created_by_id IS NULL OR approved_by_id <> created_by_id))"
)


def upgrade():
    with op.batch_alter_table('benefit_rules', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('edited_by_ids', sa.JSON(), server_default='[]', nullable=False)
        )
    approved_by_maker = op.get_bind().execute(
        sa.text(
            "SELECT id FROM pledges WHERE state = 'disbursed' AND approved_by_id = created_by_id"
        )
    ).scalars().all()
    if approved_by_maker:
        raise RuntimeError(
            "pledges approved by the user who recorded them, which the new check refuses: "
            f"{approved_by_maker}; review them (and their disbursements) before upgrading"
        )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pledges_maker_checker'), type_='check')
        batch_op.create_check_constraint('maker_checker', NEW_CHECK)


def downgrade():
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pledges_maker_checker'), type_='check')
        batch_op.create_check_constraint('maker_checker', OLD_CHECK)
    with op.batch_alter_table('benefit_rules', schema=None) as batch_op:
        batch_op.drop_column('edited_by_ids')
