"""The generic screens and REST resources (FAB create/edit of appointments and series) go through
the same checks as ``book_appointment`` and the same workflow as ``transition_appointment``:
``app.services.rules`` registers these validators."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState, Session

from app.models import Appointment, AppointmentSeries
from app.services.booking.checks import check_slot
from app.services.booking.clashes import lock_for_booking
from app.services.booking.lookups import doctor_and_service
from app.services.booking.repeat_rules import check_repeat_rule
from app.services.booking.workflow import INITIAL_STATUSES, apply_transition, can_move, record_event
from app.services.errors import Conflict, ValidationFailed
from app.services.settings import ClinicSettings

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
        record_event(session, appointment, None, status, None)
        return
    moved = any(state.attrs[key].history.has_changes() for key in _WHERE_AND_WHO)
    history = state.attrs.status.history
    old_status = history.deleted[0] if history.deleted else appointment.status
    if moved:
        if not can_move(old_status):
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
    series.rule = check_repeat_rule(series.rule)
