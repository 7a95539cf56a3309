"""Demo step after the bulk seed: today as the front desk lives it at the moment of seeding.

The seed books about ``TODAY_TARGET`` appointments today (appointments.py); this step plays the day
up to ``now`` through the workflow's own services, so every status has its history and queue number
as if the desk and the doctors had clicked: patients arrive a little before their time and are
checked in (``front_desk.check_in``, the doctor's next queue number), each doctor sees one patient
at a time in queue order (checked_in -> in_consultation with the visit's draft record, then
completed), one patient booked earlier today never came (``front_desk.mark_no_show``). What is
left at ``now``: patients done earlier, one in consultation with some doctors, others checked in and
waiting, the rest expected later. Seeded before the clinic opens, the day has not begun; seeded
after closing, it is over (nothing is placed in the future)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentEvent, Encounter, Patient
from app.services import front_desk
from app.services.booking.workflow import apply_transition
from app.services.errors import DomainError, committing
from app.services.settings import ClinicSettings

WALK_INS = 6


@dataclass(frozen=True)
class _Step:
    at: datetime
    order: int  # same instant: check-ins before starts before finishes
    appointment_id: int  # a walk-in: the booked appointment whose service and patient's age it copies
    action: str  # check_in | start | finish | no_show | walk_in


def plan_day(appointments: list[Appointment], now: datetime, rng: random.Random) -> list[_Step]:
    """The day's steps up to ``now`` (nothing after it), per doctor in the order of the bookings."""
    steps: list[_Step] = []
    by_doctor: dict[int, list[Appointment]] = {}
    for a in sorted(appointments, key=lambda a: (a.start_at, a.id)):
        by_doctor.setdefault(a.doctor_id, []).append(a)
    # One no-show: the first confirmed booking whose time is well past (a requested one is not a no-show).
    no_show = next((a.id for a in sorted(appointments, key=lambda a: a.start_at)
                    if a.status == "confirmed" and a.end_at + timedelta(minutes=30) <= now), None)
    for queue in by_doctor.values():
        free_at: datetime | None = queue[0].start_at - timedelta(hours=1)  # None: busy until after now
        for a in queue:
            if a.id == no_show:
                steps.append(_Step(min(now, a.end_at + timedelta(minutes=rng.randint(15, 30))), 0, a.id, "no_show"))
                continue
            arrival = a.start_at - timedelta(minutes=rng.randint(5, 45))  # Vietnamese patients come early
            if arrival > now:
                continue  # expected later
            steps.append(_Step(arrival, 0, a.id, "check_in"))
            if free_at is None:
                continue  # the doctor is still with an earlier patient: this one waits
            seen = max(arrival, a.start_at, free_at) + timedelta(minutes=rng.randint(0, 8))
            if seen > now:
                continue  # waiting
            steps.append(_Step(seen, 1, a.id, "start"))
            done = seen + max(a.end_at - a.start_at + timedelta(minutes=rng.randint(-4, 6)), timedelta(minutes=5))
            if done > now:
                free_at = None  # in consultation now
                continue
            steps.append(_Step(done, 2, a.id, "finish"))
            free_at = done
    # Walk-ins in the last half hour, still waiting (the desk books them through front_desk.walk_in).
    day_start = min((a.start_at for a in appointments), default=now)
    if appointments and now - timedelta(minutes=30) > day_start:
        for _ in range(WALK_INS):
            like = appointments[int(rng.random() * len(appointments))]
            steps.append(_Step(now - timedelta(minutes=rng.randint(2, 30)), 0, like.id, "walk_in"))
    return sorted(steps, key=lambda s: (s.at, s.order, s.appointment_id))


def _walk_in(session: Session, settings: ClinicSettings, step: _Step, *, booked: set[int],
             rng: random.Random) -> None:
    """A patient without a booking today, of about the age of the booked patient ``step`` copies,
    walked in for the same service; skipped when no doctor has time left (``Conflict``)."""
    like = session.get(Appointment, step.appointment_id)
    assert like is not None
    born = like.patient.date_of_birth
    query = select(Patient.id).where(Patient.id.not_in(booked)).order_by(Patient.id)
    if born is not None:
        query = query.where(Patient.date_of_birth.between(born - timedelta(days=3000), born + timedelta(days=3000)))
    ids = list(session.execute(query).scalars())
    if not ids:
        return
    patient_id = ids[int(rng.random() * len(ids))]
    try:
        appointment = front_desk.walk_in(session, service_id=like.service_id, actor_id=None, now=step.at,
                                         settings=settings, patient_id=patient_id, reason=like.reason)
    except DomainError:
        session.rollback()
        return
    booked.add(appointment.patient_id)
    # The booking hook dates the "created" event by the wall clock (app/services/booking/hooks.py
    # ignores the booking's ``now``): back to the walk-in's time, before its check-in.
    with committing(session):
        for event in session.execute(select(AppointmentEvent).where(
                AppointmentEvent.appointment_id == appointment.id, AppointmentEvent.from_status.is_(None))).scalars():
            event.at = step.at
        appointment.created_at = step.at


def _free_doctors_take_the_next(session: Session, settings: ClinicSettings, now: datetime, start: datetime,
                                end: datetime, rng: random.Random) -> None:
    """A doctor with nobody in consultation takes the lowest queue number whose time has come (a
    walk-in in the slot in progress, or a booked patient the plan left waiting) once the patient has
    been there a few minutes."""
    rows = list(session.execute(select(Appointment).where(
        Appointment.start_at >= start, Appointment.start_at < end,
        Appointment.status.in_(("checked_in", "in_consultation"))).order_by(Appointment.queue_number)).scalars())
    busy = {a.doctor_id for a in rows if a.status == "in_consultation"}
    for a in rows:
        if a.doctor_id in busy or a.status != "checked_in" or a.start_at > now or a.checked_in_at is None:
            continue
        if a.checked_in_at > now - timedelta(minutes=12):
            continue  # just arrived: still filling in forms, having the blood pressure taken
        at = min(now, max(a.checked_in_at, a.start_at) + timedelta(minutes=rng.randint(1, 5)))
        busy.add(a.doctor_id)
        with committing(session):
            apply_transition(session, a, "checked_in", "in_consultation", actor_id=None, settings=settings, now=at)
            session.add(Encounter(patient_id=a.patient_id, doctor_id=a.doctor_id, appointment_id=a.id,
                                  chief_complaint=a.reason, created_at=at, updated_at=at))


def seed_front_desk_day(session: Session, settings: ClinicSettings, now: datetime, *, seed: int = 42,
                        progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Play today up to ``now`` (see the module's text); return how many appointments end in each
    state. Each step commits, as the desk's clicks do."""
    rng = random.Random(seed)
    start, end = front_desk.day_bounds(front_desk.clinic_day(now, settings), settings)
    today = list(session.execute(
        select(Appointment).where(Appointment.start_at >= start, Appointment.start_at < end,
                                  Appointment.status.in_(("requested", "confirmed")))).scalars())
    for step in plan_day(today, now, rng):
        if step.action == "check_in":
            front_desk.check_in(session, step.appointment_id, None, step.at, settings=settings)
        elif step.action == "walk_in":
            _walk_in(session, settings, step, booked={a.patient_id for a in today}, rng=rng)
        elif step.action == "no_show":
            front_desk.mark_no_show(session, step.appointment_id, None, step.at, settings=settings)
        else:
            appointment = session.get(Appointment, step.appointment_id)
            assert appointment is not None
            with committing(session):
                if step.action == "start":  # as encounters.start_visit: the history event and the draft record
                    apply_transition(session, appointment, "checked_in", "in_consultation", actor_id=None,
                                     settings=settings, now=step.at)
                    session.add(Encounter(patient_id=appointment.patient_id, doctor_id=appointment.doctor_id,
                                          appointment_id=appointment.id, chief_complaint=appointment.reason,
                                          created_at=step.at, updated_at=step.at))
                else:  # as encounters.finish_visit: the record is signed later by its author
                    apply_transition(session, appointment, "in_consultation", "completed", actor_id=None,
                                     settings=settings, now=step.at)
    _free_doctors_take_the_next(session, settings, now, start, end, rng)
    counts: dict[str, int] = {}
    for a in session.execute(select(Appointment).where(Appointment.start_at >= start,
                                                       Appointment.start_at < end)).scalars():
        state = front_desk.state_of(a)
        counts[state] = counts.get(state, 0) + 1
    if progress is not None:
        progress(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return counts
