"""Free slots: when a doctor can see a patient for a service, and the "any doctor" search."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Doctor, Service
from app.services import cache, cache_hooks
from app.services.booking.clashes import DOCTOR_BUSY, LONGEST_VISIT
from app.services.booking.lookups import doctor_and_service, to_utc
from app.services.errors import ValidationFailed
from app.services.schedule_rules import working_intervals
from app.services.settings import ClinicSettings

MAX_RANGE_DAYS = 62


@cache.value_type
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


def _window(settings: ClinicSettings, now: datetime, by_patient: bool) -> tuple[datetime, datetime]:
    """The starts a caller may be offered: from the minimum notice (a patient) or from the slot in
    progress (staff, ``check_time``), up to the horizon."""
    policy = settings.booking
    step = timedelta(minutes=policy.slot_minutes)
    earliest = now + policy.min_notice if by_patient else now - step + timedelta(microseconds=1)
    return earliest, now + policy.horizon


def _open_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
                settings: ClinicSettings, ignore_appointment_id: int | None = None,
                earliest: datetime | None = None, latest: datetime | None = None) -> list[Slot]:
    """Every start on the slot grid from ``date_from`` to ``date_to`` when the doctor works, is not
    on leave and has no other appointment (with the buffer); between ``earliest`` and ``latest``
    only when given. Without them the answer does not depend on the time now (what the cache keeps)."""
    _doctor, service = doctor_and_service(session, doctor_id, service_id)
    policy = settings.booking
    step = timedelta(minutes=policy.slot_minutes)
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
                if ((earliest is None or earliest <= start) and (latest is None or start <= latest)
                        and not _taken(start, end, busy, buffer)):
                    slots.append(Slot(start, end))
                t += step
    return slots


def free_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
               settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None, by_patient: bool = True) -> list[Slot]:
    """Start times (on the slot grid) when the doctor works, is not on leave, has no other
    appointment (with the buffer) and that respect the minimum notice and the horizon. With
    ``by_patient=False`` (staff) no minimum notice: from the slot in progress on (``check_time``).
    Read from the database: see ``cached_free_slots`` for the cached read."""
    check_range(date_from, date_to)
    earliest, latest = _window(settings, now or settings.now(), by_patient)
    return _open_slots(session, doctor_id=doctor_id, service_id=service_id, date_from=date_from, date_to=date_to,
                       settings=settings, ignore_appointment_id=ignore_appointment_id, earliest=earliest,
                       latest=latest)


def cached_free_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
                      settings: ClinicSettings, now: datetime | None = None, by_patient: bool = True) -> list[Slot]:
    """``free_slots``, the same answer, through the cache (namespace ``slots``, scope the doctor:
    every write of the doctor's appointments, hours or exceptions invalidates it,
    ``app.services.cache_hooks``). The cache keeps every open start of the days asked for, whatever
    the time (``_open_slots``); each call then keeps those from its own minimum notice (a patient)
    or slot in progress (``by_patient=False``) up to the horizon, as ``free_slots`` would now.

    A session that changed the doctor's times and has not committed reads the database (it must
    see its own change; what it loaded must not be kept in case it rolls back)."""
    check_range(date_from, date_to)
    now = now or settings.now()
    earliest, latest = _window(settings, now, by_patient)
    if cache_hooks.uncommitted(session, cache.SLOTS, doctor_id):
        return _open_slots(session, doctor_id=doctor_id, service_id=service_id, date_from=date_from,
                           date_to=date_to, settings=settings, earliest=earliest, latest=latest)
    policy = settings.booking
    # Everything the grid depends on besides the rows (which invalidate): one clinic's settings
    # could differ between processes for a while during a deploy.
    key = ("open", service_id, date_from.isoformat(), date_to.isoformat(), str(settings.timezone),
           policy.slot_minutes, policy.buffer_minutes)
    slots = cache.cached(cache.SLOTS, key,
                         lambda: tuple(_open_slots(session, doctor_id=doctor_id, service_id=service_id,
                                                   date_from=date_from, date_to=date_to, settings=settings)),
                         scope=doctor_id)
    return [slot for slot in slots if earliest <= slot.start <= latest]


def first_available(session: Session, *, service_id: int, date_from: date, date_to: date,
                    settings: ClinicSettings, now: datetime | None = None,
                    limit: int = 10) -> list[tuple[Doctor, Slot]]:
    """"Any doctor": each doctor offering the service with their earliest free slot, soonest first
    (a patient's view: each doctor's slots through the cache, ``cached_free_slots``, so a booking
    invalidates that doctor's part only)."""
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    check_range(date_from, date_to)
    found: list[tuple[Doctor, Slot]] = []
    for doctor in (d for d in service.doctors if d.active):
        slots = cached_free_slots(session, doctor_id=doctor.id, service_id=service_id, date_from=date_from,
                                  date_to=date_to, settings=settings, now=now)
        if slots:
            found.append((doctor, slots[0]))
    found.sort(key=lambda pair: (pair[1].start, pair[0].id))
    return found[:limit]
