"""prescription item: structured dose, times per day, override reason, warnings; drug interactions.

Revision ID: 0012_rx
Revises: 0011_encounter_fields
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime

revision = '0012_rx'
down_revision = '0011_encounter_fields'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('prescription_item') as batch:
        batch.add_column(sa.Column('dose_amount', sa.Numeric(8, 2), nullable=True))
        batch.add_column(sa.Column('times_per_day', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('override_reason', sa.UnicodeText(), nullable=True))
        batch.add_column(sa.Column('warnings', sa.UnicodeText(), nullable=True))
        batch.create_check_constraint('ck_prescription_item_dose_positive', 'dose_amount IS NULL OR dose_amount > 0')
        batch.create_check_constraint('ck_prescription_item_times_per_day',
                                      'times_per_day IS NULL OR (times_per_day > 0 AND times_per_day <= 24)')
    op.create_table(
        'drug_interaction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ingredient_a', sa.Unicode(length=120), nullable=False),
        sa.Column('ingredient_b', sa.Unicode(length=120), nullable=False),
        sa.Column('severity', sa.Enum('minor', 'moderate', 'severe', name='interaction_severity', native_enum=False,
                                      create_constraint=True, length=8), nullable=False),
        sa.Column('description_en', sa.Unicode(length=500), nullable=False),
        sa.Column('description_vi', sa.Unicode(length=500), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('ingredient_a < ingredient_b', name='ck_drug_interaction_order'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ingredient_a', 'ingredient_b', name='uq_drug_interaction_pair'),
    )


def downgrade():
    op.drop_table('drug_interaction')
    with op.batch_alter_table('prescription_item') as batch:
        batch.drop_constraint('ck_prescription_item_times_per_day', type_='check')
        batch.drop_constraint('ck_prescription_item_dose_positive', type_='check')
        batch.drop_column('warnings')
        batch.drop_column('override_reason')
        batch.drop_column('times_per_day')
        batch.drop_column('dose_amount')
