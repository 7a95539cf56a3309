"""video visits: how a service is given (service.visit_modes), an appointment's mode, and the call
room of a video appointment (video_call).

Revision ID: 0024_video
Revises: 0023_dashscale
Create Date: 2026-12-02 18:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0024_video'
down_revision = '0023_dashscale'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service') as batch:
        batch.add_column(sa.Column(
            'visit_modes',
            sa.Enum('in_person', 'video', 'both', name='service_visit_modes', native_enum=False,
                    create_constraint=True, length=9),
            nullable=False, server_default='in_person'))
    with op.batch_alter_table('appointment') as batch:
        batch.add_column(sa.Column(
            'mode',
            sa.Enum('in_person', 'video', name='appointment_mode', native_enum=False, create_constraint=True,
                    length=9),
            nullable=False, server_default='in_person'))
    op.create_table(
        'video_call',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('room_key', sa.String(length=43), nullable=False),
        sa.Column('admitted_at', UTCDateTime(), nullable=True),
        sa.Column('admitted_by_id', sa.Integer(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at',
                           name='ck_video_call_ends_after_start'),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['admitted_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('appointment_id', name='uq_video_call_appointment'),
        sa.UniqueConstraint('room_key', name='uq_video_call_room_key'),
    )


def downgrade():
    op.drop_table('video_call')
    # The CHECK constraints of the two choices first: SQLite's table copy would keep them, naming
    # a column that is gone.
    with op.batch_alter_table('appointment') as batch:
        batch.drop_constraint('appointment_mode', type_='check')
        batch.drop_column('mode')
    with op.batch_alter_table('service') as batch:
        batch.drop_constraint('service_visit_modes', type_='check')
        batch.drop_column('visit_modes')
