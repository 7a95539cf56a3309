"""The generic screens and REST resources (FAB create/edit of appointments and series) go through
the same checks as ``book_appointment`` and the same workflow as ``transition_appointment``:
``app.services.rules`` registers these validators."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import event as sa_event, inspect
from sqlalchemy.orm import InstanceState, Session

from app.models import Appointment, AppointmentEvent, AppointmentSeries
from app.services import appointment_hooks
from app.services.booking.checks import check_slot
from app.services.booking.clashes import lock_for_booking
from app.services.booking.lookups import doctor_and_service, to_local
from app.services.booking.modes import resolve_mode
from app.services.booking.repeat_rules import check_repeat_rule
from app.services.booking.workflow import INITIAL_STATUSES, apply_transition, can_move, record_event
from app.services.errors import Conflict, ValidationFailed
from app.services.settings import ClinicSettings

# Changes a generic edit made that the patient and staff are told of once it is committed:
# (appointment id, event, its history row, old start), in ``session.info``.
PENDING_NOTICES = "appointment_notices"
_WHERE_AND_WHO = ("start_at", "end_at", "doctor_id", "doctor", "service_id", "service", "patient_id", "patient")


def validate_appointment(session: Session, appointment: Appointment, settings: ClinicSettings) -> None:
    """A new appointment is booked like any other (inside the booking lock; its end follows from
    the service); an edit that moves it is checked like a move, and a status change follows the
    workflow."""
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
    doctor, service = doctor_and_service(session, doctor_id, service_id)
    state: InstanceState[Appointment] = inspect(appointment)
    # No check of the end against the start here: neither the screen nor the REST resource takes
    # an end (it follows from the service). A new or moved appointment's end is recomputed by
    # ``check_slot`` below; comparing the new start with the old end refused every move to a later time.
    if state.transient or state.pending:
        status = appointment.status or "confirmed"
        if status not in INITIAL_STATUSES:
            raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
        appointment.status = status
        appointment.mode = resolve_mode(service.visit_modes, appointment.mode)
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings)
        record_event(session, appointment, None, status, None)
        return
    moved = any(state.attrs[key].history.has_changes() for key in _WHERE_AND_WHO)
    if state.attrs.mode.history.has_changes() or state.attrs.service_id.history.has_changes() \
            or state.attrs.service.history.has_changes():
        appointment.mode = resolve_mode(service.visit_modes, appointment.mode)
    history = state.attrs.status.history
    old_status = history.deleted[0] if history.deleted else appointment.status
    start_history = state.attrs.start_at.history
    old_start = start_history.deleted[0] if start_history.deleted else None
    notices: list[tuple[str, AppointmentEvent, datetime | None]] = []
    if moved:
        if not can_move(old_status):
            raise Conflict(_("Only requested or confirmed appointments can be moved."), "start_at")
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings,
                                        ignore_appointment_id=appointment.id)
        if old_start is not None:  # as ``reschedule_appointment``: the history says so, the patient is told
            note = _("Moved from %(old)s", old=f"{to_local(old_start, settings):%Y-%m-%d %H:%M}")
            notices.append(("moved", record_event(session, appointment, old_status, old_status, None, note),
                            old_start))
    if appointment.status != old_status:
        event = apply_transition(session, appointment, old_status, appointment.status, actor_id=None,
                                 settings=settings, reason=appointment.cancel_reason)
        if appointment.status == "cancelled":  # a cancellation is the only news, whatever else changed
            notices = [("cancelled", event, None)]
        elif appointment.status == "confirmed":
            notices.append(("confirmed", event, None))
    if notices:
        pending = session.info.setdefault(PENDING_NOTICES, [])
        pending += [(appointment.id, name, event, old) for name, event, old in notices]


def announce_appointment_changes(session: Session, actor_id: int | None) -> None:
    """After the commit of a generic edit (screen or REST resource): the patient and staff are told
    of the moves, confirmations and cancellations ``validate_appointment`` saw, as when the booking
    services make them (``app.services.appointment_hooks``). A generic *creation* tells nobody: the
    test factories and imports create appointments that way everywhere, and the booking services
    (which do tell) are the way a visit is booked."""
    for appointment_id, name, event, old_start in session.info.pop(PENDING_NOTICES, []):
        appointment_hooks.appointment_changed(appointment_id, name, actor_id=actor_id, event_id=event.id,
                                              old_start=old_start)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_NOTICES, None)


def validate_appointment_series(session: Session, series: AppointmentSeries, settings: ClinicSettings) -> None:
    """The repeat rule is an RFC 5545 RRULE with an end (COUNT or UNTIL): a course has a last visit."""
    series.rule = check_repeat_rule(series.rule)
