"""pharmacy: suppliers, goods receipts, the daily-use rollup, a medicine's usual supplier, the reason of a stock movement.

Revision ID: 0016_pharmacy
Revises: 0015_lab
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import Money, UTCDateTime

revision = '0016_pharmacy'
down_revision = '0015_lab'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'supplier',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.Unicode(200), nullable=False),
        sa.Column('contact', sa.Unicode(200), nullable=True),
        sa.Column('phone', sa.Unicode(30), nullable=True),
        sa.Column('lead_time_days', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('name', name='uq_supplier_name'),
        sa.CheckConstraint('lead_time_days >= 0', name='ck_supplier_lead_time_non_negative'),
    )
    op.create_table(
        'goods_receipt',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('supplier_id', sa.Integer(), sa.ForeignKey('supplier.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('delivery_note', sa.Unicode(60), nullable=True),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('received_by_id', sa.Integer(), sa.ForeignKey('ab_user.id', ondelete='SET NULL'), nullable=True),
    )
    op.create_index('ix_goods_receipt_received_at', 'goods_receipt', ['received_at'])
    op.create_table(
        'goods_receipt_line',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('receipt_id', sa.Integer(), sa.ForeignKey('goods_receipt.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('medicine_id', sa.Integer(), sa.ForeignKey('medicine.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('batch_id', sa.Integer(), sa.ForeignKey('stock_batch.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('lot_number', sa.Unicode(40), nullable=False),
        sa.Column('expiry_date', sa.Date(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_cost', Money(), nullable=False),
        sa.CheckConstraint('quantity > 0', name='ck_goods_receipt_line_quantity_positive'),
        sa.CheckConstraint('unit_cost >= 0', name='ck_goods_receipt_line_cost_non_negative'),
    )
    op.create_index('ix_goods_receipt_line_receipt', 'goods_receipt_line', ['receipt_id'])
    with op.batch_alter_table('medicine') as batch:
        batch.add_column(sa.Column('supplier_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_medicine_supplier', 'supplier', ['supplier_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('stock_movement') as batch:
        batch.add_column(sa.Column('reason', sa.Unicode(30), nullable=True))
    op.create_table(
        'medicine_daily_use',
        sa.Column('medicine_id', sa.Integer(), sa.ForeignKey('medicine.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('units', sa.Integer(), nullable=False),
    )
    op.create_index('ix_medicine_daily_use_day', 'medicine_daily_use', ['day', 'medicine_id', 'units'])
    op.create_index('ix_stock_movement_kind_created', 'stock_movement', ['kind', 'created_at', 'medicine_id', 'quantity'])


def downgrade():
    op.drop_index('ix_medicine_daily_use_day', table_name='medicine_daily_use')
    op.drop_table('medicine_daily_use')
    op.drop_index('ix_stock_movement_kind_created', table_name='stock_movement')
    with op.batch_alter_table('stock_movement') as batch:
        batch.drop_column('reason')
    with op.batch_alter_table('medicine') as batch:
        batch.drop_constraint('fk_medicine_supplier', type_='foreignkey')
        batch.drop_column('supplier_id')
    op.drop_index('ix_goods_receipt_line_receipt', table_name='goods_receipt_line')
    op.drop_table('goods_receipt_line')
    op.drop_index('ix_goods_receipt_received_at', table_name='goods_receipt')
    op.drop_table('goods_receipt')
    op.drop_table('supplier')
