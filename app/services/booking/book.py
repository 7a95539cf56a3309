"""Booking one appointment: the one path every entry point takes (back office, public site, REST
API, chat, series)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app import audit
from app.models.scheduling import CHANNELS
from app.models.types import utcnow
from app.services import appointment_hooks, cache, cache_hooks, outbox
from app.services.booking.checks import check_hours, check_time
from app.services.booking.clashes import in_the_way_params, refuse_clash
from app.services.booking.lookups import doctor_and_service, to_local
from app.services.booking.modes import check_mode_shape, resolve_mode
from app.services.booking.statement import book_in_one_round_trip, book_step_by_step
from app.services.booking.workflow import INITIAL_STATUSES
from app.services.dashboards import rollups
from app.services.errors import Conflict, Forbidden, ValidationFailed, committing
from app.services.schedule_rules import split_day_rules
from app.services.settings import ClinicSettings


@dataclass(frozen=True, slots=True)
class Booking:
    """What ``book_appointment`` wrote: the new appointment's values (load the Appointment by
    ``id`` for its relationships)."""
    id: int
    patient_id: int
    doctor_id: int
    service_id: int
    start_at: datetime  # aware UTC
    end_at: datetime
    status: str
    channel: str
    mode: str  # in_person or video
    reason: str | None
    notes: str | None
    series_id: int | None
    created_by_id: int | None
    created_at: datetime
    queue_number: None = None  # given at check-in


# Channels on which patients book themselves: the minimum notice applies to them only.
PATIENT_CHANNELS = ("online", "chat")


def _initial_status(channel: str, status: str | None, settings: ClinicSettings) -> str:
    if channel not in CHANNELS:
        raise ValidationFailed(_("Unknown channel."), "channel")
    if status is None:
        online = channel == "online"
        if online and not settings.booking.online_enabled:
            raise Forbidden(_("Online booking is switched off; please call the clinic."))
        status = "requested" if online and settings.booking.online_needs_confirmation else "confirmed"
    if status not in INITIAL_STATUSES:
        raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
    return status


def _write(session: Session, values: dict[str, Any], settings: ClinicSettings) -> tuple[int | None, Sequence[Any]]:
    """Insert the booking if it is bookable and free; return its id (None if not) and the facts
    rows (see ``statement.FACTS_AND_RULES``) the caller must still check."""
    connection = session.connection()
    start, day = values["start_at"], to_local(values["start_at"], settings).date()
    params = {**{f"v_{key}": value for key, value in values.items()},
              **in_the_way_params(values["doctor_id"], values["patient_id"], start, start, settings, None),
              "v_buffer_minutes": settings.booking.buffer_minutes,
              "doctor_id": values["doctor_id"], "service_id": values["service_id"],
              "patient_id": values["patient_id"], "weekday": day.weekday(), "day": day}
    del params["v_end_at"], params["c_until"]  # they follow from the service's length, read with the facts
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        user_id, ip = audit.actor()
        return book_in_one_round_trip(connection, {**params, "audit_user": user_id, "audit_ip": ip})
    return book_step_by_step(connection, params)


def book_appointment(session: Session, *, patient_id: int, doctor_id: int, service_id: int, start: datetime,
                     settings: ClinicSettings, actor_id: int | None = None, channel: str = "walk_in",
                     reason: str | None = None, notes: str | None = None, status: str | None = None,
                     series_id: int | None = None, now: datetime | None = None, commit: bool = True,
                     by_patient: bool | None = None, mode: str | None = None) -> Booking:
    """Book one appointment, or raise why not (ValidationFailed 422, Conflict 409). With ``commit``
    it is its own transaction, else a savepoint in the caller's: either way a refusal leaves
    nothing written. The row is written first and the working hours checked after (rolled back if
    they fail), so a booking costs the database what a bare INSERT costs in round trips, plus one
    for its outbox event (the booking statement has no room left under psycopg's cache limit).
    ``by_patient`` (default: the channel is ``online`` or ``chat``): the patient books themselves,
    so the minimum notice applies; staff bookings (walk-in, phone) may start in the slot in progress.
    ``mode``: ``in_person`` or ``video``, as the service is offered (None: the service's default,
    video for a video-only service)."""
    status = _initial_status(channel, status, settings)
    mode = check_mode_shape(mode)
    if by_patient is None:
        by_patient = channel in PATIENT_CHANNELS
    start = check_time(start, settings, now or settings.now(), "start_at", by_patient)
    if not (doctor_id and service_id):
        doctor_and_service(session, doctor_id, service_id)  # raises the exact reason
    if not patient_id:
        raise ValidationFailed(_("Unknown patient."), "patient_id")
    values: dict[str, Any] = {
        "patient_id": patient_id, "doctor_id": doctor_id, "service_id": service_id, "start_at": start,
        "status": status, "channel": channel, "mode": mode, "reason": reason, "notes": notes, "series_id": series_id,
        "created_by_id": actor_id, "created_at": utcnow()}
    with committing(session) if commit else session.begin_nested():
        # Written with SQL the ORM does not see: the doctor's free slots are stale after the commit.
        cache_hooks.touch(session, cache.SLOTS, doctor_id)
        appointment_id, rows = _write(session, values, settings)
        if appointment_id is not None:  # the dashboards' rollups of its day, before the commit
            rollups.note_appointment(session, appointment_id, day_only=status not in rollups.VISIT_STATUSES)
        facts = rows[0] if rows else None
        if facts is None or not (facts.doctor_active and facts.service_active and facts.offers):
            doctor_and_service(session, doctor_id, service_id)  # raises the exact reason
            raise ValidationFailed(_("Unknown doctor."), "doctor_id")
        if not facts.patient_known:
            raise ValidationFailed(_("Unknown patient."), "patient_id")
        values["mode"] = resolve_mode(facts.visit_modes, mode)  # the row holds it already: a refusal rolls back
        end = start + timedelta(minutes=facts.duration_minutes)
        weekly, exceptions = split_day_rules(rows)
        check_hours(session, doctor_id, start, end, settings, "start_at", weekly, exceptions)
        if appointment_id is None:
            refuse_clash(session, doctor_id, patient_id, start, end, settings, None, "start_at")
            raise Conflict(_("This time was just taken by another booking. Please choose another time."), "start_at")
        # Its event, in the same transaction (the statement above is SQL the outbox's listener does not see).
        outbox.record(session, "appointment.booked", "appointment", appointment_id, {
            "appointment_id": appointment_id, "patient_id": patient_id, "doctor_id": doctor_id,
            "service_id": service_id, "start_at": start, "end_at": end, "status": status, "channel": channel,
            "mode": values["mode"]}, values["created_at"], new_aggregate=True)
    if commit:  # after the commit: the patient and staff are told (a series tells once for all its visits)
        appointment_hooks.appointment_booked(appointment_id, actor_id=actor_id)
    return Booking(id=appointment_id, end_at=end, **values)
