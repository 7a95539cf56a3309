"""PostgreSQL: no two active appointments of one doctor or one patient overlap (btree_gist).

Revision ID: 0002_no_overlap
Revises: 0001_initial
Create Date: 2026-11-26 05:40:00

"""
from alembic import op

revision = '0002_no_overlap'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('requested', 'confirmed', 'checked_in', 'in_consultation', 'completed')"


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite serialises bookings with its write lock instead
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
    for owner in ('doctor', 'patient'):
        op.execute(
            f"ALTER TABLE appointment ADD CONSTRAINT ex_appointment_{owner}_overlap "
            f"EXCLUDE USING gist ({owner}_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) WHERE ({ACTIVE})"
        )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for owner in ('doctor', 'patient'):
        op.execute(f'ALTER TABLE appointment DROP CONSTRAINT IF EXISTS ex_appointment_{owner}_overlap')
