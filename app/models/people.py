"""People: patients, doctors, staff, and how the clinic is organised."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice, user_fk
from app.models.types import Money

if TYPE_CHECKING:  # the relationship's target, for type checkers only (no import cycle at run time)
    from app.models.catalogue import Service

SEXES = (N_("male"), N_("female"), N_("other"))
BLOOD_TYPES = (N_("A+"), N_("A-"), N_("B+"), N_("B-"), N_("AB+"), N_("AB-"), N_("O+"), N_("O-"), N_("unknown"))
POSITIONS = (
    N_("receptionist"), N_("cashier"), N_("nurse"), N_("pharmacist"), N_("manager"), N_("technician"), N_("other"),
)


class Department(Model):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    name: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.UnicodeText)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_department_code"),
        sa.UniqueConstraint("name", name="uq_department_name"),
    )

    def __repr__(self) -> str:
        return self.name


class Specialty(Model):
    __tablename__ = "specialty"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.UnicodeText)
    __table_args__ = (sa.UniqueConstraint("name", name="uq_specialty_name"),)

    def __repr__(self) -> str:
        return self.name


class Patient(TimestampMixin, Model):
    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    full_name: Mapped[str] = mapped_column(sa.Unicode(150), nullable=False)
    # Lower-case, accent-free copy of name, code and phone: "nguyen van an" finds "Nguyễn Văn An".
    search_text: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False, default="")
    date_of_birth: Mapped[date | None] = mapped_column(sa.Date)
    sex: Mapped[str | None] = mapped_column(choice("patient_sex", *SEXES))
    phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    email: Mapped[str | None] = mapped_column(sa.Unicode(254))
    address: Mapped[str | None] = mapped_column(sa.Unicode(300))
    national_id: Mapped[str | None] = mapped_column(sa.Unicode(20))
    insurance_number: Mapped[str | None] = mapped_column(sa.Unicode(30))
    blood_type: Mapped[str | None] = mapped_column(choice("patient_blood_type", *BLOOD_TYPES))
    allergies: Mapped[str | None] = mapped_column(sa.UnicodeText)
    chronic_conditions: Mapped[str | None] = mapped_column(sa.UnicodeText)
    emergency_contact_name: Mapped[str | None] = mapped_column(sa.Unicode(150))
    emergency_contact_phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    user_id: Mapped[int | None] = user_fk()
    user: Mapped[User | None] = relationship(User, foreign_keys=[user_id])

    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_patient_code"),
        sa.UniqueConstraint("national_id", name="uq_patient_national_id"),
        sa.UniqueConstraint("user_id", name="uq_patient_user_id"),
        sa.Index("ix_patient_full_name", "full_name"),
        # Names, codes and phones anywhere in the folded text (LIKE '%nguyen van%': the patient search
        # of every screen and the FHIR API's Patient?name=): a trigram index on PostgreSQL (pg_trgm,
        # migration 0031_patient_trgm); elsewhere a plain index.
        sa.Index("ix_patient_search_text", "search_text", postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"}),
        sa.Index("ix_patient_phone", "phone"),
        sa.Index("ix_patient_insurance_number", "insurance_number"),
    )

    def __repr__(self) -> str:
        return f"{self.code} · {self.full_name}"


doctor_service = sa.Table(
    "doctor_service",
    Model.metadata,
    sa.Column("doctor_id", sa.ForeignKey("doctor.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("service_id", sa.ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
)


class Doctor(TimestampMixin, Model):
    __tablename__ = "doctor"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = user_fk()
    user: Mapped[User | None] = relationship(User, foreign_keys=[user_id])
    full_name: Mapped[str] = mapped_column(sa.Unicode(150), nullable=False)
    title: Mapped[str | None] = mapped_column(sa.Unicode(50))  # e.g. "ThS. BS."
    specialty_id: Mapped[int | None] = mapped_column(sa.ForeignKey("specialty.id", ondelete="SET NULL"))
    specialty: Mapped[Specialty | None] = relationship()
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"))
    department: Mapped[Department | None] = relationship()
    bio: Mapped[str | None] = mapped_column(sa.UnicodeText)
    photo: Mapped[str | None] = mapped_column(sa.Unicode(255))  # storage key of the picture
    consultation_fee: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    years_of_experience: Mapped[int] = mapped_column(nullable=False, default=0)
    languages: Mapped[str | None] = mapped_column(sa.Unicode(100))  # e.g. "vi, en"
    phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    email: Mapped[str | None] = mapped_column(sa.Unicode(254))
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    # Secret of the private iCalendar feed; changing it revokes the old URL.
    calendar_token: Mapped[str | None] = mapped_column(sa.Unicode(64))
    services: Mapped[list["Service"]] = relationship(secondary=doctor_service, back_populates="doctors")

    __table_args__ = (
        sa.UniqueConstraint("user_id", name="uq_doctor_user_id"),
        sa.UniqueConstraint("calendar_token", name="uq_doctor_calendar_token"),
        sa.CheckConstraint("consultation_fee >= 0", name="ck_doctor_fee_non_negative"),
        sa.CheckConstraint("years_of_experience >= 0", name="ck_doctor_experience_non_negative"),
        sa.Index("ix_doctor_department_id", "department_id"),
        sa.Index("ix_doctor_specialty_id", "specialty_id"),
    )

    def __repr__(self) -> str:
        return f"{self.title} {self.full_name}".strip() if self.title else self.full_name


class Employee(TimestampMixin, Model):
    __tablename__ = "employee"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = user_fk()
    user: Mapped[User | None] = relationship(User, foreign_keys=[user_id])
    full_name: Mapped[str] = mapped_column(sa.Unicode(150), nullable=False)
    position: Mapped[str] = mapped_column(choice("employee_position", *POSITIONS), nullable=False)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"))
    department: Mapped[Department | None] = relationship()
    phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    email: Mapped[str | None] = mapped_column(sa.Unicode(254))
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    __table_args__ = (sa.UniqueConstraint("user_id", name="uq_employee_user_id"),)

    def __repr__(self) -> str:
        return self.full_name
