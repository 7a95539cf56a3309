"""dashscale: the dashboards' rollups (issue 14, "fast at scale"): dashboard_day (per local day and
doctor: booked, visits, no-shows, cancellations, booked seconds, wait and consultation sums),
patient_first_visit (each patient's first visit ever) and dashboard_patients (new and returning
patients per whole day, week, month and quarter, per doctor and for the clinic),
dashboard_revenue_day and dashboard_takings_day (billed revenue and money taken per day), filled from the
existing rows with INSERT ... SELECT in the clinic's zone (CLINIC_TIMEZONE).

Revision ID: 0023_dashscale
Revises: 0022_reminders
Create Date: 2026-12-02 12:45:00

"""
import os
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = '0023_dashscale'
down_revision = '0022_reminders'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'dashboard_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('booked', sa.Integer(), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('no_show', sa.Integer(), nullable=False),
        sa.Column('cancelled', sa.Integer(), nullable=False),
        sa.Column('booked_seconds', sa.Float(), nullable=False),
        sa.Column('waited', sa.Integer(), nullable=False),
        sa.Column('wait_seconds', sa.Float(), nullable=False),
        sa.Column('consulted', sa.Integer(), nullable=False),
        sa.Column('consult_seconds', sa.Float(), nullable=False),
        sa.Column('wait_reviews', sa.Integer(), nullable=False),
        sa.Column('wait_stars', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'doctor_id'),
    )
    op.create_index('ix_dashboard_day_doctor', 'dashboard_day', ['doctor_id', 'day'])
    op.create_table(
        'patient_first_visit',
        sa.Column('patient_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('first_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('patient_id'),
    )
    op.create_table(
        'dashboard_patients',
        sa.Column('grain', sa.String(length=8), nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('new_patients', sa.Integer(), nullable=False),
        sa.Column('returning_patients', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('grain', 'period', 'doctor_id'),
    )
    op.create_table(
        'dashboard_revenue_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
        sa.PrimaryKeyConstraint('day', 'doctor_id', 'kind', 'service_id'),
    )
    op.create_table(
        'dashboard_takings_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=20), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
        sa.PrimaryKeyConstraint('day', 'doctor_id', 'method'),
    )
    # The backfill: the same INSERT ... SELECT statements the rollups' refresh runs.
    from sqlalchemy.orm import Session

    from app.services.dashboards.rollups import rebuild

    session = Session(bind=op.get_bind())
    rebuild(session, ZoneInfo(os.environ.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")))
    session.flush()


def downgrade():
    op.drop_table('dashboard_takings_day')
    op.drop_table('dashboard_revenue_day')
    op.drop_table('dashboard_patients')
    op.drop_table('patient_first_visit')
    op.drop_index('ix_dashboard_day_doctor', table_name='dashboard_day')
    op.drop_table('dashboard_day')
