"""Where each doctor is right now, derived from the schedule, its exceptions and the appointments:
off, available, in consultation (with which queue number), or on leave."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor
from app.services.schedule_rules import BLOCKING_KINDS, day_intervals, day_rules
from app.services.settings import ClinicSettings


@dataclass(frozen=True)
class DoctorState:
    doctor: Doctor
    state: str  # "off", "available", "in_consultation", "on_leave"
    queue_number: int | None = None
    patient_code: str | None = None
    until: datetime | None = None  # local time the current state ends, when known
    waiting: int = 0  # checked-in patients of today not yet seen


def doctor_states(session: Session, settings: ClinicSettings, now: datetime | None = None) -> list[DoctorState]:
    now = now or settings.now()
    local = now.astimezone(settings.timezone).replace(tzinfo=None)
    today = local.date()
    doctors = session.execute(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.full_name)).scalars()
    states = []
    for doctor in doctors:
        consulting = session.execute(select(Appointment).where(
            Appointment.doctor_id == doctor.id, Appointment.status == "in_consultation",
            Appointment.queue_date == today).order_by(Appointment.checked_in_at.desc()).limit(1)).scalars().first()
        waiting = session.execute(select(Appointment.id).where(
            Appointment.doctor_id == doctor.id, Appointment.status == "checked_in",
            Appointment.queue_date == today)).all()
        if consulting is not None:
            states.append(DoctorState(doctor, "in_consultation", consulting.queue_number,
                                      consulting.patient.code if consulting.patient else None,
                                      waiting=len(waiting)))
            continue
        weekly, exceptions = day_rules(session.connection(), doctor.id, today)
        if any(e.kind in BLOCKING_KINDS and (e.start_time is None or e.start_time <= local.time() < e.end_time)
               for e in exceptions):
            states.append(DoctorState(doctor, "on_leave", waiting=len(waiting)))
            continue
        block = next((b for b in day_intervals(today, weekly, exceptions) if b[0] <= local < b[1]), None)
        if block is None:
            states.append(DoctorState(doctor, "off", waiting=len(waiting)))
        else:
            states.append(DoctorState(doctor, "available", until=block[1], waiting=len(waiting)))
    return states
