"""dashboards: indexes for the managers' dashboard figures (issue 14): appointments by time with
the columns the figures count (an index-only scan per bucket), batches by expiry date, approved
reviews by time.

Revision ID: 0021_dashboards
Revises: 0019_chat
Create Date: 2026-12-02 09:30:00

"""
from alembic import op

revision = '0021_dashboards'
down_revision = '0020_reviews'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_appointment_start_cover', 'appointment', ['start_at', 'status', 'doctor_id', 'patient_id'])
    op.create_index('ix_stock_batch_expiry', 'stock_batch', ['expiry_date'])
    op.create_index('ix_review_status_created', 'review', ['status', 'created_at', 'doctor_id'])


def downgrade():
    op.drop_index('ix_review_status_created', table_name='review')
    op.drop_index('ix_stock_batch_expiry', table_name='stock_batch')
    op.drop_index('ix_appointment_start_cover', table_name='appointment')
