"""reviews: a review's edit time, the reason a manager hid it, the doctor's one public reply.

Revision ID: 0020_reviews
Revises: 0019_chat
Create Date: 2026-12-02 09:30:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0020_reviews'
down_revision = '0019_chat'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review') as batch:
        batch.add_column(sa.Column('hidden_reason', sa.Unicode(length=500), nullable=True))
        batch.add_column(sa.Column('reply', sa.UnicodeText(), nullable=True))
        batch.add_column(sa.Column('replied_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('replied_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('updated_at', UTCDateTime(), nullable=True))
        batch.create_foreign_key('fk_review_replied_by_id_ab_user', 'ab_user', ['replied_by_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('review') as batch:
        batch.drop_constraint('fk_review_replied_by_id_ab_user', type_='foreignkey')
        batch.drop_column('updated_at')
        batch.drop_column('replied_at')
        batch.drop_column('replied_by_id')
        batch.drop_column('reply')
        batch.drop_column('hidden_reason')
