"""latest household status

A report counts a region's registered households by their status at the period's end: the
latest change by then. It used to look that up in each household's history, one index probe per
household (half of a county's month report). ``households.latest_status`` holds the status of the
household's latest change whatever its day, kept by the database itself: a trigger on
``household_status_changes`` sets it on every insert, whoever writes (the API, the registry
import, the seeds' COPY). A report then looks up only the households with a change after the
period's end, found through a new index on the change's day. Status changes are append-only, so
an insert is the only event to follow.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 01:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

LATEST = """
(SELECT c.status FROM household_status_changes c WHERE c.household_id = {household}
 ORDER BY c.effective_from DESC, c.id DESC LIMIT 1)
"""

# The household's row is locked before its latest change is read: under READ COMMITTED the read
# is then a new statement's snapshot, taken after any concurrent append to the same household
# has committed, so two appends at once cannot leave the older change's status behind.
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION household_latest_status() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM households WHERE id = NEW.household_id FOR UPDATE;
    UPDATE households SET latest_status = {LATEST.format(household='NEW.household_id')}
     WHERE id = NEW.household_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql
"""
POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER household_status_changes_latest AFTER INSERT ON household_status_changes "
    "FOR EACH ROW EXECUTE FUNCTION household_latest_status()"
)
SQLITE_TRIGGER = f"""
CREATE TRIGGER household_status_changes_latest AFTER INSERT ON household_status_changes
BEGIN
    UPDATE households SET latest_status = {LATEST.format(household='NEW.household_id')}
     WHERE id = NEW.household_id;
END
"""


def upgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_status', sa.Enum(
            'in_poverty', 'lifted', 'monitoring', name='householdstatus', native_enum=False,
            length=24,
        ), nullable=True))
    with op.batch_alter_table('household_status_changes', schema=None) as batch_op:
        batch_op.create_index(
            'ix_household_status_changes_effective_from', ['effective_from', 'household_id'],
            unique=False,
        )
    op.execute(f"UPDATE households SET latest_status = {LATEST.format(household='households.id')}")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS household_status_changes_latest ON household_status_changes')
        op.execute('DROP FUNCTION IF EXISTS household_latest_status()')
    else:
        op.execute('DROP TRIGGER IF EXISTS household_status_changes_latest')
    with op.batch_alter_table('household_status_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_household_status_changes_effective_from')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('latest_status')
