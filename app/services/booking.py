"""Booking: free slots, one path to book, the appointment workflow, rescheduling and cancelling.

Every entry point (back office, public site, REST API, chat, generic screens) calls these
functions. Two bookings can never hold one doctor's time: bookings of a doctor are serialised by
a row lock on the doctor (PostgreSQL) or the database write lock (SQLite), checked again inside
that lock, and on PostgreSQL an exclusion constraint makes overlapping active appointments
impossible whatever the code does."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dateutil.rrule import rrulestr
from flask_babel import gettext as _
from sqlalchemy import func, inspect, or_, select, text
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentEvent, AppointmentSeries, Doctor, Patient, Service, doctor_service
from app.models.scheduling import ACTIVE_STATUSES, CHANNELS
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.errors import commit as commit_or_raise
from app.services.schedule_rules import day_off_reason, working_intervals
from app.services.settings import ClinicSettings

MAX_RANGE_DAYS = 62
TRANSITIONS: dict[str, set[str]] = {
    "requested": {"confirmed", "cancelled"},
    "confirmed": {"checked_in", "cancelled", "no_show"},
    "checked_in": {"in_consultation", "cancelled", "no_show"},
    "in_consultation": {"completed"},
    "completed": set(),
    "cancelled": set(),
    "no_show": set(),
}
INITIAL_STATUSES = ("requested", "confirmed")


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    end: datetime


# --- looking things up -------------------------------------------------------------------------


def _doctor_and_service(session: Session, doctor_id: int, service_id: int) -> tuple[Doctor, Service]:
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


def _local(moment: datetime, settings: ClinicSettings) -> datetime:
    return moment.astimezone(settings.timezone).replace(tzinfo=None)


def _utc(local: datetime, settings: ClinicSettings) -> datetime:
    return local.replace(tzinfo=settings.timezone).astimezone(timezone.utc)


def _busy(session: Session, column, owner_id: int, start: datetime, end: datetime,
          ignore_id: int | None) -> list[tuple[datetime, datetime]]:
    query = select(Appointment.start_at, Appointment.end_at).where(
        column == owner_id, Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.start_at < end, Appointment.end_at > start,
    ).order_by(Appointment.start_at)
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return [(row.start_at, row.end_at) for row in session.execute(query)]


def _clashes(start: datetime, end: datetime, busy: list[tuple[datetime, datetime]], buffer: timedelta) -> bool:
    """``busy`` is sorted by start; the new visit needs [start, end + buffer) free of every
    [s, e + buffer)."""
    index = bisect_left(busy, (start - timedelta(days=1), start))
    for s, e in busy[index:]:
        if s >= end + buffer:
            break
        if start < e + buffer and s < end + buffer:
            return True
    return False


# --- availability ------------------------------------------------------------------------------


def check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationFailed(_("The end date must not be before the start date."), "date_to")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(_("Ask for at most %(n)d days at a time.", n=MAX_RANGE_DAYS), "date_to")


def free_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
               settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None) -> list[Slot]:
    """Start times (on the slot grid) when the doctor works, is not on leave, has no other
    appointment (with the buffer) and that respect the minimum notice and the horizon."""
    check_range(date_from, date_to)
    _doctor, service = _doctor_and_service(session, doctor_id, service_id)
    policy = settings.booking
    now = now or settings.now()
    earliest, latest = now + policy.min_notice, now + policy.horizon
    duration, step = timedelta(minutes=service.duration_minutes), timedelta(minutes=policy.slot_minutes)
    buffer = timedelta(minutes=policy.buffer_minutes)
    days = working_intervals(session, doctor_id, date_from, date_to)
    window_start = _utc(datetime.combine(date_from, datetime.min.time()), settings) - buffer
    window_end = _utc(datetime.combine(date_to + timedelta(days=1), datetime.min.time()), settings) + buffer
    busy = _busy(session, Appointment.doctor_id, doctor_id, window_start, window_end, ignore_appointment_id)
    slots: list[Slot] = []
    for intervals in days.values():
        for begin, finish in intervals:
            t = begin
            while t + duration <= finish:
                start = _utc(t, settings)
                end = start + duration
                if earliest <= start <= latest and not _clashes(start, end, busy, buffer):
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


# --- the one booking check ---------------------------------------------------------------------


def lock_for_booking(session: Session, doctor_id: int, patient_id: int | None) -> bool:
    """Serialise bookings touching this doctor (and patient) until the transaction ends; False
    when the patient does not exist. PostgreSQL: row locks, always doctor before patient (no
    deadlock). SQLite: its single write lock, taken now rather than at the first INSERT, so the
    checks that follow see every booking."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT id FROM doctor WHERE id = :id FOR UPDATE"), {"id": doctor_id})
        if patient_id:
            return session.execute(text("SELECT id FROM patient WHERE id = :id FOR UPDATE"),
                                   {"id": patient_id}).first() is not None
        return True
    session.execute(text("UPDATE doctor SET id = id WHERE id = :id"), {"id": doctor_id})
    return not patient_id or session.get(Patient, patient_id) is not None


def check_slot(session: Session, *, doctor: Doctor, service: Service, patient_id: int | None,
               start: datetime, settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None, field: str = "start_at") -> datetime:
    """Raise the reason ``start`` cannot be booked; return the end. Call inside the booking lock."""
    if start.tzinfo is None:
        raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    policy = settings.booking
    now = now or settings.now()
    start = start.astimezone(timezone.utc)
    end = start + timedelta(minutes=service.duration_minutes)
    if start < now:
        raise ValidationFailed(_("This time is in the past."), field)
    if start < now + policy.min_notice:
        raise ValidationFailed(_("Book at least %(n)d minutes ahead.",
                                 n=int(policy.min_notice.total_seconds() // 60)), field)
    if start > now + policy.horizon:
        raise ValidationFailed(_("Bookings open %(n)d days ahead.", n=policy.horizon.days), field)
    local_start, local_end = _local(start, settings), _local(end, settings)
    day = local_start.date()
    intervals = working_intervals(session, doctor.id, day, day)[day]
    session_block = next((b for b in intervals if b[0] <= local_start and local_end <= b[1]), None)
    if session_block is None:
        reason = day_off_reason(session, doctor.id, day)
        if reason:
            raise ValidationFailed(_("%(doctor)s is not working on %(day)s (%(reason)s).", doctor=str(doctor),
                                     day=day.isoformat(), reason=_(reason)), field)
        hours = ", ".join(f"{b[0]:%H:%M}–{b[1]:%H:%M}" for b in intervals) or _("none")
        raise ValidationFailed(_("Outside %(doctor)s's working hours on %(day)s (%(hours)s).", doctor=str(doctor),
                                 day=day.isoformat(), hours=hours), field)
    offset = (local_start - session_block[0]).total_seconds() / 60
    if offset % policy.slot_minutes:
        raise ValidationFailed(_("Appointments start every %(n)d minutes from %(start)s.",
                                 n=policy.slot_minutes, start=f"{session_block[0]:%H:%M}"), field)
    buffer = timedelta(minutes=policy.buffer_minutes)
    for clash in _clashes_of(session, doctor.id, patient_id, start, end, buffer, ignore_appointment_id):
        if clash.doctor_id == doctor.id and clash.start_at < end + buffer and clash.end_at + buffer > start:
            raise Conflict(_("%(doctor)s already has an appointment from %(start)s to %(end)s.", doctor=str(doctor),
                             start=f"{_local(clash.start_at, settings):%H:%M}",
                             end=f"{_local(clash.end_at, settings):%H:%M}"), field)
        if patient_id and clash.patient_id == patient_id and clash.start_at < end and clash.end_at > start:
            raise Conflict(_("The patient already has an appointment at %(start)s with %(doctor)s.",
                             start=f"{_local(clash.start_at, settings):%Y-%m-%d %H:%M}",
                             doctor=str(clash.doctor)), field)
    return end


def _clashes_of(session: Session, doctor_id: int, patient_id: int | None, start: datetime, end: datetime,
                buffer: timedelta, ignore_id: int | None) -> list[Appointment]:
    """Active appointments of the doctor (with the buffer) or of the patient that could be in the
    way, in one query; the caller tells which."""
    owner = Appointment.doctor_id == doctor_id
    if patient_id:
        owner = or_(owner, Appointment.patient_id == patient_id)
    query = select(Appointment).where(
        owner, Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.start_at < end + buffer, Appointment.end_at > start - buffer,
    ).order_by(Appointment.start_at)
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return list(session.execute(query).scalars())


# --- booking and the workflow -------------------------------------------------------------------


def _record(session: Session, appointment: Appointment, old: str | None, new: str, actor_id: int | None,
            note: str | None = None) -> None:
    session.add(AppointmentEvent(appointment=appointment, from_status=old, to_status=new, actor_id=actor_id,
                                 note=note))


def book_appointment(session: Session, *, patient_id: int, doctor_id: int, service_id: int, start: datetime,
                     settings: ClinicSettings, actor_id: int | None = None, channel: str = "walk_in",
                     reason: str | None = None, notes: str | None = None, status: str | None = None,
                     series_id: int | None = None, now: datetime | None = None, commit: bool = True) -> Appointment:
    """Book one appointment, or raise why not (ValidationFailed 422, Conflict 409)."""
    if channel not in CHANNELS:
        raise ValidationFailed(_("Unknown channel."), "channel")
    doctor, service = _doctor_and_service(session, doctor_id, service_id)
    if status is None:
        online = channel == "online"
        if online and not settings.booking.online_enabled:
            raise Forbidden(_("Online booking is switched off; please call the clinic."))
        status = "requested" if online and settings.booking.online_needs_confirmation else "confirmed"
    if status not in INITIAL_STATUSES:
        raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
    if not patient_id or not lock_for_booking(session, doctor.id, patient_id):
        raise ValidationFailed(_("Unknown patient."), "patient_id")
    end = check_slot(session, doctor=doctor, service=service, patient_id=patient_id, start=start,
                     settings=settings, now=now)
    appointment = Appointment(patient_id=patient_id, doctor_id=doctor.id, service_id=service.id,
                              start_at=start.astimezone(timezone.utc), end_at=end, status=status, channel=channel,
                              reason=reason, notes=notes, series_id=series_id, created_by_id=actor_id)
    session.add(appointment)
    _record(session, appointment, None, status, actor_id)
    if commit:
        commit_or_raise(session)
    return appointment


def load_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(_("There is no appointment %(id)s.", id=appointment_id))
    return appointment


def _check_patient_cutoff(appointment: Appointment, settings: ClinicSettings, now: datetime) -> None:
    if appointment.start_at - now < settings.booking.patient_cutoff:
        hours = int(settings.booking.patient_cutoff.total_seconds() // 3600)
        raise Conflict(_("Changes online are possible until %(n)d hours before the appointment; please call the "
                         "clinic.", n=hours))


def next_queue_number(session: Session, doctor_id: int, day: date) -> int:
    current = session.execute(select(func.max(Appointment.queue_number)).where(
        Appointment.doctor_id == doctor_id, Appointment.queue_date == day)).scalar()
    return (current or 0) + 1


def apply_transition(session: Session, appointment: Appointment, old: str, new: str, *, actor_id: int | None,
                     settings: ClinicSettings, reason: str | None = None, now: datetime | None = None) -> None:
    """Check and apply ``old -> new`` on ``appointment`` (status already set or not); no commit."""
    if new not in TRANSITIONS:
        raise ValidationFailed(_("Unknown status."), "status")
    if new not in TRANSITIONS.get(old, set()):
        raise Conflict(_("An appointment that is %(old)s cannot become %(new)s.", old=_(old), new=_(new)), "status")
    now = now or settings.now()
    appointment.status = new
    if new == "checked_in":
        day = _local(appointment.start_at, settings).date()
        lock_for_booking(session, appointment.doctor_id, None)
        appointment.queue_date = day
        appointment.queue_number = next_queue_number(session, appointment.doctor_id, day)
        appointment.checked_in_at = now
    elif new == "cancelled":
        appointment.cancelled_at = now
        appointment.cancelled_by_id = actor_id
        appointment.cancel_reason = reason or appointment.cancel_reason
    _record(session, appointment, old, new, actor_id, reason)


def transition_appointment(session: Session, appointment_id: int, to_status: str, *, actor_id: int | None,
                           settings: ClinicSettings, reason: str | None = None, by_patient: bool = False,
                           now: datetime | None = None) -> Appointment:
    """Move an appointment along its workflow (confirm, check in, start, complete, cancel, no-show)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if by_patient:
        if to_status != "cancelled":
            raise Forbidden(_("Patients can only cancel their appointments."))
        _check_patient_cutoff(appointment, settings, now)
    if to_status == "cancelled" and not (reason or "").strip():
        raise ValidationFailed(_("Say why the appointment is cancelled."), "reason")
    apply_transition(session, appointment, appointment.status, to_status, actor_id=actor_id, settings=settings,
                     reason=reason, now=now)
    commit_or_raise(session)
    return appointment


def reschedule_appointment(session: Session, appointment_id: int, new_start: datetime, *,
                           actor_id: int | None, settings: ClinicSettings, doctor_id: int | None = None,
                           by_patient: bool = False, now: datetime | None = None) -> Appointment:
    """Move an appointment; the new time is checked like a new booking, and if it is taken the
    old one is kept (nothing changes)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if appointment.status not in ("requested", "confirmed"):
        raise Conflict(_("Only requested or confirmed appointments can be moved."))
    if by_patient:
        _check_patient_cutoff(appointment, settings, now)
    doctor, service = _doctor_and_service(session, doctor_id or appointment.doctor_id, appointment.service_id)
    lock_for_booking(session, doctor.id, appointment.patient_id)
    end = check_slot(session, doctor=doctor, service=service, patient_id=appointment.patient_id, start=new_start,
                     settings=settings, now=now, ignore_appointment_id=appointment.id)
    old_start = appointment.start_at
    appointment.doctor_id, appointment.start_at, appointment.end_at = doctor.id, new_start.astimezone(timezone.utc), end
    _record(session, appointment, appointment.status, appointment.status, actor_id,
            _("Moved from %(old)s", old=f"{_local(old_start, settings):%Y-%m-%d %H:%M}"))
    commit_or_raise(session)
    return appointment


# --- the generic screens and REST resource -----------------------------------------------------


def validate_appointment(session: Session, appointment: Appointment, settings: ClinicSettings) -> None:
    """Generic create/edit (FAB screens, /api/v1/appointment/) goes through the same checks as
    ``book_appointment`` and the same workflow as ``transition_appointment``."""
    required = {"patient_id": appointment.patient_id or appointment.patient,
                "doctor_id": appointment.doctor_id or appointment.doctor,
                "service_id": appointment.service_id or appointment.service,
                "start_at": appointment.start_at}
    for field, value in required.items():
        if value is None:
            raise ValidationFailed(_("This field is required."), field)
    for field in ("start_at", "end_at"):
        value = getattr(appointment, field)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    doctor_id = appointment.doctor.id if appointment.doctor is not None else appointment.doctor_id
    service_id = appointment.service.id if appointment.service is not None else appointment.service_id
    patient_id = appointment.patient.id if appointment.patient is not None else appointment.patient_id
    doctor, service = _doctor_and_service(session, doctor_id, service_id)
    state = inspect(appointment)
    if appointment.end_at is not None and appointment.end_at <= appointment.start_at:
        raise ValidationFailed(_("The end must be after the start."), "end_at")
    if state.transient or state.pending:
        status = appointment.status or "confirmed"
        if status not in INITIAL_STATUSES:
            raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
        appointment.status = status
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings)
        _record(session, appointment, None, status, None)
        return
    moved = any(state.attrs[key].history.has_changes()
                for key in ("start_at", "end_at", "doctor_id", "doctor", "service_id", "service",
                            "patient_id", "patient"))
    history = state.attrs.status.history
    old_status = history.deleted[0] if history.deleted else appointment.status
    if moved:
        if old_status not in ("requested", "confirmed"):
            raise Conflict(_("Only requested or confirmed appointments can be moved."), "start_at")
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings,
                                        ignore_appointment_id=appointment.id)
    if appointment.status != old_status:
        apply_transition(session, appointment, old_status, appointment.status, actor_id=None, settings=settings,
                         reason=appointment.cancel_reason)


def validate_appointment_series(session: Session, series: AppointmentSeries, settings: ClinicSettings) -> None:
    """The repeat rule is an RFC 5545 RRULE with an end (COUNT or UNTIL): a course has a last visit."""
    rule = (series.rule or "").strip().removeprefix("RRULE:")
    if not rule:
        raise ValidationFailed(_("This field is required."), "rule")
    if not _parses(rule):
        raise ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")
    parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise ValidationFailed(_("Say when the series ends: COUNT=… or UNTIL=…."), "rule")
    if "COUNT" in parts and not 1 <= int(parts["COUNT"]) <= 100:
        raise ValidationFailed(_("A series has 1 to 100 appointments."), "rule")
    series.rule = rule


def _parses(rule: str) -> bool:
    """UNTIL may be UTC (…Z) or floating; dateutil wants the start to match, so try both."""
    for start in (datetime(2000, 1, 1), datetime(2000, 1, 1, tzinfo=timezone.utc)):
        try:
            rrulestr(rule, dtstart=start)
            return True
        except (ValueError, TypeError):
            continue
    return False
