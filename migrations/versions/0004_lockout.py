"""ab_account_lock: accounts locked after too many failed logins (the failures themselves are
counted in FAB's ab_user.fail_login_count).

Revision ID: 0004_lockout
Revises: 0003_permission_version
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0004_lockout'
down_revision = '0003_permission_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ab_account_lock',
        sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('locked_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('locked_until', UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('locked_until > locked_at', name='ck_ab_account_lock_period'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade():
    op.drop_table('ab_account_lock')
