"""search_document: the PostgreSQL search engine's documents (issue 16); on PostgreSQL also the
unaccent and pg_trgm extensions and the ``clinic_search`` text search configuration.

Revision ID: 0028_search
Revises: 0027_logstore
Create Date: 2026-12-04 08:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.models.search import CREATE_CONFIGURATION, TS_CONFIG
from app.models.types import UTCDateTime

revision = '0028_search'
down_revision = '0027_logstore'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Both ship with PostgreSQL (contrib); pg_trgm is trusted (13+), unaccent is too (13+):
        # the database's owner may create them without being a superuser.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE EXTENSION IF NOT EXISTS unaccent')
        # simple + unaccent: there is no Vietnamese stemmer (see app/models/search.py).
        op.execute(CREATE_CONFIGURATION)
    op.create_table(
        'search_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Unicode(length=20), nullable=False),
        sa.Column('ref_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=True),
        sa.Column('names', sa.UnicodeText(), nullable=False),
        sa.Column('body', sa.UnicodeText(), nullable=False),
        sa.Column('keys', sa.UnicodeText(), nullable=False),
        sa.Column('tsv', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'ref_id', name='uq_search_document_kind_ref'),
    )
    op.create_index('ix_search_document_tsv', 'search_document', ['tsv'], postgresql_using='gin')
    op.create_index('ix_search_document_names', 'search_document', ['names'], postgresql_using='gin',
                    postgresql_ops={'names': 'gin_trgm_ops'})
    op.create_index('ix_search_document_patient', 'search_document', ['patient_id'])


def downgrade():
    op.drop_index('ix_search_document_patient', table_name='search_document')
    op.drop_index('ix_search_document_names', table_name='search_document')
    op.drop_index('ix_search_document_tsv', table_name='search_document')
    op.drop_table('search_document')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP TEXT SEARCH CONFIGURATION IF EXISTS {TS_CONFIG}')  # the extensions stay: others use pg_trgm
