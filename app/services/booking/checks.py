"""Why a time cannot be booked: the clinic's policy (past, notice, horizon), the doctor's working
hours and slot grid that day, and what is in the way. A new booking runs these checks inside its
one statement's transaction (``book.py``); moves, series and the generic screens call
``check_slot`` inside the booking lock."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Doctor, Service
from app.services.booking.clashes import refuse_clash
from app.services.booking.lookups import doctor_name, to_local
from app.services.errors import ValidationFailed
from app.services.schedule_rules import day_intervals, day_rules, whole_day_off
from app.services.settings import ClinicSettings


def check_time(start: datetime, settings: ClinicSettings, now: datetime, field: str,
               by_patient: bool = True) -> datetime:
    """The start in UTC, or why it cannot be booked whoever the doctor: past, too soon, too far.

    The minimum notice (``BOOKING_MIN_NOTICE_MINUTES``) is for patients booking themselves (online,
    chat). Staff (``by_patient=False``: the desk, the calendar, walk-ins) book any time from the
    slot in progress on: a walk-in at 09:07 takes the 09:00 slot if it is free (still never
    overlapping another visit: the clash checks and PostgreSQL's exclusion constraints apply)."""
    if start.tzinfo is None:
        raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    policy = settings.booking
    start = start.astimezone(timezone.utc)
    if not by_patient:
        if start <= now - timedelta(minutes=policy.slot_minutes):
            raise ValidationFailed(_("This time is in the past."), field)
    elif start < now:
        raise ValidationFailed(_("This time is in the past."), field)
    elif start < now + policy.min_notice:
        raise ValidationFailed(_("Book at least %(n)d minutes ahead.",
                                 n=int(policy.min_notice.total_seconds() // 60)), field)
    if start > now + policy.horizon:
        raise ValidationFailed(_("Bookings open %(n)d days ahead.", n=policy.horizon.days), field)
    return start


def check_hours(session: Session, doctor_id: int, start: datetime, end: datetime, settings: ClinicSettings,
                field: str, weekly: Iterable[tuple[time, time]], exceptions: Iterable[Any]) -> None:
    """The visit lies within one of the doctor's working sessions that day (``weekly`` hours and
    ``exceptions`` of that day), on the slot grid."""
    local_start, local_end = to_local(start, settings), to_local(end, settings)
    day = local_start.date()
    exceptions = list(exceptions)
    intervals = day_intervals(day, weekly, exceptions)
    session_block = next((b for b in intervals if b[0] <= local_start and local_end <= b[1]), None)
    if session_block is None:
        doctor, reason = doctor_name(session, doctor_id), whole_day_off(exceptions)
        if reason:
            raise ValidationFailed(_("%(doctor)s is not working on %(day)s (%(reason)s).", doctor=doctor,
                                     day=day.isoformat(), reason=_(reason)), field)
        hours = ", ".join(f"{b[0]:%H:%M}–{b[1]:%H:%M}" for b in intervals) or _("none")
        raise ValidationFailed(_("Outside %(doctor)s's working hours on %(day)s (%(hours)s).", doctor=doctor,
                                 day=day.isoformat(), hours=hours), field)
    policy = settings.booking
    if (local_start - session_block[0]).total_seconds() / 60 % policy.slot_minutes:
        raise ValidationFailed(_("Appointments start every %(n)d minutes from %(start)s.",
                                 n=policy.slot_minutes, start=f"{session_block[0]:%H:%M}"), field)


def check_slot(session: Session, *, doctor: Doctor, service: Service, patient_id: int | None,
               start: datetime, settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None, field: str = "start_at",
               by_patient: bool = False) -> datetime:
    """Raise the reason ``start`` cannot be booked; return the end. Call inside the booking lock.
    ``by_patient``: the patient's own change (the minimum notice applies); staff otherwise."""
    start = check_time(start, settings, now or settings.now(), field, by_patient)
    end = start + timedelta(minutes=service.duration_minutes)
    weekly, exceptions = day_rules(session.connection(), doctor.id, to_local(start, settings).date())
    check_hours(session, doctor.id, start, end, settings, field, weekly, exceptions)
    refuse_clash(session, doctor.id, patient_id, start, end, settings, ignore_appointment_id, field)
    return end
