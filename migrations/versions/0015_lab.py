"""lab: the test catalogue (tests, analytes, reference ranges by sex and age); lab orders linked to
it, with who ordered and cancelled; results with their release stamps and the corrected value.

Revision ID: 0015_lab
Revises: 0014_dx
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0015_lab'
down_revision = '0014_dx'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lab_test',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.Unicode(length=30), nullable=False),
        sa.Column('name', sa.Unicode(length=200), nullable=False),
        sa.Column('specimen', sa.Unicode(length=60), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_test')),
        sa.UniqueConstraint('code', name='uq_lab_test_code'),
    )
    op.create_table(
        'lab_analyte',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('test_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.Unicode(length=120), nullable=False),
        sa.Column('unit', sa.Unicode(length=30), nullable=True),
        sa.Column('decimals', sa.Integer(), nullable=False),
        sa.CheckConstraint('decimals BETWEEN 0 AND 4', name='ck_lab_analyte_decimals'),
        sa.ForeignKeyConstraint(['test_id'], ['lab_test.id'], name=op.f('fk_lab_analyte_test_id_lab_test'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_analyte')),
        sa.UniqueConstraint('test_id', 'name', name='uq_lab_analyte_test_name'),
    )
    op.create_table(
        'lab_reference_range',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analyte_id', sa.Integer(), nullable=False),
        sa.Column('sex', sa.Enum('any', 'male', 'female', name='lab_range_sex', native_enum=False,
                                 create_constraint=True, length=6), nullable=False),
        sa.Column('age_min_years', sa.Integer(), nullable=False),
        sa.Column('age_max_years', sa.Integer(), nullable=True),
        sa.Column('low', sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column('high', sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column('critical_low', sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column('critical_high', sa.Numeric(precision=14, scale=4), nullable=True),
        sa.CheckConstraint('age_min_years >= 0', name='ck_lab_range_age_min'),
        sa.CheckConstraint('age_max_years IS NULL OR age_max_years > age_min_years', name='ck_lab_range_age_band'),
        sa.CheckConstraint('low IS NULL OR high IS NULL OR low <= high', name='ck_lab_range_low_high'),
        sa.ForeignKeyConstraint(['analyte_id'], ['lab_analyte.id'],
                                name=op.f('fk_lab_reference_range_analyte_id_lab_analyte'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_reference_range')),
    )
    op.create_index('ix_lab_reference_range_analyte', 'lab_reference_range', ['analyte_id'])
    with op.batch_alter_table('lab_order') as batch:
        batch.add_column(sa.Column('lab_test_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('ordered_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cancelled_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_lab_order_lab_test_id_lab_test', 'lab_test', ['lab_test_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_foreign_key('fk_lab_order_ordered_by_id_ab_user', 'ab_user', ['ordered_by_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_foreign_key('fk_lab_order_cancelled_by_id_ab_user', 'ab_user', ['cancelled_by_id'], ['id'],
                                 ondelete='SET NULL')
    with op.batch_alter_table('lab_result') as batch:
        batch.add_column(sa.Column('ref_low', sa.Numeric(precision=14, scale=4), nullable=True))
        batch.add_column(sa.Column('ref_high', sa.Numeric(precision=14, scale=4), nullable=True))
        batch.add_column(sa.Column('previous_value', sa.Unicode(length=120), nullable=True))
        batch.add_column(sa.Column('released_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('released_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_lab_result_released_by_id_ab_user', 'ab_user', ['released_by_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('lab_result') as batch:
        batch.drop_constraint('fk_lab_result_released_by_id_ab_user', type_='foreignkey')
        batch.drop_column('released_by_id')
        batch.drop_column('released_at')
        batch.drop_column('previous_value')
        batch.drop_column('ref_high')
        batch.drop_column('ref_low')
    with op.batch_alter_table('lab_order') as batch:
        batch.drop_constraint('fk_lab_order_cancelled_by_id_ab_user', type_='foreignkey')
        batch.drop_constraint('fk_lab_order_ordered_by_id_ab_user', type_='foreignkey')
        batch.drop_constraint('fk_lab_order_lab_test_id_lab_test', type_='foreignkey')
        batch.drop_column('cancelled_by_id')
        batch.drop_column('cancelled_at')
        batch.drop_column('ordered_by_id')
        batch.drop_column('lab_test_id')
    op.drop_index('ix_lab_reference_range_analyte', table_name='lab_reference_range')
    op.drop_table('lab_reference_range')
    op.drop_table('lab_analyte')
    op.drop_table('lab_test')
