"""ab_permission_version: one row whose number goes up with every change of roles or permissions, so
each web process reloads its cached permissions on the next request.

Revision ID: 0003_permission_version
Revises: 0002_no_overlap
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0003_permission_version'
down_revision = '0002_no_overlap'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'ab_permission_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name='ck_ab_permission_version_one_row'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 1}])


def downgrade():
    op.drop_table('ab_permission_version')
