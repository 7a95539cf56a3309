"""encounter_amendment: corrections of signed visit records, keeping the original text.

Revision ID: 0012_visit
Revises: 0012_rx
Create Date: 2026-12-01 19:30:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0012_visit'
down_revision = '0012_rx'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'encounter_amendment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('encounter_id', sa.Integer(), sa.ForeignKey('encounter.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('field', sa.Unicode(40), nullable=False),
        sa.Column('original_text', sa.UnicodeText(), nullable=True),
        sa.Column('new_text', sa.UnicodeText(), nullable=False),
        sa.Column('reason', sa.Unicode(500), nullable=False),
        sa.Column('author_id', sa.Integer(), sa.ForeignKey('ab_user.id', ondelete='SET NULL'), nullable=True),
        sa.Column('amended_at', UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_encounter_amendment_encounter', 'encounter_amendment', ['encounter_id', 'amended_at'])


def downgrade():
    op.drop_index('ix_encounter_amendment_encounter', table_name='encounter_amendment')
    op.drop_table('encounter_amendment')
