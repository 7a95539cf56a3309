"""Recurring appointments (a course of physiotherapy, an injection every N weeks).

A series is an RFC 5545 RRULE with an end (COUNT or UNTIL, at most 100 visits) applied to a first
visit. The dates are computed in the clinic's local time, so a 09:00 visit stays at 09:00 across
a daylight-saving change, and each one is checked exactly like a single booking. Booking a series
is one transaction: everything or nothing, unless the caller asks to skip the dates that cannot
be booked. Cancelling or moving ONE visit is the ordinary workflow (``app.services.booking``);
``cancel_series_from`` cancels a visit and all later ones of its series."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice

from dateutil.rrule import rrulestr
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentSeries, Patient
from app.services import appointment_hooks
from app.services.booking import (
    CANCELLABLE_STATUSES,
    MAX_OCCURRENCES,
    Booking,
    apply_transition,
    book_appointment,
    check_repeat_rule,
    check_slot,
    doctor_and_service,
    load_appointment,
    lock_for_booking,
)
from app.services.errors import Conflict, ValidationFailed, committing
from app.services.settings import ClinicSettings


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # aware UTC
    end: datetime
    ok: bool
    problem: str | None = None
    status_code: int | None = None  # 422 (a rule) or 409 (taken) when not ok


class SeriesConflict(Conflict):
    """Some dates of a series cannot be booked; ``conflicts`` lists them with their reasons."""

    def __init__(self, message: str, conflicts: list[dict]):
        super().__init__(message)
        self.conflicts = conflicts

    def as_dict(self) -> dict:
        return {"message": self.message, "conflicts": self.conflicts}


# --- the dates ---------------------------------------------------------------------------------


def normalise_rule(session: Session, rule: str | None, settings: ClinicSettings) -> str:
    """The rule without "RRULE:", or ValidationFailed on ``rule``."""
    return check_repeat_rule(rule)


def occurrence_starts(rule: str, first_start: datetime, settings: ClinicSettings) -> list[datetime]:
    """The start of every visit (aware UTC). The rule runs on the clinic's wall clock: dateutil
    gets the first visit as a local time and keeps its time of day on every date."""
    if first_start.tzinfo is None:
        raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), "start")
    zone = settings.timezone
    local = first_start.astimezone(zone)
    dates = None
    # A floating UNTIL needs a floating start, a UTC one (…Z) an aware start: try both.
    for dtstart in (local.replace(tzinfo=None), local):
        try:
            dates = list(islice(rrulestr(rule, dtstart=dtstart), MAX_OCCURRENCES + 1))
            break
        except (ValueError, TypeError):
            continue
    if dates is None:
        raise ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")
    if not dates:
        raise ValidationFailed(_("This rule gives no date from the first visit on."), "rule")
    if len(dates) > MAX_OCCURRENCES:
        raise ValidationFailed(_("A series has 1 to 100 appointments."), "rule")
    starts = []
    for moment in dates:
        wall = moment.replace(tzinfo=None)  # the local wall clock, whichever way dateutil built it
        starts.append(wall.replace(tzinfo=zone).astimezone(timezone.utc))
    return starts


def _check_all(session: Session, *, patient_id: int, doctor_id: int, service_id: int, first_start: datetime,
               rule: str, settings: ClinicSettings, now: datetime) -> list[Occurrence]:
    if not patient_id or session.get(Patient, patient_id) is None:
        raise ValidationFailed(_("Unknown patient."), "patient_id")
    doctor, service = doctor_and_service(session, doctor_id, service_id)
    duration = timedelta(minutes=service.duration_minutes)
    buffer = timedelta(minutes=settings.booking.buffer_minutes)
    occurrences: list[Occurrence] = []
    taken: list[tuple[datetime, datetime]] = []  # the visits of this series that can be booked
    for start in occurrence_starts(rule, first_start, settings):
        end = start + duration
        try:
            end = check_slot(session, doctor=doctor, service=service, patient_id=patient_id, start=start,
                             settings=settings, now=now, field="start")
        except (ValidationFailed, Conflict) as exc:
            occurrences.append(Occurrence(start, end, False, exc.message, exc.status))
            continue
        if any(start < e + buffer and s < end + buffer for s, e in taken):
            occurrences.append(Occurrence(start, end, False, _("Overlaps an earlier visit of this series."), 409))
            continue
        taken.append((start, end))
        occurrences.append(Occurrence(start, end, True))
    return occurrences


def preview_series(session: Session, *, patient_id: int, doctor_id: int, service_id: int, first_start: datetime,
                   rule: str, settings: ClinicSettings, now: datetime | None = None) -> list[Occurrence]:
    """Every date of the series, each checked like a single booking; nothing is written."""
    rule = normalise_rule(session, rule, settings)
    return _check_all(session, patient_id=patient_id, doctor_id=doctor_id, service_id=service_id,
                      first_start=first_start, rule=rule, settings=settings, now=now or settings.now())


def _describe(occurrence: Occurrence, settings: ClinicSettings) -> dict:
    return {"start": occurrence.start.astimezone(settings.timezone).isoformat(), "problem": occurrence.problem,
            "status": occurrence.status_code}


def book_series(session: Session, *, patient_id: int, doctor_id: int, service_id: int, first_start: datetime,
                rule: str, settings: ClinicSettings, actor_id: int | None, skip_conflicts: bool = False,
                channel: str = "walk_in", reason: str | None = None, notes: str | None = None,
                now: datetime | None = None) -> tuple[AppointmentSeries, list[Booking], list[Occurrence]]:
    """Book every date of the series in one transaction. If a date cannot be booked: nothing is
    written (SeriesConflict, 409, listing the dates and reasons), or with ``skip_conflicts`` the
    other dates are booked and the skipped ones returned."""
    now = now or settings.now()
    rule = normalise_rule(session, rule, settings)
    with committing(session):
        if patient_id and doctor_id:
            lock_for_booking(session, doctor_id, patient_id)
        occurrences = _check_all(session, patient_id=patient_id, doctor_id=doctor_id, service_id=service_id,
                                 first_start=first_start, rule=rule, settings=settings, now=now)
        problems = [o for o in occurrences if not o.ok]
        if problems and (not skip_conflicts or len(problems) == len(occurrences)):
            message = (_("No date of this series can be booked.") if len(problems) == len(occurrences)
                       else _("%(n)d of %(total)d dates cannot be booked.", n=len(problems), total=len(occurrences)))
            raise SeriesConflict(message, [_describe(o, settings) for o in problems])
        series = AppointmentSeries(patient_id=patient_id, doctor_id=doctor_id, service_id=service_id, rule=rule,
                                   created_by_id=actor_id)
        session.add(series)
        session.flush()
        appointments = [
            book_appointment(session, patient_id=patient_id, doctor_id=doctor_id, service_id=service_id,
                             start=o.start, settings=settings, actor_id=actor_id, channel=channel, reason=reason,
                             notes=notes, series_id=series.id, now=now, commit=False)
            for o in occurrences if o.ok
        ]
    appointment_hooks.series_booked([b.id for b in appointments], actor_id=actor_id)  # one notice for the series
    return series, appointments, [o for o in occurrences if not o.ok]


# --- cancelling the rest of a course -----------------------------------------------------------


def cancel_series_from(session: Session, appointment_id: int, *, actor_id: int | None, reason: str | None,
                       settings: ClinicSettings, include_this: bool = True,
                       now: datetime | None = None) -> list[Appointment]:
    """Cancel this visit (unless ``include_this`` is false) and every later one of its series that
    can still be cancelled, each through the workflow (history kept); one transaction."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if appointment.series_id is None:
        raise Conflict(_("This appointment is not part of a series."))
    if not (reason or "").strip():
        raise ValidationFailed(_("Say why the appointment is cancelled."), "reason")
    later = session.execute(select(Appointment).where(
        Appointment.series_id == appointment.series_id, Appointment.id != appointment.id,
        Appointment.start_at > appointment.start_at, Appointment.status.in_(CANCELLABLE_STATUSES),
    ).order_by(Appointment.start_at)).scalars().all()
    targets = ([appointment] if include_this else []) + list(later)
    with committing(session):
        for target in targets:
            apply_transition(session, target, target.status, "cancelled", actor_id=actor_id, settings=settings,
                             reason=reason, now=now)
    appointment_hooks.series_cancelled([t.id for t in targets], actor_id=actor_id)  # one notice for them all
    return targets
