"""Reads of appointments for the pages: a patient's own list, one appointment of theirs, an
appointment's history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentEvent, Patient
from app.services.booking import can_move
from app.services.catalogue import MAX_ID

# Over or called off: the portal lists these with the past, whatever their time.
CLOSED_STATUSES = ("cancelled", "no_show", "completed")
# At the clinic now: listed with the upcoming ones even after their start time has passed.
AT_CLINIC_STATUSES = ("checked_in", "in_consultation")


@dataclass(frozen=True)
class PatientAppointments:
    upcoming: list[Appointment]  # soonest first
    past: list[Appointment]  # latest first (over, cancelled or missed)


def patient_of_user(session: Session, user_id: int | None) -> Patient | None:
    """The patient record linked to a login (None for staff and for a login without one)."""
    if user_id is None:
        return None
    return session.execute(select(Patient).where(Patient.user_id == user_id)).scalars().first()


def get_patient(session: Session, patient_id: int | None) -> Patient | None:
    return session.get(Patient, patient_id) if patient_id is not None and 0 < patient_id <= MAX_ID else None


def patient_may_change(appointment: Appointment, now: datetime) -> bool:
    """Whether the portal offers "Move" and "Cancel" (the cut-off before the visit is checked by
    the booking service, and shown by the page separately)."""
    return can_move(appointment.status) and appointment.start_at > now


def patient_appointments(session: Session, patient_id: int, now: datetime) -> PatientAppointments:
    rows = session.execute(select(Appointment).where(Appointment.patient_id == patient_id)
                           .order_by(Appointment.start_at)).scalars().all()
    upcoming = [a for a in rows if a.status in AT_CLINIC_STATUSES
                or (a.start_at >= now and a.status not in CLOSED_STATUSES)]
    past = [a for a in reversed(rows) if a not in upcoming]
    return PatientAppointments(upcoming=upcoming, past=past)


def own_appointment(session: Session, patient_id: int, appointment_id: int) -> Appointment | None:
    """The appointment, if it belongs to this patient (another patient's is as good as absent)."""
    appointment = session.get(Appointment, appointment_id) if 0 < appointment_id <= MAX_ID else None
    return appointment if appointment is not None and appointment.patient_id == patient_id else None


def find_appointment(session: Session, appointment_id: int) -> Appointment | None:
    return session.get(Appointment, appointment_id) if 0 < appointment_id <= MAX_ID else None


def appointment_history(session: Session, appointment_id: int) -> list[AppointmentEvent]:
    return list(session.execute(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appointment_id)
                                .order_by(AppointmentEvent.at, AppointmentEvent.id)).scalars())
