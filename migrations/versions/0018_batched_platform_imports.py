"""batched platform imports

A platform export is imported by a job, a batch per transaction: its record says which job
made it and whether it read the whole file, and every problem it met is kept (the failed rows
file, and what a resumed run must know of the rows before it). Jobs that must run one at a
time (one import per station) share a serial key.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('serial_key', sa.String(length=60), nullable=True))
        batch.create_index(batch.f('ix_jobs_serial_key'), ['serial_key'], unique=False)
    with op.batch_alter_table('platform_imports') as batch:
        batch.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('complete', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.create_foreign_key(
            batch.f('fk_platform_imports_job_id_jobs'), 'jobs', ['job_id'], ['id']
        )
        batch.create_unique_constraint(batch.f('uq_platform_imports_job_id'), ['job_id'])
    op.create_table(
        'import_problems',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('column', sa.String(length=100), nullable=True),
        sa.Column('reason', sa.JSON(), nullable=False),
        sa.Column('failed_line_id', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ['import_id'],
            ['platform_imports.id'],
            name=op.f('fk_import_problems_import_id_platform_imports'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_problems')),
    )
    op.create_index(
        op.f('ix_import_problems_import_id_line'), 'import_problems', ['import_id', 'line']
    )
    op.create_index(
        op.f('ix_import_problems_import_id_failed_line_id'),
        'import_problems',
        ['import_id', 'failed_line_id'],
    )


def downgrade():
    op.drop_index(op.f('ix_import_problems_import_id_failed_line_id'), table_name='import_problems')
    op.drop_index(op.f('ix_import_problems_import_id_line'), table_name='import_problems')
    op.drop_table('import_problems')
    with op.batch_alter_table('platform_imports') as batch:
        batch.drop_constraint(batch.f('uq_platform_imports_job_id'), type_='unique')
        batch.drop_constraint(batch.f('fk_platform_imports_job_id_jobs'), type_='foreignkey')
        batch.drop_column('complete')
        batch.drop_column('job_id')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_index(batch.f('ix_jobs_serial_key'))
        batch.drop_column('serial_key')
