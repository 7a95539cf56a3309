"""logs kept as documents: expression indexes on the log events' level, request id and user in
stored_document, and the request id on audit rows (the log viewer shows both for one request).

Revision ID: 0027_logstore
Revises: 0026_callguest
Create Date: 2026-12-03 14:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0027_logstore'
down_revision = '0026_callguest'
branch_labels = None
depends_on = None

# The fields of app.services.documents.INDEXED_FIELDS. Each index is written with the very
# expression the SQL document store filters on (documents._json_field): the planners match it.
# The time and the id end each index: the viewer's order (newest first, id breaking ties) is then
# the index's own, and a page of 200 reads 200 entries, not every match.
FIELDS = ('level', 'request_id', 'user_id', 'status')
EXPRESSIONS = {
    'postgresql': "(CAST(body AS JSONB) ->> '{field}')",
    'sqlite': "json_extract(body, '$.{field}')",
}


def upgrade():
    dialect = op.get_bind().dialect.name
    expression = EXPRESSIONS.get(dialect)
    if expression is not None:  # SQL Server: JSON_VALUE needs a computed column; filters scan the time range
        for field in FIELDS:
            op.execute(f'CREATE INDEX ix_stored_document_{field} ON stored_document '
                       f'(collection, {expression.format(field=field)}, created_at, id)')
    if dialect == 'postgresql':
        # Words in a log message: a trigram index serves ILIKE '%...%' (pg_trgm: migration 0014).
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute("CREATE INDEX ix_stored_document_message ON stored_document USING gin "
                   "((CAST(body AS JSONB) ->> 'message') gin_trgm_ops)")
    with op.batch_alter_table('audit_event') as batch:
        batch.add_column(sa.Column('request_id', sa.Unicode(length=64), nullable=True))
        batch.create_index('ix_audit_event_request', ['request_id'])


def downgrade():
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_index('ix_audit_event_request')
        batch.drop_column('request_id')
    if op.get_bind().dialect.name in EXPRESSIONS:
        for field in FIELDS + ('message',):
            op.execute(f'DROP INDEX IF EXISTS ix_stored_document_{field}')
