"""webhooks: endpoints admins register, one delivery per endpoint and outbox event, the fan-out's
cursor over the outbox, and the built-in test receiver's payloads (app/models/webhooks.py).

Revision ID: 0032_webhooks
Revises: 0031_outbox
Create Date: 2026-12-04 04:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = '0032_webhooks'
down_revision = '0031_outbox'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'webhook_endpoint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.Unicode(length=500), nullable=False),
        sa.Column('description', sa.Unicode(length=200), nullable=True),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(length=80), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'webhook_delivery',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('event_type', sa.Unicode(length=60), nullable=False),
        sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('retry_until', UTCDateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Unicode(length=500), nullable=True),
        sa.Column('delivered_at', UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name='ck_webhook_delivery_status'),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_delivery_endpoint_event'),
    )
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['status', 'next_attempt_at'])
    op.create_index('ix_webhook_delivery_endpoint', 'webhook_delivery', ['endpoint_id', 'id'])
    op.create_table(
        'webhook_cursor',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('last_outbox_id', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'webhook_received',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('signature', sa.String(length=300), nullable=True),
        sa.Column('verified', sa.Boolean(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=True),
        sa.Column('event_type', sa.Unicode(length=60), nullable=True),
        sa.Column('body', sa.UnicodeText(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('webhook_received')
    op.drop_table('webhook_cursor')
    op.drop_index('ix_webhook_delivery_endpoint', table_name='webhook_delivery')
    op.drop_index('ix_webhook_delivery_due', table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
    op.drop_table('webhook_endpoint')
