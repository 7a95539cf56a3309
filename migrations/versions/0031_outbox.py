"""outbox: domain events written in the same transaction as the change that caused them
(app/models/outbox.py), delivered afterwards by the relay and the webhooks.

Revision ID: 0031_outbox
Revises: 0030_search_kind_indexes
Create Date: 2026-12-04 03:40:00

"""
import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = '0031_outbox'
down_revision = '0030_search_kind_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.Unicode(length=60), nullable=False),
        sa.Column('aggregate_type', sa.Unicode(length=40), nullable=False),
        sa.Column('aggregate_id', sa.Unicode(length=40), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('payload_version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Unicode(length=500), nullable=True),
        sa.CheckConstraint('sequence >= 1', name='ck_outbox_sequence_positive'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id', name='uq_outbox_event_id'),
        sa.UniqueConstraint('aggregate_type', 'aggregate_id', 'sequence', name='uq_outbox_aggregate_sequence'),
    )
    op.create_index('ix_outbox_pending', 'outbox', ['id'], postgresql_where=sa.text('sent_at IS NULL'),
                    sqlite_where=sa.text('sent_at IS NULL'))
    op.create_index('ix_outbox_type', 'outbox', ['type', 'id'])


def downgrade():
    op.drop_index('ix_outbox_type', table_name='outbox')
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.drop_table('outbox')
