"""Rules for patients, doctors, staff and the clinic's organisation."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Department, Doctor, Employee, Patient, Specialty
from app.services import validation as v
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings
from app.services.text import fold

PATIENT_CODE_PREFIX = "BN"  # "bệnh nhân"


def next_patient_code(session: Session) -> str:
    """The next free code, BN000001 style. The unique constraint settles a race between two desks."""
    last = session.execute(select(func.max(Patient.id))).scalar() or 0
    code = f"{PATIENT_CODE_PREFIX}{last + 1:06d}"
    while session.execute(select(Patient.id).where(Patient.code == code)).first():
        last += 1
        code = f"{PATIENT_CODE_PREFIX}{last + 1:06d}"
    return code


def patient_search_text(patient: Patient) -> str:
    return " ".join(filter(None, [fold(patient.full_name), (patient.code or "").lower(), patient.phone or ""]))


def validate_patient(session: Session, patient: Patient, settings: ClinicSettings) -> None:
    patient.full_name = v.require_text("full_name", patient.full_name, 150)
    patient.email = v.normalize_email("email", patient.email)
    patient.phone = v.normalize_phone("phone", patient.phone, settings.phone_region)
    patient.emergency_contact_phone = v.normalize_phone(
        "emergency_contact_phone", patient.emergency_contact_phone, settings.phone_region
    )
    v.not_in_future("date_of_birth", patient.date_of_birth, settings.today())
    if patient.date_of_birth is not None and patient.date_of_birth < date(1900, 1, 1):
        raise ValidationFailed(_("Enter a real date of birth."), "date_of_birth")
    if patient.national_id is not None:
        patient.national_id = patient.national_id.strip() or None
    # CMND has 9 digits, CCCD 12; passports of foreign patients are letters and digits.
    v.matches("national_id", patient.national_id, r"[0-9]{9}|[0-9]{12}|[A-Z0-9]{6,20}",
              _("A national ID is 9 or 12 digits, or a passport number."))
    v.unique(session, patient, "national_id", _("Another patient already has this national ID."))
    if patient.code:
        patient.code = patient.code.strip().upper()
        v.matches("code", patient.code, r"[A-Z0-9-]{3,20}", _("Use 3 to 20 letters, digits or dashes."))
    else:
        patient.code = next_patient_code(session)
    v.unique(session, patient, "code", _("Another patient already has this code."))
    v.unique(session, patient, "user_id", _("This login is already linked to another patient."))
    patient.search_text = patient_search_text(patient)


def validate_doctor(session: Session, doctor: Doctor, settings: ClinicSettings) -> None:
    doctor.full_name = v.require_text("full_name", doctor.full_name, 150)
    doctor.email = v.normalize_email("email", doctor.email)
    doctor.phone = v.normalize_phone("phone", doctor.phone, settings.phone_region)
    v.non_negative("consultation_fee", doctor.consultation_fee)
    v.in_range("years_of_experience", doctor.years_of_experience, 0, 70)
    v.unique(session, doctor, "user_id", _("This login is already linked to another doctor."))


def validate_employee(session: Session, employee: Employee, settings: ClinicSettings) -> None:
    employee.full_name = v.require_text("full_name", employee.full_name, 150)
    employee.email = v.normalize_email("email", employee.email)
    employee.phone = v.normalize_phone("phone", employee.phone, settings.phone_region)
    v.unique(session, employee, "user_id", _("This login is already linked to another employee."))


def validate_department(session: Session, department: Department, settings: ClinicSettings) -> None:
    department.code = v.require_text("code", department.code, 20).upper()
    department.name = v.require_text("name", department.name, 120)
    v.unique(session, department, "code", _("Another department already has this code."))
    v.unique(session, department, "name", _("Another department already has this name."))


def validate_specialty(session: Session, specialty: Specialty, settings: ClinicSettings) -> None:
    specialty.name = v.require_text("name", specialty.name, 120)
    v.unique(session, specialty, "name", _("This specialty already exists."))
