"""certificate history

A product kept only its current poverty-alleviation certificate: replacing it, or dropping it,
changed what every earlier sale of the product counted for. Every certificate a product is
given is now kept, the ones products hold today first.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 16:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

LEVELS = ('national', 'provincial', 'municipal', 'county')


def upgrade():
    op.create_table(
        'product_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column(
            'level',
            sa.Enum(*LEVELS, name='certificationlevel', native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['product_id'], ['products.id'], name=op.f('fk_product_certificates_product_id_products')
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'], name=op.f('fk_product_certificates_recorded_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_product_certificates')),
    )
    op.create_index(
        op.f('ix_product_certificates_product_id'), 'product_certificates', ['product_id']
    )
    op.execute(
        "INSERT INTO product_certificates "
        "(product_id, number, level, valid_from, valid_to, recorded_by_id, created_at) "
        "SELECT id, certificate_number, certificate_level, certificate_valid_from, "
        "certificate_valid_to, NULL, updated_at FROM products "
        "WHERE certificate_number IS NOT NULL"
    )


def downgrade():
    op.drop_index(op.f('ix_product_certificates_product_id'), table_name='product_certificates')
    op.drop_table('product_certificates')
