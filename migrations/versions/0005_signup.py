"""account_link, account_email, pending_signup: links sent by e-mail (hashed tokens), the
confirmed e-mail of self-registered logins, and sign-up details waiting for the confirmation.

Revision ID: 0005_signup
Revises: 0004_lockout
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0005_signup'
down_revision = '0004_lockout'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.Unicode(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('email', sa.Unicode(length=254), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('confirm', 'reset', 'email_change')", name='ck_account_link_purpose'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash', name='uq_account_link_token_hash'),
    )
    op.create_index('ix_account_link_user_purpose', 'account_link', ['user_id', 'purpose'], unique=False)
    op.create_table(
        'account_email',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.Unicode(length=254), nullable=False),
        sa.Column('confirmed_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'pending_signup',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('full_name', sa.Unicode(length=150), nullable=False),
        sa.Column('phone', sa.Unicode(length=20), nullable=True),
        sa.Column('date_of_birth', sa.Date(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade():
    op.drop_table('pending_signup')
    op.drop_table('account_email')
    op.drop_index('ix_account_link_user_purpose', table_name='account_link')
    op.drop_table('account_link')
