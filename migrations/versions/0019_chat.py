"""chat: one conversation per patient (status, assignee, unread counts, read times) and the
canned replies; the messages themselves are documents in the document store (stored_document or
MongoDB), so no table here.

Revision ID: 0019_chat
Revises: 0019_frontdesk
Create Date: 2026-12-02 05:37:11

"""
from alembic import op
import sqlalchemy as sa

import app.models.types

revision = '0019_chat'
down_revision = '0019_frontdesk'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('chat_canned_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Unicode(length=80), nullable=False),
    sa.Column('body', sa.UnicodeText(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('chat_conversation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'waiting', 'assigned', 'closed', name='chat_status', native_enum=False, create_constraint=True, length=8), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('last_message_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_message_preview', sa.Unicode(length=120), nullable=True),
    sa.Column('unread_for_staff', sa.Integer(), nullable=False),
    sa.Column('unread_for_patient', sa.Integer(), nullable=False),
    sa.Column('staff_read_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('patient_read_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('unread_for_staff >= 0 AND unread_for_patient >= 0', name='ck_chat_unread'),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', name='uq_chat_conversation_patient')
    )
    with op.batch_alter_table('chat_conversation', schema=None) as batch_op:
        batch_op.create_index('ix_chat_conversation_assigned', ['assigned_to_id', 'last_message_at'], unique=False)
        batch_op.create_index('ix_chat_conversation_inbox', ['status', 'last_message_at'], unique=False)



def downgrade():
    with op.batch_alter_table('chat_conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_conversation_inbox')
        batch_op.drop_index('ix_chat_conversation_assigned')

    op.drop_table('chat_conversation')
    op.drop_table('chat_canned_reply')
