"""attachment: thumbnail key (issue 9, files).

Revision ID: 0013_files
Revises: 0012_visit
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0013_files'
down_revision = '0012_visit'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attachment') as batch:
        batch.add_column(sa.Column('thumbnail_key', sa.Unicode(length=255), nullable=True))
        batch.create_unique_constraint('uq_attachment_thumbnail_key', ['thumbnail_key'])


def downgrade():
    with op.batch_alter_table('attachment') as batch:
        batch.drop_constraint('uq_attachment_thumbnail_key', type_='unique')
        batch.drop_column('thumbnail_key')
