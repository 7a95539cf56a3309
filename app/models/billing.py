"""Money: invoices, their lines, and payments."""
from __future__ import annotations

from datetime import datetime
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
PAYMENT_METHODS = (N_("cash"), N_("bank_transfer"), N_("card"))
PAYMENT_STATUSES = (N_("pending"), N_("succeeded"), N_("failed"), N_("refunded"))


class Invoice(TimestampMixin, Model):
    __tablename__ = "invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
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
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(sa.Unicode(500))
    created_by_id: Mapped[int | None] = user_fk()
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])
    lines: Mapped[list["InvoiceLine"]] = relationship(back_populates="invoice", cascade="all, delete-orphan")
    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice")

    __table_args__ = (
        sa.UniqueConstraint("number", name="uq_invoice_number"),
        sa.CheckConstraint(
            "subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0 AND amount_paid >= 0",
            name="ck_invoice_amounts_non_negative",
        ),
        sa.CheckConstraint("discount <= subtotal", name="ck_invoice_discount_within_subtotal"),
        sa.Index("ix_invoice_patient", "patient_id", "created_at"),
        sa.Index("ix_invoice_status", "status"),
        sa.Index("ix_invoice_appointment", "appointment_id"),
    )

    @property
    def balance(self) -> Decimal:
        return (self.total or Decimal(0)) - (self.amount_paid or Decimal(0))

    def __repr__(self) -> str:
        return self.number


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
    description: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), nullable=False, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="ck_invoice_line_quantity_positive"),
        sa.CheckConstraint("unit_price >= 0 AND amount >= 0", name="ck_invoice_line_amounts_non_negative"),
        sa.Index("ix_invoice_line_invoice", "invoice_id"),
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
    provider: Mapped[str | None] = mapped_column(sa.Unicode(30))  # "stripe", "manual", ...
    provider_reference: Mapped[str | None] = mapped_column(sa.Unicode(120))
    # The same key sent twice (a double click, a retried webhook) never makes two payments.
    idempotency_key: Mapped[str | None] = mapped_column(sa.Unicode(80))
    received_by_id: Mapped[int | None] = user_fk()
    received_by: Mapped[User | None] = relationship(User, foreign_keys=[received_by_id])
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_payment_idempotency_key"),
        sa.UniqueConstraint("provider", "provider_reference", name="uq_payment_provider_reference"),
        sa.CheckConstraint("amount > 0", name="ck_payment_amount_positive"),
        sa.Index("ix_payment_invoice", "invoice_id"),
        sa.Index("ix_payment_paid_at", "paid_at"),
    )

    def __repr__(self) -> str:
        return f"{self.method} {self.amount}"
