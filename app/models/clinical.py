"""Clinical records: the encounter of one visit, its diagnoses, lab work and attached files."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice, user_fk
from app.models.people import Doctor, Patient
from app.models.scheduling import Appointment
from app.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.lab_catalogue import LabTest

LAB_ORDER_STATUSES = (N_("ordered"), N_("collected"), N_("in_progress"), N_("completed"), N_("cancelled"))
LAB_RESULT_STATUSES = (N_("preliminary"), N_("final"), N_("corrected"))
LAB_FLAGS = (N_("normal"), N_("low"), N_("high"), N_("critical"))
ATTACHMENT_OWNERS = (N_("patient"), N_("encounter"), N_("lab_order"))


class Encounter(TimestampMixin, Model):
    """The medical record of one visit."""

    __tablename__ = "encounter"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointment.id", ondelete="SET NULL"))
    appointment: Mapped[Appointment | None] = relationship()
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="RESTRICT"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="RESTRICT"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    chief_complaint: Mapped[str | None] = mapped_column(sa.Unicode(500))
    history: Mapped[str | None] = mapped_column(sa.UnicodeText)
    examination: Mapped[str | None] = mapped_column(sa.UnicodeText)
    # Vitals
    systolic_bp: Mapped[int | None] = mapped_column()
    diastolic_bp: Mapped[int | None] = mapped_column()
    pulse: Mapped[int | None] = mapped_column()
    temperature_c: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1))
    respiratory_rate: Mapped[int | None] = mapped_column()
    spo2: Mapped[int | None] = mapped_column()
    weight_kg: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 1))
    height_cm: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 1))
    treatment_plan: Mapped[str | None] = mapped_column(sa.UnicodeText)
    follow_up_date: Mapped[date | None] = mapped_column(sa.Date)
    # The doctor's own notes: part of the record, never shown to the patient (portal, summary PDF).
    private_notes: Mapped[str | None] = mapped_column(sa.UnicodeText)
    # Optimistic lock: a save based on an older version is refused (two tabs on one draft).
    version: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discarded_by_id: Mapped[int | None] = user_fk()
    signed_by_id: Mapped[int | None] = user_fk()
    signed_by: Mapped[User | None] = relationship(User, foreign_keys=[signed_by_id])
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    diagnoses: Mapped[list["Diagnosis"]] = relationship(
        back_populates="encounter", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("appointment_id", name="uq_encounter_appointment"),
        sa.CheckConstraint("systolic_bp IS NULL OR systolic_bp BETWEEN 30 AND 300", name="ck_encounter_systolic"),
        sa.CheckConstraint("diastolic_bp IS NULL OR diastolic_bp BETWEEN 10 AND 200", name="ck_encounter_diastolic"),
        sa.CheckConstraint("pulse IS NULL OR pulse BETWEEN 10 AND 300", name="ck_encounter_pulse"),
        sa.CheckConstraint(
            "temperature_c IS NULL OR temperature_c BETWEEN 25 AND 45", name="ck_encounter_temperature"
        ),
        sa.CheckConstraint("spo2 IS NULL OR spo2 BETWEEN 0 AND 100", name="ck_encounter_spo2"),
        sa.CheckConstraint("weight_kg IS NULL OR weight_kg > 0", name="ck_encounter_weight"),
        sa.CheckConstraint("height_cm IS NULL OR height_cm > 0", name="ck_encounter_height"),
        sa.Index("ix_encounter_patient", "patient_id", "created_at"),
        sa.Index("ix_encounter_doctor", "doctor_id", "created_at"),
    )
    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"#{self.id} {self.chief_complaint or ''}".strip()


class Diagnosis(Model):
    __tablename__ = "diagnosis"
    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(sa.ForeignKey("encounter.id", ondelete="CASCADE"), nullable=False)
    encounter: Mapped[Encounter] = relationship(back_populates="diagnoses")
    icd10_code: Mapped[str] = mapped_column(sa.Unicode(10), nullable=False)
    text: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    is_primary: Mapped[bool] = mapped_column(default=False, nullable=False)
    __table_args__ = (
        sa.Index("ix_diagnosis_encounter", "encounter_id"),
        sa.Index("ix_diagnosis_icd10", "icd10_code"),
        # One code once per visit, and at most one primary diagnosis per visit (a partial unique
        # index: any number of secondary ones).
        sa.UniqueConstraint("encounter_id", "icd10_code", name="uq_diagnosis_encounter_code"),
        sa.Index("uq_diagnosis_one_primary", "encounter_id", unique=True,
                 postgresql_where=sa.text("is_primary"), sqlite_where=sa.text("is_primary = 1"),
                 mssql_where=sa.text("is_primary = 1")),
    )

    def __repr__(self) -> str:
        return f"{self.icd10_code} {self.text}"


class LabOrder(TimestampMixin, Model):
    __tablename__ = "lab_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("encounter.id", ondelete="SET NULL"))
    encounter: Mapped[Encounter | None] = relationship()
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="RESTRICT"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("doctor.id", ondelete="SET NULL"))
    doctor: Mapped[Doctor | None] = relationship()
    # The catalogue test ordered; its code and name are also kept as written at the time.
    lab_test_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lab_test.id", ondelete="SET NULL"))
    lab_test: Mapped["LabTest | None"] = relationship()
    test_code: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
    test_name: Mapped[str] = mapped_column(sa.Unicode(200), nullable=False)
    status: Mapped[str] = mapped_column(
        choice("lab_order_status", *LAB_ORDER_STATUSES), nullable=False, default="ordered")
    ordered_by_id: Mapped[int | None] = user_fk()
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = user_fk()
    notes: Mapped[str | None] = mapped_column(sa.UnicodeText)
    results: Mapped[list["LabResult"]] = relationship(back_populates="lab_order", cascade="all, delete-orphan")
    __table_args__ = (
        sa.Index("ix_lab_order_patient", "patient_id", "created_at"),
        sa.Index("ix_lab_order_status", "status"),
    )

    def __repr__(self) -> str:
        return f"#{self.id} {self.test_name}"


class LabResult(TimestampMixin, Model):
    __tablename__ = "lab_result"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_order_id: Mapped[int] = mapped_column(sa.ForeignKey("lab_order.id", ondelete="CASCADE"), nullable=False)
    lab_order: Mapped[LabOrder] = relationship(back_populates="results")
    analyte: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    value: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    numeric_value: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    unit: Mapped[str | None] = mapped_column(sa.Unicode(30))
    reference_range: Mapped[str | None] = mapped_column(sa.Unicode(60))
    # The limits of the range applied (for the patient's sex and age on the result date), as at the time.
    ref_low: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    ref_high: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    flag: Mapped[str | None] = mapped_column(choice("lab_result_flag", *LAB_FLAGS))
    status: Mapped[str] = mapped_column(
        choice("lab_result_status", *LAB_RESULT_STATUSES), nullable=False, default="preliminary"
    )
    released_to_patient: Mapped[bool] = mapped_column(default=False, nullable=False)
    resulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resulted_by_id: Mapped[int | None] = user_fk()
    # A corrected result keeps the value it replaced (every earlier one is in the audit trail).
    previous_value: Mapped[str | None] = mapped_column(sa.Unicode(120))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = user_fk()
    __table_args__ = (sa.Index("ix_lab_result_order", "lab_order_id"),)

    def __repr__(self) -> str:
        return f"{self.analyte}: {self.value} {self.unit or ''}".strip()


class Attachment(Model):
    """A stored file (scan, image, PDF). ``patient_id`` is kept on every attachment so that
    access is checked by patient whatever the owner is."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    patient: Mapped[Patient] = relationship()
    owner_type: Mapped[str] = mapped_column(choice("attachment_owner", *ATTACHMENT_OWNERS), nullable=False)
    owner_id: Mapped[int] = mapped_column(nullable=False)
    file_name: Mapped[str] = mapped_column(sa.Unicode(255), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.Unicode(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.Unicode(255), nullable=False)
    # The image's thumbnail (a small JPEG made on upload), stored under its own random key.
    thumbnail_key: Mapped[str | None] = mapped_column(sa.Unicode(255))
    uploaded_by_id: Mapped[int | None] = user_fk()
    uploaded_by: Mapped[User | None] = relationship(User, foreign_keys=[uploaded_by_id])
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("storage_key", name="uq_attachment_storage_key"),
        sa.UniqueConstraint("thumbnail_key", name="uq_attachment_thumbnail_key"),
        sa.CheckConstraint("size_bytes >= 0", name="ck_attachment_size_non_negative"),
        sa.Index("ix_attachment_owner", "owner_type", "owner_id"),
        sa.Index("ix_attachment_patient", "patient_id"),
    )

    def __repr__(self) -> str:
        return self.file_name
