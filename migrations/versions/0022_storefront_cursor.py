"""storefront cursor

A cached storefront page keeps the cursor of the page after it, so a hit answers with it as the
page that was built did (the cache is rebuilt on demand: a downgrade simply drops the column).
The sorts by name, and by newest within a category, get the indexes the others have, so the
first page of each starts in an index.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 18:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalog_pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_cursor', sa.String(length=400), nullable=True))
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_status_name', ['status', 'name', 'id'], unique=False)
        batch_op.create_index(
            'ix_products_status_category_published',
            ['status', 'category_id', 'published_at', 'id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_status_category_published')
        batch_op.drop_index('ix_products_status_name')
    with op.batch_alter_table('catalog_pages', schema=None) as batch_op:
        batch_op.drop_column('next_cursor')
