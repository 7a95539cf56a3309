"""Pharmacy: medicines, stock by batch, the stock ledger, and prescriptions."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice, user_fk
from app.models.clinical import Encounter
from app.models.people import Doctor, Patient
from app.models.suppliers import Supplier
from app.models.types import Money, UTCDateTime, utcnow

MOVEMENT_KINDS = (N_("receipt"), N_("dispense"), N_("adjustment"), N_("expiry_write_off"), N_("return"))
PRESCRIPTION_STATUSES = (N_("draft"), N_("issued"), N_("partially_dispensed"), N_("dispensed"), N_("cancelled"))
ROUTES = (
    N_("oral"), N_("topical"), N_("injection"), N_("inhalation"), N_("sublingual"), N_("rectal"), N_("ophthalmic"),
    N_("otic"), N_("nasal"), N_("other"),
)


class Medicine(TimestampMixin, Model):
    __tablename__ = "medicine"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
    name: Mapped[str] = mapped_column(sa.Unicode(200), nullable=False)
    active_ingredient: Mapped[str | None] = mapped_column(sa.Unicode(200))
    strength: Mapped[str | None] = mapped_column(sa.Unicode(60))  # "500 mg"
    dosage_form: Mapped[str | None] = mapped_column(sa.Unicode(60))  # tablet, syrup, ...
    unit: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False, default="tablet")
    price: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    reorder_level: Mapped[int] = mapped_column(nullable=False, default=0)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    # The usual supplier: its lead time says when to order (app.services.stock_views).
    supplier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("supplier.id", ondelete="SET NULL"))
    supplier: Mapped["Supplier | None"] = relationship()
    batches: Mapped[list["StockBatch"]] = relationship(back_populates="medicine")
    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_medicine_code"),
        sa.CheckConstraint("price >= 0", name="ck_medicine_price_non_negative"),
        sa.CheckConstraint("reorder_level >= 0", name="ck_medicine_reorder_non_negative"),
        sa.Index("ix_medicine_name", "name"),
    )

    def __repr__(self) -> str:
        return f"{self.name} {self.strength or ''}".strip()


class StockBatch(TimestampMixin, Model):
    __tablename__ = "stock_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    medicine_id: Mapped[int] = mapped_column(sa.ForeignKey("medicine.id", ondelete="RESTRICT"), nullable=False)
    medicine: Mapped[Medicine] = relationship(back_populates="batches")
    lot_number: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    expiry_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    quantity: Mapped[int] = mapped_column(nullable=False, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    __table_args__ = (
        sa.UniqueConstraint("medicine_id", "lot_number", name="uq_stock_batch_lot"),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_batch_quantity_non_negative"),
        sa.CheckConstraint("unit_cost >= 0", name="ck_stock_batch_cost_non_negative"),
        sa.Index("ix_stock_batch_medicine_expiry", "medicine_id", "expiry_date"),
        sa.Index("ix_stock_batch_expiry", "expiry_date"),  # the dashboards' expiring value
    )

    def __repr__(self) -> str:
        return f"{self.lot_number} (exp. {self.expiry_date})"


class StockMovement(Model):
    """The stock ledger: every change of a batch's quantity, signed (+ in, - out)."""

    __tablename__ = "stock_movement"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("stock_batch.id", ondelete="RESTRICT"), nullable=False)
    batch: Mapped[StockBatch] = relationship()
    medicine_id: Mapped[int] = mapped_column(sa.ForeignKey("medicine.id", ondelete="RESTRICT"), nullable=False)
    medicine: Mapped[Medicine] = relationship()
    kind: Mapped[str] = mapped_column(choice("stock_movement_kind", *MOVEMENT_KINDS), nullable=False)
    quantity: Mapped[int] = mapped_column(nullable=False)
    reference_type: Mapped[str | None] = mapped_column(sa.Unicode(30))  # e.g. "prescription"
    reference_id: Mapped[int | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(sa.Unicode(300))
    # Why stock moved by hand: an adjustment's reason, a return's, a batch picked out of FEFO order.
    reason: Mapped[str | None] = mapped_column(sa.Unicode(30))
    actor_id: Mapped[int | None] = user_fk()
    actor: Mapped[User | None] = relationship(User, foreign_keys=[actor_id])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.CheckConstraint("quantity <> 0", name="ck_stock_movement_quantity_non_zero"),
        sa.Index("ix_stock_movement_medicine", "medicine_id", "created_at"),
        sa.Index("ix_stock_movement_batch", "batch_id"),
        sa.Index("ix_stock_movement_reference", "reference_type", "reference_id"),
        # Average daily use (app.services.stock_views): an index-only scan of the recent dispenses.
        sa.Index("ix_stock_movement_kind_created", "kind", "created_at", "medicine_id", "quantity"),
    )


class Prescription(TimestampMixin, Model):
    __tablename__ = "prescription"
    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("encounter.id", ondelete="SET NULL"))
    encounter: Mapped[Encounter | None] = relationship()
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="RESTRICT"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="RESTRICT"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    status: Mapped[str] = mapped_column(
        choice("prescription_status", *PRESCRIPTION_STATUSES), nullable=False, default="draft"
    )
    notes: Mapped[str | None] = mapped_column(sa.UnicodeText)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispensed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispensed_by_id: Mapped[int | None] = user_fk()
    items: Mapped[list["PrescriptionItem"]] = relationship(
        back_populates="prescription", cascade="all, delete-orphan"
    )
    __table_args__ = (
        sa.Index("ix_prescription_patient", "patient_id", "created_at"),
        sa.Index("ix_prescription_status", "status"),
    )

    def __repr__(self) -> str:
        return f"#{self.id}"


class PrescriptionItem(Model):
    __tablename__ = "prescription_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("prescription.id", ondelete="CASCADE"), nullable=False
    )
    prescription: Mapped[Prescription] = relationship(back_populates="items")
    medicine_id: Mapped[int] = mapped_column(sa.ForeignKey("medicine.id", ondelete="RESTRICT"), nullable=False)
    medicine: Mapped[Medicine] = relationship()
    dose: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)  # "1 tablet"
    frequency: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)  # "3 times a day"
    duration_days: Mapped[int] = mapped_column(nullable=False, default=1)
    route: Mapped[str] = mapped_column(choice("prescription_route", *ROUTES), nullable=False, default="oral")
    quantity: Mapped[int] = mapped_column(nullable=False)
    dispensed_quantity: Mapped[int] = mapped_column(nullable=False, default=0)
    instructions: Mapped[str | None] = mapped_column(sa.Unicode(500))
    # Structured dosage (issue 9): units per intake and intakes per day, from which the quantity is
    # computed for countable units; empty on items written before them.
    dose_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 2))
    times_per_day: Mapped[int | None] = mapped_column()
    # Why the doctor prescribed despite a severe interaction or an allergy, and the warnings shown
    # when the item was saved (JSON list of {kind, severity, message}).
    override_reason: Mapped[str | None] = mapped_column(sa.UnicodeText)
    warnings: Mapped[str | None] = mapped_column(sa.UnicodeText)
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="ck_prescription_item_quantity_positive"),
        sa.CheckConstraint("dose_amount IS NULL OR dose_amount > 0", name="ck_prescription_item_dose_positive"),
        sa.CheckConstraint("times_per_day IS NULL OR (times_per_day > 0 AND times_per_day <= 24)",
                           name="ck_prescription_item_times_per_day"),
        sa.CheckConstraint("duration_days > 0", name="ck_prescription_item_duration_positive"),
        sa.CheckConstraint(
            "dispensed_quantity >= 0 AND dispensed_quantity <= quantity", name="ck_prescription_item_dispensed"
        ),
        sa.Index("ix_prescription_item_prescription", "prescription_id"),
    )

    def __repr__(self) -> str:
        return f"{self.medicine} × {self.quantity}" if self.medicine else f"× {self.quantity}"
