"""messaging: every outgoing message (outbound_message), the reminder claim keyed by the visit time
(a move re-arms it; rows kept, their visit time taken from the appointment), Zalo as a channel and
quiet hours on the profile.

Revision ID: 0018_messaging
Revises: 0017_billing
Create Date: 2026-12-02 02:30:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0018_messaging'
down_revision = '0017_billing'
branch_labels = None
depends_on = None

CHANNELS = ('email', 'sms', 'zalo')
STATUSES = ('queued', 'sending', 'sent', 'failed', 'skipped')
SKIP_REASONS = ('no_address', 'opted_out', 'quiet_hours', 'cancelled', 'moved', 'not_due', 'gone')
OLD_REMINDER_CHANNELS = ('email', 'sms', 'push', 'in_app')
REMINDER_CHANNELS = ('email', 'sms', 'zalo', 'push', 'in_app')
REMINDER_STATUSES = ('queued', 'sent', 'failed', 'skipped')


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def _reminder_table(name, channels, with_new_columns):
    columns = [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Unicode(length=40), nullable=False),
        sa.Column('channel', _enum('reminder_channel', channels), nullable=False),
        sa.Column('status', _enum('reminder_status', REMINDER_STATUSES), nullable=False),
        sa.Column('error', sa.Unicode(length=500), nullable=True),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
    ]
    keys = ['appointment_id', 'kind', 'channel']
    if with_new_columns:
        columns += [sa.Column('for_start_at', UTCDateTime(), nullable=False),
                    sa.Column('message_id', sa.Integer(), nullable=True)]
        keys.append('for_start_at')
    columns.append(sa.Column('created_at', UTCDateTime(), nullable=False))
    constraints = [
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(*keys, name='uq_reminder_log_once'),
    ]
    if with_new_columns:
        constraints.append(sa.ForeignKeyConstraint(['message_id'], ['outbound_message.id'], ondelete='SET NULL'))
    op.create_table(name, *columns, *constraints)


def upgrade():
    op.create_table(
        'outbound_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sa.Unicode(length=200), nullable=True),
        sa.Column('channel', _enum('message_channel', CHANNELS), nullable=False),
        sa.Column('kind', sa.Unicode(length=40), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('language', sa.Unicode(length=10), nullable=False),
        sa.Column('recipient', sa.Unicode(length=254), nullable=True),
        sa.Column('recipient_name', sa.Unicode(length=150), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('patient_id', sa.Integer(), nullable=True),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('status', _enum('message_status', STATUSES), nullable=False),
        sa.Column('skip_reason', _enum('message_skip_reason', SKIP_REASONS), nullable=True),
        sa.Column('not_before', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_at', UTCDateTime(), nullable=True),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.Unicode(length=500), nullable=True),
        sa.Column('provider_ref', sa.Unicode(length=200), nullable=True),
        sa.Column('subject', sa.Unicode(length=300), nullable=True),
        sa.Column('body', sa.UnicodeText(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('attempts >= 0', name='ck_outbound_message_attempts'),
        sa.CheckConstraint("status <> 'skipped' OR skip_reason IS NOT NULL", name='ck_outbound_message_skip_reason'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key', name='uq_outbound_message_dedupe'),
    )
    with op.batch_alter_table('outbound_message') as batch:
        batch.create_index('ix_outbound_message_due', ['status', 'not_before'], unique=False)
        batch.create_index('ix_outbound_message_created', ['created_at'], unique=False)
        batch.create_index('ix_outbound_message_appointment', ['appointment_id'], unique=False)

    # reminder_log gains the visit time in its unique key: a new table, the old rows copied.
    op.rename_table('reminder_log', 'reminder_log_old')
    if op.get_bind().dialect.name == 'postgresql':  # names of constraints are per schema there
        op.execute('ALTER TABLE reminder_log_old DROP CONSTRAINT uq_reminder_log_once')
        op.execute('ALTER TABLE reminder_log_old DROP CONSTRAINT IF EXISTS reminder_channel')
        op.execute('ALTER TABLE reminder_log_old DROP CONSTRAINT IF EXISTS reminder_status')
    _reminder_table('reminder_log', REMINDER_CHANNELS, True)
    op.execute(
        'INSERT INTO reminder_log (id, appointment_id, kind, channel, status, error, sent_at, for_start_at, '
        'created_at) SELECT r.id, r.appointment_id, r.kind, r.channel, r.status, r.error, r.sent_at, a.start_at, '
        'r.created_at FROM reminder_log_old r JOIN appointment a ON a.id = r.appointment_id')
    op.drop_table('reminder_log_old')
    op.create_index('ix_reminder_log_message', 'reminder_log', ['message_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('reminder_log', 'id'), "
                   "COALESCE((SELECT MAX(id) FROM reminder_log), 0) + 1, false)")

    with op.batch_alter_table('user_profile') as batch:
        batch.add_column(sa.Column('notify_zalo', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('quiet_from', sa.Time(), nullable=True))
        batch.add_column(sa.Column('quiet_until', sa.Time(), nullable=True))


def downgrade():
    with op.batch_alter_table('user_profile') as batch:
        batch.drop_column('quiet_until')
        batch.drop_column('quiet_from')
        batch.drop_column('notify_zalo')
    op.drop_index('ix_reminder_log_message', table_name='reminder_log')
    op.rename_table('reminder_log', 'reminder_log_new')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE reminder_log_new DROP CONSTRAINT uq_reminder_log_once')
        op.execute('ALTER TABLE reminder_log_new DROP CONSTRAINT IF EXISTS reminder_channel')
        op.execute('ALTER TABLE reminder_log_new DROP CONSTRAINT IF EXISTS reminder_status')
    _reminder_table('reminder_log', OLD_REMINDER_CHANNELS, False)
    # One row per appointment, kind and channel again (the latest visit time's), Zalo's dropped.
    op.execute(
        "INSERT INTO reminder_log (id, appointment_id, kind, channel, status, error, sent_at, created_at) "
        "SELECT id, appointment_id, kind, channel, status, error, sent_at, created_at FROM reminder_log_new n "
        "WHERE channel <> 'zalo' AND NOT EXISTS (SELECT 1 FROM reminder_log_new m WHERE m.appointment_id = "
        "n.appointment_id AND m.kind = n.kind AND m.channel = n.channel AND m.for_start_at > n.for_start_at)")
    op.drop_table('reminder_log_new')
    with op.batch_alter_table('outbound_message') as batch:
        batch.drop_index('ix_outbound_message_appointment')
        batch.drop_index('ix_outbound_message_created')
        batch.drop_index('ix_outbound_message_due')
    op.drop_table('outbound_message')
