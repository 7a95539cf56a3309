"""The front desk's waiting list (issue 13, items 2 and 3): today's patients per doctor in queue
order, and the steps that move the queue: check in (a queue number), call (the patient is asked
to the doctor's room), no-show, the doctor's "call next" and finish, and a walk-in booked and
checked in in one step.

States of a row on the board (``STATES``): expected (requested or confirmed, not arrived),
waiting (checked in, with a queue number and the minutes since check-in), called (checked in and
called: ``called_at``), in consultation, done (completed) and no-show. "Called" is two columns on
the appointment, not a status, so the appointment workflow (``booking.workflow``) stays as it was.

Two desks acting on one patient at once: one wins, the other gets a Conflict (409) naming what
happened. A call is one conditional UPDATE (``... WHERE called_at IS NULL``); check-in and no-show
take the doctor's booking lock and re-read the appointment inside it. After every commit the
queue's realtime hook (``realtime_hooks.queue_changed``) is told; a failing hook never fails the change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.models import Appointment, Department, Doctor, Patient, Service
from app.services import appointment_hooks, booking, encounters
from app.services.accounts.profile import full_name_of
from app.services.booking.clashes import lock_for_booking
from app.services.booking.workflow import apply_transition, record_event
from app.services.errors import Conflict, DomainError, NotFound, ValidationFailed, committing
from app.services.people import validate_patient
from app.services.queue_push import announce, queue_of
from app.services.schedule_rules import working_intervals
from app.services.settings import ClinicSettings

STATES = ("in_consultation", "called", "waiting", "expected", "done", "no_show")
SHOWN_STATUSES = ("requested", "confirmed", "checked_in", "in_consultation", "completed", "no_show")


# --- reading the board ---------------------------------------------------------------------------

@dataclass
class QueueRow:
    appointment_id: int
    state: str
    status: str
    queue_number: int | None
    patient_id: int
    patient_code: str
    patient_name: str
    service: str
    start_at: datetime  # aware UTC
    start: str  # HH:MM, clinic-local
    channel: str
    checked_in_at: datetime | None
    waiting_minutes: int | None  # waiting or called: since check-in
    called_at: datetime | None
    called_by: str | None
    called_time: str | None = None  # HH:MM, clinic-local
    can_no_show: bool = False  # "No-show" would be accepted now (``no_show_allowed``)
    mode: str = "in_person"  # a video visit: the patient waits in the call's waiting room, not here

    def as_json(self, settings: ClinicSettings) -> dict[str, Any]:
        def local(moment: datetime | None) -> str | None:
            return moment.astimezone(settings.timezone).strftime("%H:%M") if moment else None

        return {"appointment_id": self.appointment_id, "state": self.state, "status": self.status,
                "queue_number": self.queue_number, "patient_id": self.patient_id,
                "patient_code": self.patient_code, "patient_name": self.patient_name, "service": self.service,
                "start": self.start, "channel": self.channel, "checked_in_at": local(self.checked_in_at),
                "waiting_minutes": self.waiting_minutes, "called_at": local(self.called_at),
                "called_by": self.called_by, "can_no_show": self.can_no_show, "mode": self.mode}


@dataclass
class DoctorQueue:
    doctor_id: int
    name: str
    department_id: int | None
    department: str | None
    working: bool  # has working hours that day
    rows: list[QueueRow] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for row in self.rows if row.state == state)

    def as_json(self, settings: ClinicSettings) -> dict[str, Any]:
        return {"doctor_id": self.doctor_id, "name": self.name, "department_id": self.department_id,
                "department": self.department, "working": self.working,
                "counts": {state: self.count(state) for state in STATES},
                "rows": [row.as_json(settings) for row in self.rows]}


def state_of(appointment: Appointment) -> str:
    status = appointment.status
    if status == "checked_in":
        return "called" if appointment.called_at is not None else "waiting"
    if status == "completed":
        return "done"
    if status in ("requested", "confirmed"):
        return "expected"
    return status  # in_consultation, no_show


def no_show_allowed(appointment: Appointment, now: datetime) -> bool:
    """Whether ``mark_no_show`` accepts the appointment at ``now``: a checked-in (or called)
    patient who left, or a confirmed one whose time has passed. A request never confirmed, or a
    patient expected later, is not a no-show (the desk sees no button for them)."""
    return appointment.status == "checked_in" or (appointment.status == "confirmed" and appointment.start_at <= now)


def _sort_key(row: QueueRow) -> tuple:
    rank = STATES.index(row.state)
    if row.state in ("called", "waiting"):
        return rank, row.queue_number or 0, row.start_at
    return rank, row.start_at, row.queue_number or 0


def day_bounds(day: date, settings: ClinicSettings) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, settings.timezone)
    return start, start + timedelta(days=1)


def queue_board(session: Session, day: date, now: datetime, *, settings: ClinicSettings,
                doctor_ids: Iterable[int] | None = None, department_id: int | None = None) -> list[DoctorQueue]:
    """Each shown doctor's patients of clinic day ``day`` in queue order: in consultation, called,
    waiting (by queue number), expected (by time), done, no-show. Doctors shown: the active ones
    (of ``doctor_ids`` / ``department_id`` when given) who work that day or have patients that day."""
    start, end = day_bounds(day, settings)
    doctors_query = select(Doctor).where(Doctor.active.is_(True)).options(selectinload(Doctor.department)) \
        .order_by(Doctor.full_name, Doctor.id)
    wanted = [int(d) for d in doctor_ids] if doctor_ids else None
    if wanted:
        doctors_query = doctors_query.where(Doctor.id.in_(wanted))
    if department_id:
        doctors_query = doctors_query.where(Doctor.department_id == department_id)
    doctors = list(session.execute(doctors_query).scalars())
    if not doctors:
        return []
    appointments = list(session.execute(
        select(Appointment).where(Appointment.doctor_id.in_([d.id for d in doctors]),
                                  Appointment.start_at >= start, Appointment.start_at < end,
                                  Appointment.status.in_(SHOWN_STATUSES))
        .options(selectinload(Appointment.patient), selectinload(Appointment.service),
                 selectinload(Appointment.called_by))).scalars())
    by_doctor: dict[int, list[QueueRow]] = {}
    for a in appointments:
        state = state_of(a)
        waited = None
        if state in ("waiting", "called") and a.checked_in_at is not None:
            waited = max(0, int((now - a.checked_in_at).total_seconds() // 60))
        by_doctor.setdefault(a.doctor_id, []).append(QueueRow(
            appointment_id=a.id, state=state, status=a.status, queue_number=a.queue_number,
            patient_id=a.patient_id, patient_code=a.patient.code, patient_name=a.patient.full_name,
            service=a.service.name, start_at=a.start_at,
            start=a.start_at.astimezone(settings.timezone).strftime("%H:%M"), channel=a.channel,
            checked_in_at=a.checked_in_at, waiting_minutes=waited, called_at=a.called_at,
            called_by=staff_name(a.called_by) if a.called_by is not None else None,
            called_time=a.called_at.astimezone(settings.timezone).strftime("%H:%M") if a.called_at else None,
            can_no_show=no_show_allowed(a, now), mode=a.mode))
    board: list[DoctorQueue] = []
    for doctor in doctors:
        working = bool(working_intervals(session, doctor.id, day, day).get(day))
        rows = sorted(by_doctor.get(doctor.id, []), key=_sort_key)
        if not (working or rows or wanted):
            continue
        board.append(DoctorQueue(doctor.id, str(doctor), doctor.department_id,
                                 doctor.department.name if doctor.department else None, working, rows))
    return board


def filter_choices(session: Session) -> tuple[list[Doctor], list[Department]]:
    """The active doctors and the departments, for the board's filters."""
    doctors = list(session.execute(select(Doctor).where(Doctor.active.is_(True))
                                   .order_by(Doctor.full_name, Doctor.id)).scalars())
    departments = list(session.execute(select(Department).order_by(Department.name)).scalars())
    return doctors, departments


def active_services(session: Session) -> list[Service]:
    return list(session.execute(select(Service).where(Service.active.is_(True)).order_by(Service.name)).scalars())


# --- after a change --------------------------------------------------------------------------------

def clinic_day(moment: datetime, settings: ClinicSettings) -> date:
    return moment.astimezone(settings.timezone).date()


def _locked_appointment(session: Session, appointment_id: int) -> Appointment:
    """The appointment re-read inside its doctor's booking lock (a second desk waits here, then
    sees the first desk's change)."""
    doctor_id = session.execute(select(Appointment.doctor_id).where(Appointment.id == appointment_id)).scalar()
    if doctor_id is None:
        raise NotFound(_("No such appointment."))
    lock_for_booking(session, doctor_id, None)
    appointment = session.execute(select(Appointment).where(Appointment.id == appointment_id)
                                  .execution_options(populate_existing=True)).scalar_one()
    return appointment


def staff_name(user: Any) -> str:
    """A staff member as colleagues know them: the full name (as on their profile), else the login."""
    return full_name_of(user) or user.username


def _already(appointment: Appointment, settings: ClinicSettings) -> str:
    """What happened to an appointment someone else changed first, in a receptionist's words."""
    if appointment.status == "checked_in" and appointment.called_at is not None:
        who = staff_name(appointment.called_by) if appointment.called_by is not None else "?"
        return _("%(patient)s (number %(number)s) was already called by %(user)s at %(time)s.",
                 patient=appointment.patient.full_name, number=appointment.queue_number, user=who,
                 time=appointment.called_at.astimezone(settings.timezone).strftime("%H:%M"))
    if appointment.status == "checked_in":
        return _("%(patient)s is already checked in with number %(number)s.",
                 patient=appointment.patient.full_name, number=appointment.queue_number)
    return _("%(patient)s's appointment is now %(status)s; the list has been refreshed.",
             patient=appointment.patient.full_name, status=_(appointment.status))


# --- the desk's steps ------------------------------------------------------------------------------

def check_in(session: Session, appointment_id: int, actor_id: int | None, now: datetime, *,
             settings: ClinicSettings) -> Appointment:
    """The patient arrived: today's requested or confirmed appointment is checked in with the
    doctor's next queue number (a requested one is confirmed first, both steps in its history)."""
    with committing(session):
        appointment = _locked_appointment(session, appointment_id)
        if appointment.status not in ("requested", "confirmed"):
            raise Conflict(_already(appointment, settings), "status")
        if clinic_day(appointment.start_at, settings) != clinic_day(now, settings):
            raise Conflict(_("Only today's appointments can be checked in (this one is on %(day)s).",
                             day=clinic_day(appointment.start_at, settings).strftime("%d/%m/%Y")), "status")
        if appointment.status == "requested":
            apply_transition(session, appointment, "requested", "confirmed", actor_id=actor_id, settings=settings,
                             now=now)
        apply_transition(session, appointment, "confirmed", "checked_in", actor_id=actor_id, settings=settings,
                         now=now)
        queue = queue_of(appointment, settings)
    announce(*queue)
    return appointment


def call_patient(session: Session, appointment_id: int, actor_id: int | None, now: datetime, *,
                 settings: ClinicSettings) -> Appointment:
    """Call a checked-in patient to the doctor's room. One conditional UPDATE: of two desks
    calling at once, one wins and the other gets a Conflict saying who called and when."""
    with committing(session):
        done = session.execute(
            update(Appointment).where(Appointment.id == appointment_id, Appointment.status == "checked_in",
                                      Appointment.called_at.is_(None))
            .values(called_at=now, called_by_id=actor_id).execution_options(synchronize_session=False))
        appointment = session.execute(select(Appointment).where(Appointment.id == appointment_id)
                                      .execution_options(populate_existing=True)).scalar_one_or_none()
        if appointment is None:
            raise NotFound(_("No such appointment."))
        if getattr(done, "rowcount", 0) != 1:
            if appointment.status in ("requested", "confirmed"):
                raise Conflict(_("Check %(patient)s in before calling them.",
                                 patient=appointment.patient.full_name), "status")
            raise Conflict(_already(appointment, settings), "status")
        record_event(session, appointment, "checked_in", "checked_in", actor_id, _("Called"))
        queue = queue_of(appointment, settings)
    announce(*queue)
    return appointment


def call_next(session: Session, doctor_id: int, actor_id: int | None, now: datetime, *,
              settings: ClinicSettings) -> Appointment:
    """Call the doctor's next waiting patient of today (the lowest queue number not yet called).
    Video visits are not called to a room: the doctor admits them from the call's waiting room."""
    if session.get(Doctor, doctor_id) is None:
        raise NotFound(_("No such doctor."))
    start, end = day_bounds(clinic_day(now, settings), settings)
    with committing(session):
        lock_for_booking(session, doctor_id, None)
        appointment = session.execute(
            select(Appointment).where(Appointment.doctor_id == doctor_id, Appointment.status == "checked_in",
                                      Appointment.called_at.is_(None), Appointment.start_at >= start,
                                      Appointment.start_at < end, Appointment.mode != "video")
            .order_by(Appointment.queue_number, Appointment.start_at).limit(1)
            .execution_options(populate_existing=True)).scalar_one_or_none()
        if appointment is None:
            raise Conflict(_("Nobody is waiting: every checked-in patient has been called."), "doctor_id")
        appointment.called_at, appointment.called_by_id = now, actor_id
        record_event(session, appointment, "checked_in", "checked_in", actor_id, _("Called"))
        queue = queue_of(appointment, settings)
    announce(*queue)
    return appointment


def mark_no_show(session: Session, appointment_id: int, actor_id: int | None, now: datetime, *,
                 settings: ClinicSettings) -> Appointment:
    """The patient did not come: a confirmed appointment once its time has passed, or a checked-in
    (or called) patient who left."""
    with committing(session):
        appointment = _locked_appointment(session, appointment_id)
        if appointment.status == "requested":
            raise Conflict(_("%(patient)s's appointment was requested but never confirmed: check them in when "
                             "they arrive, or cancel the request.", patient=appointment.patient.full_name),
                           "status")
        if appointment.status not in ("confirmed", "checked_in"):
            raise Conflict(_already(appointment, settings), "status")
        if appointment.status == "confirmed" and appointment.start_at > now:
            raise Conflict(_("%(patient)s is expected at %(time)s: mark a no-show only after that time.",
                             patient=appointment.patient.full_name,
                             time=appointment.start_at.astimezone(settings.timezone).strftime("%H:%M")), "status")
        apply_transition(session, appointment, appointment.status, "no_show", actor_id=actor_id, settings=settings,
                         now=now)
        queue = queue_of(appointment, settings)
    announce(*queue)
    return appointment


def doctor_call_next(session: Session, user: Any, now: datetime, *, settings: ClinicSettings) -> Appointment:
    """My day's "Call next": the user's own doctor's next waiting patient."""
    doctor = encounters.doctor_of(session, user)
    if doctor is None:
        from app.services.errors import Forbidden

        raise Forbidden(_("Your login is not linked to a doctor."))
    return call_next(session, doctor.id, user.id, now, settings=settings)


def finish_visit(session: Session, appointment_id: int, user: Any, now: datetime, *,
                 settings: ClinicSettings) -> Appointment:
    """The doctor's "finish": ``encounters.finish_visit`` (which tells the queue's hook)."""
    return encounters.finish_visit(session, appointment_id, user, now, settings=settings)


# --- walk-ins --------------------------------------------------------------------------------------

@dataclass
class NewPatient:
    full_name: str
    phone: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None


def _waiting_count(session: Session, doctor_id: int, start: datetime, end: datetime) -> int:
    return len(session.execute(select(Appointment.id).where(
        Appointment.doctor_id == doctor_id, Appointment.status == "checked_in",
        Appointment.start_at >= start, Appointment.start_at < end)).all())


def walk_in_candidates(session: Session, service: Service, doctor_id: int | None, now: datetime,
                       settings: ClinicSettings) -> list[tuple[Doctor, booking.Slot]]:
    """Who can see the walk-in, soonest first: each doctor (the chosen one, or the active doctors
    offering the service, of its department when it has one) with their first free time today
    from the slot in progress on; ties go to the shorter queue."""
    if doctor_id:
        doctor = session.get(Doctor, doctor_id)
        if doctor is None or not doctor.active:
            raise ValidationFailed(_("Unknown doctor."), "doctor_id")
        if service not in doctor.services:
            raise ValidationFailed(_("%(doctor)s does not offer %(service)s.", doctor=str(doctor),
                                     service=service.name), "doctor_id")
        doctors = [doctor]
    else:
        doctors = [d for d in service.doctors if d.active
                   and (service.department_id is None or d.department_id == service.department_id)]
    today = clinic_day(now, settings)
    start, end = day_bounds(today, settings)
    found: list[tuple[tuple, Doctor, booking.Slot]] = []
    for doctor in doctors:
        slots = booking.free_slots(session, doctor_id=doctor.id, service_id=service.id, date_from=today,
                                   date_to=today, settings=settings, now=now, by_patient=False)
        if slots:
            found.append(((slots[0].start, _waiting_count(session, doctor.id, start, end), doctor.id),
                          doctor, slots[0]))
    found.sort(key=lambda item: item[0])
    return [(doctor, slot) for _key, doctor, slot in found]


def _new_patient(session: Session, new: NewPatient, settings: ClinicSettings) -> Patient:
    patient = Patient(full_name=new.full_name, phone=new.phone or None, date_of_birth=new.date_of_birth,
                      sex=new.sex or None)
    validate_patient(session, patient, settings)
    session.add(patient)
    session.flush()
    return patient


def _not_already_waiting(session: Session, patient: Patient, now: datetime, settings: ClinicSettings) -> None:
    """A patient still in a queue today (checked in, called or with the doctor) is not walked in a
    second time by mistake: a second visit the same day waits until the first is over."""
    start, end = day_bounds(clinic_day(now, settings), settings)
    waiting = session.execute(
        select(Appointment).where(Appointment.patient_id == patient.id, Appointment.start_at >= start,
                                  Appointment.start_at < end,
                                  Appointment.status.in_(("checked_in", "in_consultation")))
        .order_by(Appointment.start_at)).scalars().first()
    if waiting is not None:
        raise Conflict(_("%(patient)s is already in %(doctor)s's queue today (number %(number)s). Finish or "
                         "cancel that visit first.", patient=patient.full_name, doctor=str(waiting.doctor),
                         number=waiting.queue_number or "–"), "patient_id")


def walk_in(session: Session, *, service_id: int, actor_id: int | None, now: datetime, settings: ClinicSettings,
            patient_id: int | None = None, new_patient: NewPatient | None = None, doctor_id: int | None = None,
            reason: str | None = None) -> Appointment:
    """A patient at the desk without an appointment, in one transaction: the patient found
    (``patient_id``) or registered (``new_patient``), an appointment for the service with the
    chosen doctor or the first free one, starting now (the slot in progress, or the doctor's next
    free time today), checked in with a queue number. Staff bookings have no minimum notice; they
    never overlap another visit (the booking's clash checks, PostgreSQL's exclusion constraints)."""
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    if patient_id is None and new_patient is None:
        raise ValidationFailed(_("Find the patient or enter the new patient's name."), "patient_id")
    with committing(session):
        if patient_id is not None:
            patient = session.get(Patient, patient_id)
            if patient is None:
                raise ValidationFailed(_("Unknown patient."), "patient_id")
            _not_already_waiting(session, patient, now, settings)
        else:
            assert new_patient is not None
            patient = _new_patient(session, new_patient, settings)
        candidates = walk_in_candidates(session, service, doctor_id, now, settings)
        if not candidates:
            if doctor_id:
                raise Conflict(_("%(doctor)s has no free time left today for %(service)s; choose another "
                                 "doctor.", doctor=str(session.get(Doctor, doctor_id)), service=service.name),
                               "doctor_id")
            raise Conflict(_("No doctor offering %(service)s has free time left today.", service=service.name),
                           "doctor_id")
        booked = None
        last_error: DomainError | None = None
        for doctor, slot in candidates[:3]:  # a desk booking the same time first: try the next one
            try:
                booked = booking.book_appointment(
                    session, patient_id=patient.id, doctor_id=doctor.id, service_id=service.id, start=slot.start,
                    settings=settings, actor_id=actor_id, channel="walk_in", status="confirmed", reason=reason,
                    now=now, commit=False, by_patient=False)
                break
            except Conflict as exc:
                last_error = exc
        if booked is None:
            assert last_error is not None
            raise last_error
        appointment = session.get(Appointment, booked.id)
        assert appointment is not None
        lock_for_booking(session, appointment.doctor_id, None)
        apply_transition(session, appointment, "confirmed", "checked_in", actor_id=actor_id, settings=settings,
                         now=now)
        appointment_id, queue = appointment.id, queue_of(appointment, settings)
    appointment_hooks.appointment_booked(appointment_id, actor_id=actor_id)
    announce(*queue)
    return appointment


def find_patients(session: Session, text: str, region: str, limit: int = 10) -> list[Patient]:
    """Patients whose name (accents ignored: "nguyen thi hong" finds "Nguyễn Thị Hồng"), code or
    phone match ``text``; the walk-in form's search."""
    from app.services.lookup import patient_condition

    text = (text or "").strip()
    if len(text) < 2:
        return []
    return list(session.execute(select(Patient).where(or_(patient_condition(text, region)))
                                .order_by(Patient.full_name, Patient.id).limit(limit)).scalars())
