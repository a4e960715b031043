"""what a token stands for changed: a notice

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 14:00:00

On PostgreSQL, any change to what a bearer token stands for is announced on the channel
``actors_changed`` (delivered at commit, never for a rolled-back change): a token revoked,
expired early or deleted, a user changed or deleted (role, scope, deactivation, password), a
station moved to another village, a region's path changed. Each worker drops the actors it
remembers for tokens (marketplace/accounts/known_tokens.py) when the notice arrives. Triggers
rather than application code, so that any writer's change is announced; statement-level, so a
statement touching many rows announces once, and PostgreSQL folds a transaction's identical
notices into one. A new token changes no other: inserts announce nothing. SQLite has no
notifications, and its workers remember no tokens.
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

#: (table, the trigger's events): what an actor is read from (``accounts/auth.py``).
_WATCHED = (
    ("api_tokens", "UPDATE OR DELETE OR TRUNCATE"),
    ("users", "UPDATE OR DELETE OR TRUNCATE"),
    ("stations", "UPDATE OF village_id OR DELETE OR TRUNCATE"),
    ("regions", "UPDATE OF path OR DELETE OR TRUNCATE"),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_actors_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('actors_changed', '');
            RETURN NULL;
        END
        $$
        """
    )
    for table, events in _WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_actors_changed AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_actors_changed()"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, _ in _WATCHED:
        op.execute(f"DROP TRIGGER {table}_actors_changed ON {table}")
    op.execute("DROP FUNCTION notify_actors_changed()")
