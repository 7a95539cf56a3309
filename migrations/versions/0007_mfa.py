"""ab_mfa_enrolment and ab_mfa_recovery_code: two-factor login (TOTP enrolment, one-time recovery codes).

Revision ID: 0007_mfa
Revises: 0006_audit_chain
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.types

revision = '0007_mfa'
down_revision = '0006_audit_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ab_mfa_enrolment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.Unicode(length=64), nullable=False),
        sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_used_step', sa.BigInteger(), nullable=True),
        sa.Column('failed_codes', sa.Integer(), server_default='0', nullable=False),
        sa.Column('codes_locked_until', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', name='uq_ab_mfa_enrolment_user'),
    )
    op.create_table(
        'ab_mfa_recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'code_hash', name='uq_ab_mfa_recovery_code_hash'),
    )
    with op.batch_alter_table('ab_mfa_recovery_code', schema=None) as batch_op:
        batch_op.create_index('ix_ab_mfa_recovery_code_user_id', ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ab_mfa_recovery_code', schema=None) as batch_op:
        batch_op.drop_index('ix_ab_mfa_recovery_code_user_id')
    op.drop_table('ab_mfa_recovery_code')
    op.drop_table('ab_mfa_enrolment')
