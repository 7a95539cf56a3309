"""Money: invoices, their lines, payments, refunds, the yearly invoice counter, provider events
applied once, and the cashier's end-of-day close.

The rules live in ``app.services.billing`` (invoices), ``app.services.payments`` (payments and
refunds) and ``app.services.cashier_day``; the database keeps the last line: amounts never negative,
an invoice never paid above its total, a refund never above its payment, each provider event once.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice, user_fk
from app.models.catalogue import Service
from app.models.people import Patient
from app.models.pharmacy import Medicine
from app.models.scheduling import Appointment
from app.models.types import Money, UTCDateTime

INVOICE_STATUSES = (N_("draft"), N_("issued"), N_("partially_paid"), N_("paid"), N_("void"), N_("refunded"))
LINE_KINDS = (N_("service"), N_("medicine"), N_("lab"), N_("other"))
DISCOUNT_KINDS = (N_("amount"), N_("percent"))
PAYMENT_METHODS = (N_("cash"), N_("bank_transfer"), N_("card"), N_("vnpay"))
# pending: a checkout or VNPay URL handed out, not paid yet; unapplied: the provider took the money
# but the invoice had meanwhile been paid another way (shown to the cashier for a refund).
PAYMENT_STATUSES = (N_("pending"), N_("succeeded"), N_("failed"), N_("cancelled"), N_("unapplied"))
REFUND_STATUSES = (N_("succeeded"), N_("failed"))
EMAIL_STATUSES = (N_("not_sent"), N_("queued"), N_("sent"), N_("failed"))


class Invoice(TimestampMixin, Model):
    __tablename__ = "invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Assigned when the invoice is issued, gapless per year (``invoice_sequence``); drafts have none.
    number: Mapped[str | None] = mapped_column(sa.Unicode(30))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="RESTRICT"), nullable=False)
    patient: Mapped[Patient] = relationship()
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointment.id", ondelete="SET NULL"))
    appointment: Mapped[Appointment | None] = relationship()
    status: Mapped[str] = mapped_column(choice("invoice_status", *INVOICE_STATUSES), nullable=False, default="draft")
    currency: Mapped[str] = mapped_column(sa.Unicode(3), nullable=False, default="VND")
    subtotal: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    discount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    tax: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    total: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    amount_paid: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    amount_refunded: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    # The whole invoice's discount as granted: an amount or a percent of the subtotal, with a reason.
    discount_kind: Mapped[str | None] = mapped_column(choice("invoice_discount_kind", *DISCOUNT_KINDS))
    discount_value: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    discount_reason: Mapped[str | None] = mapped_column(sa.Unicode(300))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = user_fk()
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = user_fk()
    void_reason: Mapped[str | None] = mapped_column(sa.Unicode(300))
    notes: Mapped[str | None] = mapped_column(sa.Unicode(500))
    email_status: Mapped[str] = mapped_column(choice("invoice_email_status", *EMAIL_STATUSES), nullable=False,
                                              default="not_sent")
    email_error: Mapped[str | None] = mapped_column(sa.Unicode(500))
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    created_by_id: Mapped[int | None] = user_fk()
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])
    lines: Mapped[list["InvoiceLine"]] = relationship(back_populates="invoice", cascade="all, delete-orphan",
                                                      order_by="InvoiceLine.id")
    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", order_by="Payment.id")

    __table_args__ = (
        sa.UniqueConstraint("number", name="uq_invoice_number"),
        sa.CheckConstraint(
            "subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0 AND amount_paid >= 0",
            name="ck_invoice_amounts_non_negative",
        ),
        sa.CheckConstraint("discount <= subtotal", name="ck_invoice_discount_within_subtotal"),
        # Two cashiers at once, a webhook racing the counter: never paid above the total.
        sa.CheckConstraint("amount_paid <= total", name="ck_invoice_paid_within_total"),
        sa.CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount_paid",
                           name="ck_invoice_refunded_within_paid"),
        sa.CheckConstraint("status = 'draft' OR status = 'void' OR number IS NOT NULL",
                           name="ck_invoice_number_when_issued"),
        sa.Index("ix_invoice_patient", "patient_id", "created_at"),
        sa.Index("ix_invoice_status", "status"),
        sa.Index("ix_invoice_appointment", "appointment_id"),
        sa.Index("ix_invoice_issued_at", "issued_at"),
    )

    @property
    def balance(self) -> Decimal:
        """What is still owed (a refund gives money back; it does not make the invoice owed again)."""
        return (self.total or Decimal(0)) - (self.amount_paid or Decimal(0))

    def __repr__(self) -> str:
        return self.number or f"#{self.id}"


class InvoiceLine(Model):
    __tablename__ = "invoice_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False)
    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    kind: Mapped[str] = mapped_column(choice("invoice_line_kind", *LINE_KINDS), nullable=False, default="service")
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service.id", ondelete="SET NULL"))
    service: Mapped[Service | None] = relationship()
    medicine_id: Mapped[int | None] = mapped_column(sa.ForeignKey("medicine.id", ondelete="SET NULL"))
    medicine: Mapped[Medicine | None] = relationship()
    lab_test_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lab_test.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), nullable=False, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)  # quantity x unit price
    # The line's share of the invoice's discount, its VAT rate (percent) and the VAT on (amount - share).
    discount_share: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    tax_rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), nullable=False, default=0)
    tax: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    # A free line's reason, or why the catalogue price was changed.
    reason: Mapped[str | None] = mapped_column(sa.Unicode(300))
    price_overridden: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Where an automatic line came from ("appointment", "consultation", "lab_order",
    # "prescription_item") so that completing a visit twice or dispensing in two goes bills once.
    source: Mapped[str | None] = mapped_column(sa.Unicode(30))
    source_id: Mapped[int | None] = mapped_column()
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="ck_invoice_line_quantity_positive"),
        sa.CheckConstraint("unit_price >= 0 AND amount >= 0", name="ck_invoice_line_amounts_non_negative"),
        sa.CheckConstraint("discount_share >= 0 AND discount_share <= amount AND tax >= 0",
                           name="ck_invoice_line_discount_and_tax"),
        sa.CheckConstraint("tax_rate >= 0 AND tax_rate <= 100", name="ck_invoice_line_tax_rate"),
        sa.UniqueConstraint("invoice_id", "source", "source_id", name="uq_invoice_line_source"),
        sa.Index("ix_invoice_line_invoice", "invoice_id"),
        sa.Index("ix_invoice_line_source", "source", "source_id"),
    )

    def __repr__(self) -> str:
        return self.description


class Payment(TimestampMixin, Model):
    __tablename__ = "payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="RESTRICT"), nullable=False)
    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    method: Mapped[str] = mapped_column(choice("payment_method", *PAYMENT_METHODS), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    status: Mapped[str] = mapped_column(choice("payment_status", *PAYMENT_STATUSES), nullable=False, default="pending")
    provider: Mapped[str | None] = mapped_column(sa.Unicode(30))  # "manual", "vietqr", "stripe", "vnpay"
    # Stripe's Checkout Session id, VNPay's vnp_TxnRef, the bank's transfer reference, a receipt number.
    provider_reference: Mapped[str | None] = mapped_column(sa.Unicode(120))
    # Stripe's PaymentIntent or VNPay's vnp_TransactionNo once paid (what a refund names).
    provider_charge: Mapped[str | None] = mapped_column(sa.Unicode(120))
    checkout_url: Mapped[str | None] = mapped_column(sa.Unicode(2000))
    # The same key sent twice (a double click, a retried webhook) never makes two payments.
    idempotency_key: Mapped[str | None] = mapped_column(sa.Unicode(80))
    tendered: Mapped[Decimal | None] = mapped_column(Money())  # cash handed over
    change_given: Mapped[Decimal | None] = mapped_column(Money())
    amount_refunded: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    note: Mapped[str | None] = mapped_column(sa.Unicode(300))
    received_by_id: Mapped[int | None] = user_fk()
    received_by: Mapped[User | None] = relationship(User, foreign_keys=[received_by_id])
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunds: Mapped[list["Refund"]] = relationship(back_populates="payment", order_by="Refund.id")
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_payment_idempotency_key"),
        sa.UniqueConstraint("provider", "provider_reference", name="uq_payment_provider_reference"),
        sa.CheckConstraint("amount > 0", name="ck_payment_amount_positive"),
        sa.CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount", name="ck_payment_refund_within"),
        sa.CheckConstraint("tendered IS NULL OR tendered >= amount", name="ck_payment_tendered_covers"),
        sa.Index("ix_payment_invoice", "invoice_id"),
        sa.Index("ix_payment_paid_at", "paid_at"),
    )

    def __repr__(self) -> str:
        return f"{self.method} {self.amount}"


class Refund(TimestampMixin, Model):
    """Money given back on one payment, by the payment's own method (a card through the provider)."""

    __tablename__ = "refund"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id", ondelete="RESTRICT"), nullable=False)
    payment: Mapped[Payment] = relationship(back_populates="refunds")
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="RESTRICT"), nullable=False)
    invoice: Mapped[Invoice] = relationship()
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    method: Mapped[str] = mapped_column(choice("refund_method", *PAYMENT_METHODS), nullable=False)
    status: Mapped[str] = mapped_column(choice("refund_status", *REFUND_STATUSES), nullable=False,
                                        default="succeeded")
    reason: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(sa.Unicode(120))  # Stripe's re_..., VNPay's
    idempotency_key: Mapped[str | None] = mapped_column(sa.Unicode(80))
    refunded_by_id: Mapped[int | None] = user_fk()
    refunded_by: Mapped[User | None] = relationship(User, foreign_keys=[refunded_by_id])
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_refund_idempotency_key"),
        sa.CheckConstraint("amount > 0", name="ck_refund_amount_positive"),
        sa.Index("ix_refund_invoice", "invoice_id"),
        sa.Index("ix_refund_refunded_at", "refunded_at"),
    )

    def __repr__(self) -> str:
        return f"{self.method} -{self.amount}"


class InvoiceSequence(Model):
    """The last invoice number given out in a year: read and raised under a row lock in the
    transaction that issues the invoice, so numbers have no gaps and no repeats."""

    __tablename__ = "invoice_sequence"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(nullable=False, default=0)
    __table_args__ = (sa.CheckConstraint("last_number >= 0", name="ck_invoice_sequence_non_negative"),)


class ProviderEvent(Model):
    """A webhook or IPN already applied: (provider, event id) is unique, so a redelivery is a no-op."""

    __tablename__ = "provider_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
    event_id: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    kind: Mapped[str | None] = mapped_column(sa.Unicode(80))
    outcome: Mapped[str | None] = mapped_column(sa.Unicode(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (sa.UniqueConstraint("provider", "event_id", name="uq_provider_event"),)


class CashClose(Model):
    """A cashier's end of day: the cash counted in the drawer against what the day's cash payments
    and refunds say should be there."""

    __tablename__ = "cash_close"
    id: Mapped[int] = mapped_column(primary_key=True)
    cashier_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="RESTRICT"), nullable=False)
    cashier: Mapped[User] = relationship(User, foreign_keys=[cashier_id])
    business_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    expected_cash: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    counted_cash: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    difference: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), nullable=False)  # counted - expected
    note: Mapped[str | None] = mapped_column(sa.Unicode(500))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("cashier_id", "business_date", name="uq_cash_close_cashier_day"),
        sa.CheckConstraint("counted_cash >= 0", name="ck_cash_close_counted_non_negative"),
    )
