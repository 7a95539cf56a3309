"""icd10_code: the ICD-10 code table; diagnosis: one code once per visit, at most one primary.

Revision ID: 0014_dx
Revises: 0013_files
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0014_dx'
down_revision = '0013_files'
branch_labels = None
depends_on = None


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    if postgresql:
        # Trigram index for searching titles with LIKE '%...%'. pg_trgm ships with PostgreSQL and is a
        # trusted extension (13+): the database's owner may create it without being a superuser.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_table(
        'icd10_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.Unicode(length=10), nullable=False),
        sa.Column('title_en', sa.Unicode(length=300), nullable=False),
        sa.Column('title_vi', sa.Unicode(length=300), nullable=False),
        sa.Column('search_text', sa.Unicode(length=700), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code', name='uq_icd10_code_code'),
    )
    op.create_index('ix_icd10_code_prefix', 'icd10_code', ['code'], postgresql_ops={'code': 'varchar_pattern_ops'})
    op.create_index('ix_icd10_code_search', 'icd10_code', ['search_text'], postgresql_using='gin',
                    postgresql_ops={'search_text': 'gin_trgm_ops'})
    # A visit written before this revision may hold a code twice or two primary diagnoses. Clinical
    # records are never changed silently: name the visits and stop; a doctor decides which stays.
    bind = op.get_bind()
    clashes = bind.execute(sa.text(
        'SELECT encounter_id FROM diagnosis GROUP BY encounter_id, icd10_code HAVING COUNT(*) > 1 '
        'UNION SELECT encounter_id FROM diagnosis WHERE is_primary = :yes GROUP BY encounter_id '
        'HAVING COUNT(*) > 1').bindparams(yes=True)).scalars().all()
    if clashes:
        raise RuntimeError('These encounters have one ICD-10 code twice or more than one primary diagnosis; '
                           'correct them before upgrading: ' + ', '.join(str(e) for e in sorted(clashes)[:50]))
    with op.batch_alter_table('diagnosis') as batch:
        batch.create_unique_constraint('uq_diagnosis_encounter_code', ['encounter_id', 'icd10_code'])
    op.create_index('uq_diagnosis_one_primary', 'diagnosis', ['encounter_id'], unique=True,
                    postgresql_where=sa.text('is_primary'), sqlite_where=sa.text('is_primary = 1'),
                    mssql_where=sa.text('is_primary = 1'))


def downgrade():
    op.drop_index('uq_diagnosis_one_primary', table_name='diagnosis')
    with op.batch_alter_table('diagnosis') as batch:
        batch.drop_constraint('uq_diagnosis_encounter_code', type_='unique')
    op.drop_index('ix_icd10_code_search', table_name='icd10_code')
    op.drop_index('ix_icd10_code_prefix', table_name='icd10_code')
    op.drop_table('icd10_code')
