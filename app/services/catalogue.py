"""The service catalogue: its rules, and the reads of what the clinic offers (active services
and doctors, for the public site and the booking forms)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Doctor, Service
from app.services import validation as v
from app.services.settings import ClinicSettings

MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number names no record


def validate_service(session: Session, service: Service, settings: ClinicSettings) -> None:
    service.code = v.require_text("code", service.code, 20).upper()
    service.name = v.require_text("name", service.name, 150)
    v.non_negative("price", service.price)
    if service.duration_minutes is None:
        raise v.ValidationFailed(_("This field is required."), "duration_minutes")
    v.in_range("duration_minutes", service.duration_minutes, 5, 480)
    v.unique(session, service, "code", _("Another service already has this code."))


# --- reads ---------------------------------------------------------------------------------------


def active_services(session: Session) -> list[Service]:
    return list(session.execute(select(Service).where(Service.active.is_(True)).order_by(Service.name)).scalars())


def active_doctors(session: Session) -> list[Doctor]:
    return list(session.execute(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.full_name)).scalars())


def active_doctor(session: Session, doctor_id: int | None) -> Doctor | None:
    doctor = session.get(Doctor, doctor_id) if doctor_id is not None and 0 < doctor_id <= MAX_ID else None
    return doctor if doctor is not None and doctor.active else None


def active_service(session: Session, service_id: int | None) -> Service | None:
    service = session.get(Service, service_id) if service_id is not None and 0 < service_id <= MAX_ID else None
    return service if service is not None and service.active else None


def services_of(doctor: Doctor) -> list[Service]:
    """The active services a doctor offers, in a stable order."""
    return sorted((s for s in doctor.services if s.active), key=lambda s: s.id)


def doctors_for(service: Service) -> list[Doctor]:
    """The active doctors who offer a service, by name."""
    return sorted((d for d in service.doctors if d.active), key=lambda d: d.full_name)


def offers(doctor: Doctor, service: Service) -> bool:
    return service in doctor.services
