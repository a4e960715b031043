"""storefront at scale

A cached storefront page keeps the cursor of the page after it, so a hit answers with it as the
page that was built did (the cache is rebuilt on demand: a downgrade simply drops the column).
The sorts by name, and by newest within a category, get the indexes the others have, so the
first page of each starts in an index. On PostgreSQL the search gets its index: the products'
search text cut into Chinese characters one by one and Latin words whole
(``product_search_lexemes``, the same classes as ``catalog/storefront/search.py``), in a GIN
index, built from the characters themselves so that no locale decides how CJK text splits.

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


#: Keep in step with catalog/storefront/search.py (_CJK, _TERM).
LEXEMES = r"""
CREATE FUNCTION product_search_lexemes(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(coalesce(array_agg(DISTINCT found[1]), '{}'::text[]))
    FROM regexp_matches(
        body,
        '([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[0-9a-z\u00c0-\u024f]+)',
        'g'
    ) AS found
$$
"""


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
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(LEXEMES)
        op.execute(
            'CREATE INDEX ix_products_search ON products'
            ' USING gin (product_search_lexemes(search_text))'
        )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_products_search')
        op.execute('DROP FUNCTION product_search_lexemes(text)')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_status_category_published')
        batch_op.drop_index('ix_products_status_name')
    with op.batch_alter_table('catalog_pages', schema=None) as batch_op:
        batch_op.drop_column('next_cursor')
