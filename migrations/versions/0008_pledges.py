"""pledges

Promises made in livestream sessions to give households part of the proceeds: what each
promised, who pays, the households and their amounts, and the fund and disbursement each became
(unique to it: never funded or disbursed twice).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:20:07.077126

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pledges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('per_household', 'share_of_net', name='pledgekind', native_enum=False, length=16), nullable=False),
    sa.Column('payer_kind', sa.Enum('producer', 'outside', name='payerkind', native_enum=False, length=16), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=True),
    sa.Column('payer_name', sa.String(length=100), nullable=False),
    sa.Column('amount_each_fen', sa.BigInteger(), nullable=True),
    sa.Column('share_bp', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('state', sa.Enum('pledged', 'funded', 'disbursed', 'cancelled', name='pledgestate', native_enum=False, length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('basis_fen', sa.BigInteger(), nullable=True),
    sa.Column('shortfall', sa.JSON(), nullable=True),
    sa.Column('fund_id', sa.Integer(), nullable=True),
    sa.Column('disbursement_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('proposed_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('funded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disbursed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'per_household' AND amount_each_fen > 0 AND share_bp IS NULL) OR (kind = 'share_of_net' AND share_bp > 0 AND share_bp <= 10000 AND village_id IS NOT NULL AND amount_each_fen IS NULL)", name=op.f('ck_pledges_kind_terms')),
    sa.CheckConstraint("(payer_kind = 'producer') = (producer_id IS NOT NULL)", name=op.f('ck_pledges_producer_payer')),
    sa.CheckConstraint("state <> 'disbursed' OR (disbursement_id IS NOT NULL AND approved_by_id IS NOT NULL AND approved_by_id <> proposed_by_id)", name=op.f('ck_pledges_maker_checker')),
    sa.CheckConstraint("state NOT IN ('funded', 'disbursed') OR (fund_id IS NOT NULL AND amount_fen > 0)", name=op.f('ck_pledges_funded_has_fund')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_pledges_approved_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_pledges_created_by_id_users')),
    sa.ForeignKeyConstraint(['disbursement_id'], ['fund_disbursements.id'], name=op.f('fk_pledges_disbursement_id_fund_disbursements')),
    sa.ForeignKeyConstraint(['fund_id'], ['assistance_funds.id'], name=op.f('fk_pledges_fund_id_assistance_funds')),
    sa.ForeignKeyConstraint(['producer_id'], ['producers.id'], name=op.f('fk_pledges_producer_id_producers')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_pledges_proposed_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['livestream_sessions.id'], name=op.f('fk_pledges_session_id_livestream_sessions')),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_pledges_village_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledges')),
    sa.UniqueConstraint('disbursement_id', name=op.f('uq_pledges_disbursement_id')),
    sa.UniqueConstraint('fund_id', name=op.f('uq_pledges_fund_id'))
    )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledges_session_id'), ['session_id'], unique=False)

    op.create_table('pledge_households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pledge_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_pledge_households_household_id_households')),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledges.id'], name=op.f('fk_pledge_households_pledge_id_pledges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledge_households')),
    sa.UniqueConstraint('pledge_id', 'household_id', name=op.f('uq_pledge_households_pledge_id_household_id'))
    )
    with op.batch_alter_table('pledge_households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledge_households_pledge_id'), ['pledge_id'], unique=False)



def downgrade():
    with op.batch_alter_table('pledge_households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_households_pledge_id'))

    op.drop_table('pledge_households')
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledges_session_id'))

    op.drop_table('pledges')
