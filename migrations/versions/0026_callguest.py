"""video visits: a third participant invited by the doctor with a one-time link (video_call_guest).

Revision ID: 0026_callguest
Revises: 0025_recording
Create Date: 2026-12-03 07:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0026_callguest'
down_revision = '0025_recording'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'video_call_guest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('video_call_id', sa.Integer(), nullable=False),
        sa.Column('display_name', sa.Unicode(length=120), nullable=False),
        sa.Column('token_digest', sa.String(length=64), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=True),
        sa.Column('invited_at', UTCDateTime(), nullable=False),
        sa.Column('redeemed_at', UTCDateTime(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('admitted_at', UTCDateTime(), nullable=True),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['video_call_id'], ['video_call.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_digest', name='uq_video_call_guest_token'),
        sa.UniqueConstraint('user_id', name='uq_video_call_guest_user'),
    )
    op.create_index('ix_video_call_guest_call', 'video_call_guest', ['video_call_id'])


def downgrade():
    op.drop_index('ix_video_call_guest_call', table_name='video_call_guest')
    op.drop_table('video_call_guest')
