"""search_document: a GIN index of its own for each kind (partial indexes) instead of one for all.
A search of one kind then reads only that kind's matches and stops after the first few thousand
(app/services/search/postgres_engine.py): with 1,000,000 appointment documents a common name's
words matched 148,000 documents, every one read and ranked (0.7-2 s); now 10-60 ms. On SQLite the
one plain index goes and nothing replaces it (the table stays empty there).

Revision ID: 0030_search_kind_indexes
Revises: 0029_search_words
Create Date: 2026-12-03 18:30:00

"""
from alembic import op

revision = '0030_search_kind_indexes'
down_revision = '0029_search_words'
branch_labels = None
depends_on = None

# As app.models.search.SEARCH_KINDS on the day of this migration (a migration does not follow the code).
KINDS = ("patients", "appointments", "visits", "prescriptions", "medicines", "invoices")


def upgrade():
    op.drop_index('ix_search_document_tsv', table_name='search_document')
    if op.get_bind().dialect.name == 'postgresql':
        for kind in KINDS:
            op.execute(f"CREATE INDEX ix_search_document_tsv_{kind} ON search_document USING gin (tsv) "
                       f"WITH (fastupdate = off) WHERE kind = '{kind}'")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for kind in KINDS:
            op.execute(f"DROP INDEX IF EXISTS ix_search_document_tsv_{kind}")
        op.execute("CREATE INDEX ix_search_document_tsv ON search_document USING gin (tsv) WITH (fastupdate = off)")
    else:
        op.create_index('ix_search_document_tsv', 'search_document', ['tsv'])
