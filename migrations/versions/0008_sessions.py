"""ab_user_session and ab_refresh_token: login sessions that can be ended, and the rotating
refresh tokens of API logins (app/models/sessions.py).

Revision ID: 0008_sessions
Revises: 0007_mfa
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.types

revision = '0008_sessions'
down_revision = '0007_mfa'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ab_user_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('idle_seconds', sa.Integer(), nullable=False),
        sa.Column('expires_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.Column('ip', sa.Unicode(length=45), nullable=True),
        sa.Column('user_agent', sa.Unicode(length=300), nullable=True),
        sa.CheckConstraint("kind IN ('web', 'api')", name='ck_ab_user_session_kind'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ab_user_session_user', 'ab_user_session', ['user_id', 'ended_at'], unique=False)
    op.create_table(
        'ab_refresh_token',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issued_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['ab_user_session.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ab_refresh_token_session', 'ab_refresh_token', ['session_id'], unique=False)


def downgrade():
    op.drop_index('ix_ab_refresh_token_session', table_name='ab_refresh_token')
    op.drop_table('ab_refresh_token')
    op.drop_index('ix_ab_user_session_user', table_name='ab_user_session')
    op.drop_table('ab_user_session')
