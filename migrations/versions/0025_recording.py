"""video visits: recordings taken with every participant's consent (video_recording, its consents
and its sealed chunks) and the files sent during a call (video_call_file).

Revision ID: 0025_recording
Revises: 0024_video
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0025_recording'
down_revision = '0024_video'
branch_labels = None
depends_on = None


def _choice(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def upgrade():
    op.create_table(
        'video_recording',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('video_call_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('state', _choice('video_recording_state', 'requested', 'recording', 'stopped', 'refused',
                                   'deleted'), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('stopped_at', UTCDateTime(), nullable=True),
        sa.Column('stopped_by_id', sa.Integer(), nullable=True),
        sa.Column('stop_reason', sa.String(length=20), nullable=True),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('retain_until', UTCDateTime(), nullable=True),
        sa.Column('deleted_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint("state <> 'recording' OR started_at IS NOT NULL", name='ck_video_recording_started'),
        sa.ForeignKeyConstraint(['video_call_id'], ['video_call.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['stopped_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_video_recording_call', 'video_recording', ['video_call_id'])
    op.create_index('ix_video_recording_retain', 'video_recording', ['state', 'retain_until'])
    op.create_table(
        'video_recording_consent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('role', _choice('video_recording_role', 'doctor', 'patient'), nullable=False),
        sa.Column('decision', _choice('video_recording_decision', 'accepted', 'refused'), nullable=False),
        sa.Column('decided_at', UTCDateTime(), nullable=False),
        sa.Column('withdrawn_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['recording_id'], ['video_recording.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recording_id', 'role', name='uq_video_recording_consent_role'),
    )
    op.create_table(
        'video_recording_chunk',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('storage_key', sa.Unicode(length=255), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('seq >= 0', name='ck_video_recording_chunk_seq'),
        sa.CheckConstraint('size_bytes >= 0', name='ck_video_recording_chunk_size'),
        sa.ForeignKeyConstraint(['recording_id'], ['video_recording.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recording_id', 'seq', name='uq_video_recording_chunk_seq'),
        sa.UniqueConstraint('storage_key', name='uq_video_recording_chunk_key'),
    )
    op.create_table(
        'video_call_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('video_call_id', sa.Integer(), nullable=False),
        sa.Column('attachment_id', sa.Integer(), nullable=False),
        sa.Column('shared_by_id', sa.Integer(), nullable=True),
        sa.Column('shared_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['video_call_id'], ['video_call.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shared_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('attachment_id', name='uq_video_call_file_attachment'),
    )
    op.create_index('ix_video_call_file_call', 'video_call_file', ['video_call_id'])


def downgrade():
    op.drop_index('ix_video_call_file_call', table_name='video_call_file')
    op.drop_table('video_call_file')
    op.drop_table('video_recording_chunk')
    op.drop_table('video_recording_consent')
    op.drop_index('ix_video_recording_retain', table_name='video_recording')
    op.drop_index('ix_video_recording_call', table_name='video_recording')
    op.drop_table('video_recording')
