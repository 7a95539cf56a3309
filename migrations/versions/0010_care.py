"""care_access_grant: break-the-glass grants to one patient's clinical record for a limited time.

Revision ID: 0010_care
Revises: 0009_profile
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0010_care'
down_revision = '0009_profile'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'care_access_grant',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Unicode(length=500), nullable=False),
        sa.Column('granted_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('expires_at > granted_at', name='ck_care_access_grant_expiry'),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_care_access_grant_user_patient', 'care_access_grant',
                    ['user_id', 'patient_id', 'expires_at'])
    op.create_index('ix_care_access_grant_granted_at', 'care_access_grant', ['granted_at'])


def downgrade():
    op.drop_index('ix_care_access_grant_granted_at', table_name='care_access_grant')
    op.drop_index('ix_care_access_grant_user_patient', table_name='care_access_grant')
    op.drop_table('care_access_grant')
