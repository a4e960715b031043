"""village income rollups

A county's month read every household's rollup rows and every household (50,000 of each):
about a hundred milliseconds whatever was done to the statements. Two tables sum them by
village, kept by the database in the transaction that writes what they sum, so every writer
keeps them (the ledger's rollup upsert, a registry import, an edit, a bulk load):

- ``village_income_months``: ``household_income_months`` summed by the household's village,
  month, entry kind, producer and fund (the producer's kind and the fund's binding are still
  resolved when a report reads, as for the household rows);
- ``village_reach_months``: the households with any earning row in a month, counted by village,
  month and latest status, with their members.

A household that moves village, changes status or changes its members count takes its sums
with it: a trigger on ``households`` moves them between rows. An income writer locks the
households it writes for (``FOR NO KEY UPDATE``, in id order) before it reads their village,
so a change to a household and income written for it are one after the other, never crossed,
and the first earning row of a household's month counts it once. ``marketplace/ledger/
village_rollups.py`` holds the same sums computed from the household rollup: ``flask ledger
check`` compares them.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 05:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

EARNING = "('attribution', 'refund_reversal', 'fund_disbursement', 'minimum_dividend')"
MONEY_KEY = "month, village_id, kind, producer_id, fund_id"
ADD_MONEY = (
    f"ON CONFLICT ({MONEY_KEY}) DO UPDATE "
    "SET amount_fen = village_income_months.amount_fen + excluded.amount_fen"
)
ADD_REACH = (
    "ON CONFLICT (month, village_id, status) DO UPDATE "
    "SET households = village_reach_months.households + excluded.households, "
    "members = village_reach_months.members + excluded.members"
)

# --- PostgreSQL: statement triggers with transition tables, so a thousand-row upsert is three
# statements, not three thousand. Sums are grouped and sorted before they are added: two
# writers then lock the rows they share in the same order.

PG_LOCK = """
    PERFORM 1 FROM households WHERE id IN (SELECT household_id FROM {rows})
      ORDER BY id FOR NO KEY UPDATE;
"""
# The earning pairs a statement added, counted once where no earning row of the pair was there
# before it: the pair's earning rows now, less the statement's own, is zero.
PG_REACHED = f"""
    INSERT INTO village_reach_months (month, village_id, status, households, members)
    SELECT a.month, h.village_id, COALESCE(h.latest_status, ''), {{sign}} COUNT(*),
           {{sign}} SUM(h.members_count)
      FROM (SELECT household_id, month, COUNT(*) AS rows FROM {{rows}}
             WHERE kind IN {EARNING} GROUP BY household_id, month) a
      JOIN households h ON h.id = a.household_id
     WHERE (SELECT COUNT(*) FROM household_income_months m
             WHERE m.household_id = a.household_id AND m.month = a.month
               AND m.kind IN {EARNING}) = {{left}}
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    {ADD_REACH};
"""
PG_FUNCTIONS = {
    "village_rollups_inserted": f"""
    {PG_LOCK.format(rows='new_rows')}
    INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
    SELECT n.month, h.village_id, n.kind, n.producer_id, n.fund_id, SUM(n.amount_fen)
      FROM new_rows n JOIN households h ON h.id = n.household_id
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    {ADD_MONEY};
    {PG_REACHED.format(rows='new_rows', sign='', left='a.rows')}
    """,
    "village_rollups_updated": f"""
    {PG_LOCK.format(rows='new_rows')}
    INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
    SELECT n.month, h.village_id, n.kind, n.producer_id, n.fund_id,
           SUM(n.amount_fen - o.amount_fen)
      FROM new_rows n
      JOIN old_rows o USING (household_id, month, kind, producer_id, fund_id)
      JOIN households h ON h.id = n.household_id
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    {ADD_MONEY};
    """,
    "village_rollups_deleted": f"""
    {PG_LOCK.format(rows='old_rows')}
    INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
    SELECT o.month, h.village_id, o.kind, o.producer_id, o.fund_id, -SUM(o.amount_fen)
      FROM old_rows o JOIN households h ON h.id = o.household_id
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    {ADD_MONEY};
    {PG_REACHED.format(rows='old_rows', sign='-', left='0')}
    """,
}
PG_TRIGGERS = {
    "village_rollups_inserted": "INSERT ON household_income_months REFERENCING NEW TABLE AS new_rows",
    "village_rollups_updated": (
        "UPDATE ON household_income_months REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "village_rollups_deleted": "DELETE ON household_income_months REFERENCING OLD TABLE AS old_rows",
}

# A household's sums, moved from what it was (OLD) to what it is (NEW): its money to its new
# village, its reached months to its new village, status and members. Grouped first: a members
# change alone adds to and takes from the same row, which one upsert may not touch twice.
HOUSEHOLD_MOVED = f"""
    INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
    SELECT month, village_id, kind, producer_id, fund_id, SUM(amount_fen) FROM (
        SELECT month, NEW.village_id AS village_id, kind, producer_id, fund_id, amount_fen
          FROM household_income_months WHERE household_id = NEW.id
        UNION ALL
        SELECT month, OLD.village_id, kind, producer_id, fund_id, -amount_fen
          FROM household_income_months WHERE household_id = NEW.id
    ) moved WHERE NEW.village_id <> OLD.village_id
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    {ADD_MONEY};
    INSERT INTO village_reach_months (month, village_id, status, households, members)
    SELECT month, village_id, status, SUM(households), SUM(members) FROM (
        SELECT month, NEW.village_id AS village_id, COALESCE(NEW.latest_status, '') AS status,
               1 AS households, NEW.members_count AS members
          FROM household_income_months WHERE household_id = NEW.id AND kind IN {EARNING}
         GROUP BY month
        UNION ALL
        SELECT month, OLD.village_id, COALESCE(OLD.latest_status, ''), -1, -OLD.members_count
          FROM household_income_months WHERE household_id = NEW.id AND kind IN {EARNING}
         GROUP BY month
    ) moved WHERE 1 = 1
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    {ADD_REACH};
"""
HOUSEHOLD_CHANGED = (
    "OLD.village_id {differs} NEW.village_id OR OLD.latest_status {differs} NEW.latest_status "
    "OR OLD.members_count {differs} NEW.members_count"
)
PG_HOUSEHOLD_TRIGGER = f"""
CREATE TRIGGER households_village_rollups
AFTER UPDATE OF village_id, latest_status, members_count ON households
FOR EACH ROW WHEN ({HOUSEHOLD_CHANGED.format(differs='IS DISTINCT FROM')}) EXECUTE FUNCTION village_rollups_household_changed()
"""

# --- SQLite: row triggers (one writer at a time, and small databases). A row trigger runs as
# its row is written, so the first earning row of a pair is the one with no other beside it.

SQLITE_OTHER_EARNING = f"""
    SELECT 1 FROM household_income_months m
     WHERE m.household_id = {{row}}.household_id AND m.month = {{row}}.month
       AND m.kind IN {EARNING}
       AND NOT (m.kind = {{row}}.kind AND m.producer_id = {{row}}.producer_id
                AND m.fund_id = {{row}}.fund_id)
"""
SQLITE_REACHED = f"""
    INSERT INTO village_reach_months (month, village_id, status, households, members)
    SELECT {{row}}.month, h.village_id, COALESCE(h.latest_status, ''), {{sign}}1,
           {{sign}}h.members_count
      FROM households h
     WHERE h.id = {{row}}.household_id AND {{row}}.kind IN {EARNING}
       AND NOT EXISTS ({SQLITE_OTHER_EARNING})
    {ADD_REACH};
"""
SQLITE_MONEY = f"""
    INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
    SELECT {{row}}.month, h.village_id, {{row}}.kind, {{row}}.producer_id, {{row}}.fund_id,
           {{amount}}
      FROM households h WHERE h.id = {{row}}.household_id
    {ADD_MONEY};
"""
SQLITE_TRIGGERS = {
    "village_rollups_inserted": (
        "AFTER INSERT ON household_income_months",
        SQLITE_MONEY.format(row='NEW', amount='NEW.amount_fen')
        + SQLITE_REACHED.format(row='NEW', sign=''),
    ),
    "village_rollups_updated": (
        "AFTER UPDATE ON household_income_months",
        SQLITE_MONEY.format(row='NEW', amount='NEW.amount_fen - OLD.amount_fen'),
    ),
    "village_rollups_deleted": (
        "AFTER DELETE ON household_income_months",
        SQLITE_MONEY.format(row='OLD', amount='-OLD.amount_fen')
        + SQLITE_REACHED.format(row='OLD', sign='-'),
    ),
    "households_village_rollups": (
        f"AFTER UPDATE OF village_id, latest_status, members_count ON households "
        f"WHEN {HOUSEHOLD_CHANGED.format(differs='IS NOT')}",
        HOUSEHOLD_MOVED,
    ),
}

# The sums of the rows already there, as ``ledger/village_rollups.py`` computes them.
BACKFILL_MONEY = f"""
INSERT INTO village_income_months ({MONEY_KEY}, amount_fen)
SELECT m.month, h.village_id, m.kind, m.producer_id, m.fund_id, SUM(m.amount_fen)
  FROM household_income_months m JOIN households h ON h.id = m.household_id
 GROUP BY m.month, h.village_id, m.kind, m.producer_id, m.fund_id
"""
BACKFILL_REACH = f"""
INSERT INTO village_reach_months (month, village_id, status, households, members)
SELECT r.month, h.village_id, COALESCE(h.latest_status, ''), COUNT(*), SUM(h.members_count)
  FROM (SELECT DISTINCT household_id, month FROM household_income_months
         WHERE kind IN {EARNING}) r
  JOIN households h ON h.id = r.household_id
 GROUP BY r.month, h.village_id, COALESCE(h.latest_status, '')
"""


def upgrade():
    op.create_table(
        'village_income_months',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(
            'attribution', 'refund_reversal', 'late_capture', 'late_capture_refund',
            'fund_contribution', 'fund_disbursement', 'minimum_dividend', 'payout_approved',
            'payout_paid', 'payout_returned', name='entrykind', native_enum=False, length=32,
        ), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('month', 'village_id', 'kind', 'producer_id', 'fund_id',
                                name=op.f('pk_village_income_months')),
    )
    op.create_table(
        'village_reach_months',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('households', sa.Integer(), nullable=False),
        sa.Column('members', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('month', 'village_id', 'status',
                                name=op.f('pk_village_reach_months')),
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(
            'ix_households_village_id_latest_status', ['village_id', 'latest_status'],
            unique=False,
        )
    if op.get_bind().dialect.name == 'postgresql':
        for name, body in PG_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body} RETURN NULL; "
                "END $$ LANGUAGE plpgsql"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {PG_TRIGGERS[name]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        op.execute(
            "CREATE FUNCTION village_rollups_household_changed() RETURNS trigger AS $$ BEGIN "
            f"{HOUSEHOLD_MOVED} RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        op.execute(PG_HOUSEHOLD_TRIGGER)
    else:
        for name, (event, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {event} BEGIN {body} END")
    op.execute(BACKFILL_MONEY)
    op.execute(BACKFILL_REACH)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS households_village_rollups ON households')
        op.execute('DROP FUNCTION IF EXISTS village_rollups_household_changed()')
        for name in PG_FUNCTIONS:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON household_income_months')
            op.execute(f'DROP FUNCTION IF EXISTS {name}()')
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_village_id_latest_status')
    op.drop_table('village_reach_months')
    op.drop_table('village_income_months')
