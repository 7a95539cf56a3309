"""What every booking step looks up: the doctor and the service (active, offered together), an
appointment by id, and the clinic's wall clock (local times are naive, instants aware UTC)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor, Service, doctor_service
from app.services.errors import NotFound, ValidationFailed
from app.services.settings import ClinicSettings


def doctor_and_service(session: Session, doctor_id: int, service_id: int) -> tuple[Doctor, Service]:
    """The active doctor and the active service they offer, or ValidationFailed naming the field."""
    doctor = session.get(Doctor, doctor_id) if doctor_id else None
    if doctor is None or not doctor.active:
        raise ValidationFailed(_("Unknown doctor."), "doctor_id")
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    offers = session.execute(select(doctor_service.c.doctor_id).where(
        doctor_service.c.doctor_id == doctor.id, doctor_service.c.service_id == service.id)).first()
    if offers is None:
        raise ValidationFailed(_("%(doctor)s does not offer %(service)s.", doctor=str(doctor), service=service.name),
                               "service_id")
    return doctor, service


def doctor_name(session: Session, doctor_id: int) -> str:
    return str(session.get(Doctor, doctor_id))


def load_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(_("There is no appointment %(id)s.", id=appointment_id))
    return appointment


def to_local(moment: datetime, settings: ClinicSettings) -> datetime:
    """An aware instant as the clinic's naive wall-clock time."""
    return moment.astimezone(settings.timezone).replace(tzinfo=None)


def to_utc(local: datetime, settings: ClinicSettings) -> datetime:
    """The clinic's naive wall-clock time as an aware UTC instant."""
    return local.replace(tzinfo=settings.timezone).astimezone(timezone.utc)
