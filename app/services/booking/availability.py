"""Free slots: when a doctor can see a patient for a service, and the "any doctor" search."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Doctor, Service
from app.services.booking.clashes import DOCTOR_BUSY, LONGEST_VISIT
from app.services.booking.lookups import doctor_and_service, to_utc
from app.services.errors import ValidationFailed
from app.services.schedule_rules import working_intervals
from app.services.settings import ClinicSettings

MAX_RANGE_DAYS = 62


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    end: datetime


def check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationFailed(_("The end date must not be before the start date."), "date_to")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(_("Ask for at most %(n)d days at a time.", n=MAX_RANGE_DAYS), "date_to")


def _taken(start: datetime, end: datetime, busy: list[tuple[datetime, datetime]], buffer: timedelta) -> bool:
    """``busy`` is sorted by start; the new visit needs [start, end + buffer) free of every
    [s, e + buffer)."""
    index = bisect_left(busy, (start - LONGEST_VISIT, start))
    for s, e in busy[index:]:
        if s >= end + buffer:
            break
        if start < e + buffer and s < end + buffer:
            return True
    return False


def free_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
               settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None, by_patient: bool = True) -> list[Slot]:
    """Start times (on the slot grid) when the doctor works, is not on leave, has no other
    appointment (with the buffer) and that respect the minimum notice and the horizon. With
    ``by_patient=False`` (staff) no minimum notice: from the slot in progress on (``check_time``)."""
    check_range(date_from, date_to)
    _doctor, service = doctor_and_service(session, doctor_id, service_id)
    policy = settings.booking
    now = now or settings.now()
    step = timedelta(minutes=policy.slot_minutes)
    earliest = now + policy.min_notice if by_patient else now - step + timedelta(microseconds=1)
    latest = now + policy.horizon
    duration = timedelta(minutes=service.duration_minutes)
    buffer = timedelta(minutes=policy.buffer_minutes)
    days = working_intervals(session, doctor_id, date_from, date_to)
    window_start = to_utc(datetime.combine(date_from, datetime.min.time()), settings) - buffer
    window_end = to_utc(datetime.combine(date_to + timedelta(days=1), datetime.min.time()), settings) + buffer
    busy = [(row.start_at, row.end_at) for row in session.connection().execute(DOCTOR_BUSY, {
        "v_doctor_id": doctor_id, "c_since": window_start, "c_until": window_end,
        "c_since_longest": window_start - LONGEST_VISIT, "c_ignore": ignore_appointment_id or 0})]
    slots: list[Slot] = []
    for intervals in days.values():
        for begin, finish in intervals:
            t = begin
            while t + duration <= finish:
                start = to_utc(t, settings)
                end = start + duration
                if earliest <= start <= latest and not _taken(start, end, busy, buffer):
                    slots.append(Slot(start, end))
                t += step
    return slots


def first_available(session: Session, *, service_id: int, date_from: date, date_to: date,
                    settings: ClinicSettings, now: datetime | None = None,
                    limit: int = 10) -> list[tuple[Doctor, Slot]]:
    """"Any doctor": each doctor offering the service with their earliest free slot, soonest first."""
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    check_range(date_from, date_to)
    found: list[tuple[Doctor, Slot]] = []
    for doctor in (d for d in service.doctors if d.active):
        slots = free_slots(session, doctor_id=doctor.id, service_id=service_id, date_from=date_from,
                           date_to=date_to, settings=settings, now=now)
        if slots:
            found.append((doctor, slots[0]))
    found.sort(key=lambda pair: (pair[1].start, pair[0].id))
    return found[:limit]
