"""event consumers: consumed_event (each consumer applies an event once, deduplicated by its id)
and lab_bridge_order (the lab-bridge consumer's queue for a lab analyser interface).

Revision ID: 0033_event_consumers
Revises: 0032_webhooks
Create Date: 2026-12-04 04:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = '0033_event_consumers'
down_revision = '0032_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'consumed_event',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('consumer', sa.Unicode(length=60), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('consumed_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('consumer', 'event_id', name='uq_consumed_event_consumer_event'),
    )
    op.create_table(
        'lab_bridge_order',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lab_order_id', sa.Integer(), nullable=False),
        sa.Column('test_code', sa.Unicode(length=30), nullable=False),
        sa.Column('patient_code', sa.Unicode(length=30), nullable=True),
        sa.Column('status', sa.Unicode(length=20), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'cancelled')", name='ck_lab_bridge_order_status'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('lab_order_id', name='uq_lab_bridge_order_lab_order'),
    )
    op.create_index('ix_lab_bridge_order_status', 'lab_bridge_order', ['status', 'id'])


def downgrade():
    op.drop_index('ix_lab_bridge_order_status', table_name='lab_bridge_order')
    op.drop_table('lab_bridge_order')
    op.drop_table('consumed_event')
