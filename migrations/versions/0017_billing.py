"""billing: invoices numbered at issue, line VAT and discount shares, refunds, provider events,
the yearly invoice counter, the cashier's end-of-day close, lab test prices, VNPay as a method.

Revision ID: 0017_billing
Revises: 0016_pharmacy
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.types import Money, UTCDateTime

revision = '0017_billing'
down_revision = '0016_pharmacy'
branch_labels = None
depends_on = None

OLD_METHODS = ('cash', 'bank_transfer', 'card')
NEW_METHODS = ('cash', 'bank_transfer', 'card', 'vnpay')
OLD_PAYMENT_STATUSES = ('pending', 'succeeded', 'failed', 'refunded')
NEW_PAYMENT_STATUSES = ('pending', 'succeeded', 'failed', 'cancelled', 'unapplied')


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def _change_enum(table, column, name, old, new):
    """A closed set of strings is VARCHAR + a CHECK named after the set: replace the CHECK."""
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=_enum(name, old), type_=_enum(name, new),
                               existing_nullable=False)
    else:
        op.drop_constraint(name, table, type_='check')
        op.alter_column(table, column, type_=sa.String(max(map(len, new))), existing_nullable=False)
        quoted = ", ".join(f"'{v}'" for v in new)
        op.create_check_constraint(name, table, f"{column} IN ({quoted})")


def upgrade():
    # A payment once marked refunded as a whole becomes a succeeded payment refunded in full.
    op.execute("UPDATE payment SET status = 'succeeded' WHERE status = 'refunded'")
    _change_enum('payment', 'method', 'payment_method', OLD_METHODS, NEW_METHODS)
    _change_enum('payment', 'status', 'payment_status', OLD_PAYMENT_STATUSES, NEW_PAYMENT_STATUSES)
    with op.batch_alter_table('invoice') as batch:
        batch.alter_column('number', existing_type=sa.Unicode(30), nullable=True)
        batch.add_column(sa.Column('amount_refunded', Money(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('discount_kind', _enum('invoice_discount_kind', ('amount', 'percent')),
                                   nullable=True))
        batch.add_column(sa.Column('discount_value', sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column('discount_reason', sa.Unicode(300), nullable=True))
        batch.add_column(sa.Column('issued_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('voided_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('voided_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('void_reason', sa.Unicode(300), nullable=True))
        batch.add_column(sa.Column('email_status', _enum('invoice_email_status',
                                                         ('not_sent', 'queued', 'sent', 'failed')),
                                   nullable=False, server_default='not_sent'))
        batch.add_column(sa.Column('email_error', sa.Unicode(500), nullable=True))
        batch.add_column(sa.Column('emailed_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('email_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.create_foreign_key('fk_invoice_issued_by', 'ab_user', ['issued_by_id'], ['id'], ondelete='SET NULL')
        batch.create_foreign_key('fk_invoice_voided_by', 'ab_user', ['voided_by_id'], ['id'], ondelete='SET NULL')
        batch.create_check_constraint('ck_invoice_paid_within_total', 'amount_paid <= total')
        batch.create_check_constraint('ck_invoice_refunded_within_paid',
                                      'amount_refunded >= 0 AND amount_refunded <= amount_paid')
        batch.create_check_constraint('ck_invoice_number_when_issued',
                                      "status = 'draft' OR status = 'void' OR number IS NOT NULL")
    op.create_index('ix_invoice_issued_at', 'invoice', ['issued_at'])
    with op.batch_alter_table('invoice_line') as batch:
        batch.add_column(sa.Column('lab_test_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('discount_share', Money(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('tax_rate', sa.Numeric(5, 2), nullable=False, server_default='0'))
        batch.add_column(sa.Column('tax', Money(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('reason', sa.Unicode(300), nullable=True))
        batch.add_column(sa.Column('price_overridden', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('source', sa.Unicode(30), nullable=True))
        batch.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_invoice_line_lab_test', 'lab_test', ['lab_test_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_check_constraint('ck_invoice_line_discount_and_tax',
                                      'discount_share >= 0 AND discount_share <= amount AND tax >= 0')
        batch.create_check_constraint('ck_invoice_line_tax_rate', 'tax_rate >= 0 AND tax_rate <= 100')
        batch.create_unique_constraint('uq_invoice_line_source', ['invoice_id', 'source', 'source_id'])
    op.create_index('ix_invoice_line_source', 'invoice_line', ['source', 'source_id'])
    with op.batch_alter_table('payment') as batch:
        batch.add_column(sa.Column('provider_charge', sa.Unicode(120), nullable=True))
        batch.add_column(sa.Column('checkout_url', sa.Unicode(2000), nullable=True))
        batch.add_column(sa.Column('tendered', Money(), nullable=True))
        batch.add_column(sa.Column('change_given', Money(), nullable=True))
        batch.add_column(sa.Column('amount_refunded', Money(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('note', sa.Unicode(300), nullable=True))
        batch.create_check_constraint('ck_payment_refund_within', 'amount_refunded >= 0 AND amount_refunded <= amount')
        batch.create_check_constraint('ck_payment_tendered_covers', 'tendered IS NULL OR tendered >= amount')
    with op.batch_alter_table('lab_test') as batch:
        batch.add_column(sa.Column('price', Money(), nullable=False, server_default='0'))
        batch.create_check_constraint('ck_lab_test_price_non_negative', 'price >= 0')
    op.create_table(
        'refund',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('payment_id', sa.Integer(), sa.ForeignKey('payment.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('invoice_id', sa.Integer(), sa.ForeignKey('invoice.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('method', _enum('refund_method', NEW_METHODS), nullable=False),
        sa.Column('status', _enum('refund_status', ('succeeded', 'failed')), nullable=False),
        sa.Column('reason', sa.Unicode(300), nullable=False),
        sa.Column('provider_reference', sa.Unicode(120), nullable=True),
        sa.Column('idempotency_key', sa.Unicode(80), nullable=True),
        sa.Column('refunded_by_id', sa.Integer(), sa.ForeignKey('ab_user.id', ondelete='SET NULL'), nullable=True),
        sa.Column('refunded_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('idempotency_key', name='uq_refund_idempotency_key'),
        sa.CheckConstraint('amount > 0', name='ck_refund_amount_positive'),
    )
    op.create_index('ix_refund_invoice', 'refund', ['invoice_id'])
    op.create_index('ix_refund_refunded_at', 'refund', ['refunded_at'])
    op.create_table(
        'invoice_sequence',
        sa.Column('year', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.CheckConstraint('last_number >= 0', name='ck_invoice_sequence_non_negative'),
    )
    op.create_table(
        'provider_event',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('provider', sa.Unicode(30), nullable=False),
        sa.Column('event_id', sa.Unicode(120), nullable=False),
        sa.Column('kind', sa.Unicode(80), nullable=True),
        sa.Column('outcome', sa.Unicode(300), nullable=True),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('provider', 'event_id', name='uq_provider_event'),
    )
    op.create_table(
        'cash_close',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('cashier_id', sa.Integer(), sa.ForeignKey('ab_user.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('expected_cash', Money(), nullable=False),
        sa.Column('counted_cash', Money(), nullable=False),
        sa.Column('difference', sa.Numeric(14, 2), nullable=False),
        sa.Column('note', sa.Unicode(500), nullable=True),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('cashier_id', 'business_date', name='uq_cash_close_cashier_day'),
        sa.CheckConstraint('counted_cash >= 0', name='ck_cash_close_counted_non_negative'),
    )


def downgrade():
    op.drop_table('cash_close')
    op.drop_table('provider_event')
    op.drop_table('invoice_sequence')
    op.drop_index('ix_refund_refunded_at', table_name='refund')
    op.drop_index('ix_refund_invoice', table_name='refund')
    op.drop_table('refund')
    with op.batch_alter_table('lab_test') as batch:
        batch.drop_constraint('ck_lab_test_price_non_negative', type_='check')
        batch.drop_column('price')
    with op.batch_alter_table('payment') as batch:
        batch.drop_constraint('ck_payment_tendered_covers', type_='check')
        batch.drop_constraint('ck_payment_refund_within', type_='check')
        for column in ('note', 'amount_refunded', 'change_given', 'tendered', 'checkout_url', 'provider_charge'):
            batch.drop_column(column)
    op.drop_index('ix_invoice_line_source', table_name='invoice_line')
    with op.batch_alter_table('invoice_line') as batch:
        batch.drop_constraint('uq_invoice_line_source', type_='unique')
        batch.drop_constraint('ck_invoice_line_tax_rate', type_='check')
        batch.drop_constraint('ck_invoice_line_discount_and_tax', type_='check')
        batch.drop_constraint('fk_invoice_line_lab_test', type_='foreignkey')
        for column in ('source_id', 'source', 'price_overridden', 'reason', 'tax', 'tax_rate', 'discount_share',
                       'lab_test_id'):
            batch.drop_column(column)
    op.drop_index('ix_invoice_issued_at', table_name='invoice')
    op.execute("UPDATE invoice SET number = 'DRAFT-' || id WHERE number IS NULL")
    with op.batch_alter_table('invoice') as batch:
        batch.drop_constraint('ck_invoice_number_when_issued', type_='check')
        batch.drop_constraint('invoice_email_status', type_='check')
        batch.drop_constraint('invoice_discount_kind', type_='check')
        batch.drop_constraint('ck_invoice_refunded_within_paid', type_='check')
        batch.drop_constraint('ck_invoice_paid_within_total', type_='check')
        batch.drop_constraint('fk_invoice_voided_by', type_='foreignkey')
        batch.drop_constraint('fk_invoice_issued_by', type_='foreignkey')
        for column in ('email_attempts', 'emailed_at', 'email_error', 'email_status', 'void_reason', 'voided_by_id',
                       'voided_at', 'issued_by_id', 'discount_reason', 'discount_value', 'discount_kind',
                       'amount_refunded'):
            batch.drop_column(column)
        batch.alter_column('number', existing_type=sa.Unicode(30), nullable=False)
    op.execute("UPDATE payment SET status = 'failed' WHERE status IN ('cancelled', 'unapplied')")
    op.execute("UPDATE payment SET method = 'card' WHERE method = 'vnpay'")
    _change_enum('payment', 'status', 'payment_status', NEW_PAYMENT_STATUSES, OLD_PAYMENT_STATUSES)
    _change_enum('payment', 'method', 'payment_method', NEW_METHODS, OLD_METHODS)
