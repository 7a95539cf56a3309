"""The appointment workflow: its statuses and legal steps, which appointments can be moved or
cancelled, queue numbers at check-in, and the history every change leaves."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import event as sa_event, func, select
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentEvent
from app.services import appointment_hooks
from app.services.booking.checks import check_slot
from app.services.booking.clashes import lock_for_booking
from app.services.booking.lookups import doctor_and_service, load_appointment, to_local
from app.services.commit_hooks import after_commit_released
from app.services.errors import Conflict, Forbidden, ValidationFailed, commit as commit_or_raise
from app.services.settings import ClinicSettings

TRANSITIONS: dict[str, set[str]] = {
    "requested": {"confirmed", "cancelled"},
    "confirmed": {"checked_in", "cancelled", "no_show"},
    "checked_in": {"in_consultation", "cancelled", "no_show"},
    "in_consultation": {"completed"},
    "completed": set(),
    "cancelled": set(),
    "no_show": set(),
}
INITIAL_STATUSES = ("requested", "confirmed")  # what a new appointment can be
MOVABLE_STATUSES = ("requested", "confirmed")  # what can be given another time or doctor
CANCELLABLE_STATUSES = tuple(status for status, targets in TRANSITIONS.items() if "cancelled" in targets)


def next_statuses(status: str) -> set[str]:
    """The statuses an appointment that is ``status`` can move to (none for an unknown status)."""
    return set(TRANSITIONS.get(status, ()))


def can_move(status: str) -> bool:
    return status in MOVABLE_STATUSES


def can_cancel(status: str) -> bool:
    return status in CANCELLABLE_STATUSES


def record_event(session: Session, appointment: Appointment, old: str | None, new: str, actor_id: int | None,
                 note: str | None = None, at: datetime | None = None) -> AppointmentEvent:
    """Add the appointment's history event for a change ``old -> new`` (old None: created), at
    ``at`` (the change's ``now``; default: the clock). The waiting room measures consultations
    from these times (``app.services.waiting_room``)."""
    event = AppointmentEvent(appointment=appointment, from_status=old, to_status=new, actor_id=actor_id, note=note,
                             **({"at": at} if at is not None else {}))
    session.add(event)
    return event


def next_queue_number(session: Session, doctor_id: int, day: date) -> int:
    current = session.execute(select(func.max(Appointment.queue_number)).where(
        Appointment.doctor_id == doctor_id, Appointment.queue_date == day)).scalar()
    return (current or 0) + 1


def check_patient_cutoff(appointment: Appointment, settings: ClinicSettings, now: datetime) -> None:
    """Patients change their appointments themselves only until the clinic's cut-off before it."""
    if appointment.start_at - now < settings.booking.patient_cutoff:
        hours = int(settings.booking.patient_cutoff.total_seconds() // 3600)
        raise Conflict(_("Changes online are possible until %(n)d hours before the appointment; please call the "
                         "clinic.", n=hours))


def apply_transition(session: Session, appointment: Appointment, old: str, new: str, *, actor_id: int | None,
                     settings: ClinicSettings, reason: str | None = None,
                     now: datetime | None = None) -> AppointmentEvent:
    """Check and apply ``old -> new`` on ``appointment`` (status already set or not); no commit.
    Returns the history event it added."""
    if new not in TRANSITIONS:
        raise ValidationFailed(_("Unknown status."), "status")
    if new not in TRANSITIONS.get(old, set()):
        raise Conflict(_("An appointment that is %(old)s cannot become %(new)s.", old=_(old), new=_(new)), "status")
    now = now or settings.now()
    appointment.status = new
    if new == "checked_in":
        day = to_local(appointment.start_at, settings).date()
        lock_for_booking(session, appointment.doctor_id, None)
        appointment.queue_date = day
        appointment.queue_number = next_queue_number(session, appointment.doctor_id, day)
        appointment.checked_in_at = now
    elif new == "cancelled":
        appointment.cancelled_at = now
        appointment.cancelled_by_id = actor_id
        appointment.cancel_reason = reason or appointment.cancel_reason
    elif new == "completed":  # after the commit, the patient is invited to review the visit
        session.info.setdefault(COMPLETED_KEY, set()).add(appointment.id)
    return record_event(session, appointment, old, new, actor_id, reason, at=now)


COMPLETED_KEY = "completed_visit_ids"


@after_commit_released  # the invitation is written in a session of its own
def _invite_reviews(session: Session) -> None:
    for appointment_id in sorted(session.info.pop(COMPLETED_KEY, ())):
        appointment_hooks.visit_completed(appointment_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_completed(session: Session) -> None:
    session.info.pop(COMPLETED_KEY, None)


def transition_appointment(session: Session, appointment_id: int, to_status: str, *, actor_id: int | None,
                           settings: ClinicSettings, reason: str | None = None, by_patient: bool = False,
                           now: datetime | None = None) -> Appointment:
    """Move an appointment along its workflow (confirm, check in, start, complete, cancel, no-show)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if by_patient:
        if to_status != "cancelled":
            raise Forbidden(_("Patients can only cancel their appointments."))
        check_patient_cutoff(appointment, settings, now)
    if to_status == "cancelled" and not (reason or "").strip():
        raise ValidationFailed(_("Say why the appointment is cancelled."), "reason")
    event = apply_transition(session, appointment, appointment.status, to_status, actor_id=actor_id,
                             settings=settings, reason=reason, now=now)
    commit_or_raise(session)
    if to_status in ("confirmed", "cancelled"):  # after the commit: the patient and staff are told
        appointment_hooks.appointment_changed(appointment.id, to_status, actor_id=actor_id, by_patient=by_patient,
                                              event_id=event.id)
    return appointment


def reschedule_appointment(session: Session, appointment_id: int, new_start: datetime, *,
                           actor_id: int | None, settings: ClinicSettings, doctor_id: int | None = None,
                           by_patient: bool = False, now: datetime | None = None) -> Appointment:
    """Move an appointment; the new time is checked like a new booking, and if it is taken the
    old one is kept (nothing changes)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if not can_move(appointment.status):
        raise Conflict(_("Only requested or confirmed appointments can be moved."))
    if by_patient:
        check_patient_cutoff(appointment, settings, now)
    doctor, service = doctor_and_service(session, doctor_id or appointment.doctor_id, appointment.service_id)
    lock_for_booking(session, doctor.id, appointment.patient_id)
    end = check_slot(session, doctor=doctor, service=service, patient_id=appointment.patient_id, start=new_start,
                     settings=settings, now=now, ignore_appointment_id=appointment.id,
                     by_patient=by_patient)
    old_start = appointment.start_at
    appointment.doctor_id, appointment.start_at, appointment.end_at = doctor.id, new_start.astimezone(timezone.utc), end
    event = record_event(session, appointment, appointment.status, appointment.status, actor_id,
                         _("Moved from %(old)s", old=f"{to_local(old_start, settings):%Y-%m-%d %H:%M}"))
    commit_or_raise(session)
    appointment_hooks.appointment_changed(appointment.id, "moved", actor_id=actor_id, by_patient=by_patient,
                                          event_id=event.id, old_start=old_start)
    return appointment
