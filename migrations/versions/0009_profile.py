"""user_profile: each login's language, notification channels and (without a patient record) phone.

Revision ID: 0009_profile
Revises: 0008_sessions
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0009_profile'
down_revision = '0008_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_profile',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.Unicode(length=10), nullable=True),
        sa.Column('notify_email', sa.Boolean(), nullable=False),
        sa.Column('notify_sms', sa.Boolean(), nullable=False),
        sa.Column('phone', sa.Unicode(length=20), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade():
    op.drop_table('user_profile')
