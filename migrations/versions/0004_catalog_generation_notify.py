"""catalog generation notifies its listeners

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 01:00:00

On PostgreSQL, every move of the catalog generation is announced on the channel
``catalog_generation`` (delivered at commit, never for a rolled-back change), so that each
worker can drop its in-memory copies of storefront pages
(marketplace/catalog/storefront/local_pages.py).
A trigger rather than application code, so that any writer's change is announced. SQLite has
no notifications: nothing to do there.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_catalog_generation() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('catalog_generation', NEW.value::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER catalog_generation_notify
        AFTER UPDATE OF value ON catalog_generation
        FOR EACH ROW EXECUTE FUNCTION notify_catalog_generation()
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER catalog_generation_notify ON catalog_generation")
    op.execute("DROP FUNCTION notify_catalog_generation()")
