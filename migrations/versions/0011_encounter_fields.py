"""encounter: private notes, version (optimistic lock), discard; patient: chronic conditions.

Revision ID: 0011_encounter_fields
Revises: 0010_care
Create Date: 2026-12-01 19:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0011_encounter_fields'
down_revision = '0010_care'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('encounter') as batch:
        batch.add_column(sa.Column('private_notes', sa.UnicodeText(), nullable=True))
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('discarded_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('discarded_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_encounter_discarded_by', 'ab_user', ['discarded_by_id'], ['id'],
                                 ondelete='SET NULL')
    with op.batch_alter_table('patient') as batch:
        batch.add_column(sa.Column('chronic_conditions', sa.UnicodeText(), nullable=True))


def downgrade():
    with op.batch_alter_table('patient') as batch:
        batch.drop_column('chronic_conditions')
    with op.batch_alter_table('encounter') as batch:
        batch.drop_constraint('fk_encounter_discarded_by', type_='foreignkey')
        batch.drop_column('discarded_by_id')
        batch.drop_column('discarded_at')
        batch.drop_column('version')
        batch.drop_column('private_notes')
