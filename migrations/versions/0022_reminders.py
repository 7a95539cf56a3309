"""reminders: a service's "what to bring" note, listed in the appointment reminder (service.what_to_bring).

Revision ID: 0022_reminders
Revises: 0021_dashboards
Create Date: 2026-12-02 09:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0022_reminders'
down_revision = '0021_dashboards'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service') as batch:
        batch.add_column(sa.Column('what_to_bring', sa.UnicodeText(), nullable=True))


def downgrade():
    with op.batch_alter_table('service') as batch:
        batch.drop_column('what_to_bring')
