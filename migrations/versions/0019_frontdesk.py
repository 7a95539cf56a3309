"""frontdesk: the front desk's "called" step on an appointment (called_at, called_by_id).

Revision ID: 0019_frontdesk
Revises: 0018_messaging
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0019_frontdesk'
down_revision = '0018_messaging'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointment') as batch:
        batch.add_column(sa.Column('called_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('called_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_appointment_called_by_id_ab_user', 'ab_user', ['called_by_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('appointment') as batch:
        batch.drop_constraint('fk_appointment_called_by_id_ab_user', type_='foreignkey')
        batch.drop_column('called_by_id')
        batch.drop_column('called_at')
