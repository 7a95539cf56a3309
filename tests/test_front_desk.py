"""The front desk's queue (issue 13, items 2 and 3): the board's states and order, check-in, call,
no-show, call next and finish, two desks at once, and walk-ins (staff ignore the online minimum
notice, never overlapping)."""
from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.services.errors import Conflict, ValidationFailed
from tests.factories import CLINIC_ZONE, DAY

NOW = datetime.combine(DAY, time(9, 7), CLINIC_ZONE).astimezone(timezone.utc)  # the test day, 09:07


def at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime.combine(DAY, time(hours, minutes), CLINIC_ZONE)


@pytest.fixture
def settings(app):
    from app.services.settings import ClinicSettings

    return ClinicSettings.from_config(app.config)


@pytest.fixture
def desk(app, clinic, db):
    """The clinic's doctor and service, an actor id (the receptionist), and a helper booking."""
    user = app.appbuilder.sm.find_user(username="receptionist")

    def book(hhmm: str, status: str = "confirmed", patient: int | None = None, days: int = 0) -> int:
        from app.models import Appointment, Patient

        if patient is None:
            patient = clinic.save(Patient(full_name=f"Bệnh nhân {hhmm}"))
        return clinic.save(Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                       start_at=at(hhmm) + timedelta(days=days), status=status))

    class Desk:
        actor = user.id
        doctor = clinic.doctor
        service = clinic.service

    Desk.book = staticmethod(book)
    return Desk


@pytest.fixture
def hook_calls(monkeypatch):
    from app.services import realtime_hooks

    calls = []
    monkeypatch.setattr(realtime_hooks, "queue_changed", lambda doctor_id, day: calls.append((doctor_id, day)))
    return calls


def board_states(db, settings, now=NOW):
    from app.services import front_desk

    board = front_desk.queue_board(db.session, DAY, now, settings=settings)
    return [(row.patient_name, row.state, row.queue_number) for queue in board for row in queue.rows]


def test_the_board_follows_a_patient_through_the_day(app, db, desk, settings, hook_calls):
    from app.services import front_desk

    first, second = desk.book("09:00"), desk.book("09:30")
    assert board_states(db, settings) == [("Bệnh nhân 09:00", "expected", None),
                                          ("Bệnh nhân 09:30", "expected", None)]
    front_desk.check_in(db.session, second, desk.actor, NOW, settings=settings)
    front_desk.check_in(db.session, first, desk.actor, NOW + timedelta(minutes=2), settings=settings)
    later = NOW + timedelta(minutes=12)
    assert board_states(db, settings, later) == [("Bệnh nhân 09:30", "waiting", 1), ("Bệnh nhân 09:00", "waiting", 2)]
    rows = front_desk.queue_board(db.session, DAY, later, settings=settings)[0].rows
    assert [r.waiting_minutes for r in rows] == [12, 10]

    called = front_desk.call_next(db.session, desk.doctor, desk.actor, later, settings=settings)
    assert called.id == second  # number 1 first
    assert board_states(db, settings, later)[0] == ("Bệnh nhân 09:30", "called", 1)

    from app.models import Doctor
    from app.services import encounters

    doctor_user = app.appbuilder.sm.find_user(username="doctor")
    db.session.get(Doctor, desk.doctor).user_id = doctor_user.id
    db.session.commit()
    encounters.start_visit(db.session, second, doctor_user, later, settings=settings)
    assert board_states(db, settings, later)[0] == ("Bệnh nhân 09:30", "in_consultation", 1)
    front_desk.finish_visit(db.session, second, doctor_user, later, settings=settings)
    front_desk.mark_no_show(db.session, first, desk.actor, later, settings=settings)
    assert board_states(db, settings, later) == [("Bệnh nhân 09:30", "done", 1), ("Bệnh nhân 09:00", "no_show", 2)]
    # every change told the queue's hook, for that doctor and day
    assert hook_calls == [(desk.doctor, DAY)] * 6


def test_steps_out_of_order_are_refused_with_a_reason(db, desk, settings):
    from app.services import front_desk

    appointment = desk.book("10:00")
    with pytest.raises(Conflict, match="Check .* in before calling"):
        front_desk.call_patient(db.session, appointment, desk.actor, NOW, settings=settings)
    with pytest.raises(Conflict, match="only after that time"):
        front_desk.mark_no_show(db.session, appointment, desk.actor, NOW, settings=settings)
    with pytest.raises(Conflict, match="Nobody is waiting"):
        front_desk.call_next(db.session, desk.doctor, desk.actor, NOW, settings=settings)
    front_desk.check_in(db.session, appointment, desk.actor, NOW, settings=settings)
    with pytest.raises(Conflict, match="already checked in with number 1"):
        front_desk.check_in(db.session, appointment, desk.actor, NOW, settings=settings)
    tomorrow = desk.book("11:00", days=1)
    with pytest.raises(Conflict, match="Only today's appointments"):
        front_desk.check_in(db.session, tomorrow, desk.actor, NOW, settings=settings)


def test_a_requested_booking_is_confirmed_and_checked_in_at_once(db, desk, settings):
    from app.models import AppointmentEvent
    from app.services import front_desk

    appointment = desk.book("09:45", status="requested")
    front_desk.check_in(db.session, appointment, desk.actor, NOW, settings=settings)
    steps = db.session.execute(select(AppointmentEvent.from_status, AppointmentEvent.to_status)
                               .where(AppointmentEvent.appointment_id == appointment)
                               .order_by(AppointmentEvent.id)).all()
    assert [tuple(s) for s in steps] == [(None, "requested"), ("requested", "confirmed"), ("confirmed", "checked_in")]


def test_a_failing_push_does_not_fail_the_change(db, desk, settings, monkeypatch):
    from app.models import Appointment
    from app.services import front_desk, realtime_hooks

    def broken(doctor_id, day):
        raise RuntimeError("socket down")

    monkeypatch.setattr(realtime_hooks, "queue_changed", broken)
    appointment = desk.book("09:00")
    front_desk.check_in(db.session, appointment, desk.actor, NOW, settings=settings)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment).queue_number == 1


def _at_once(app, work, count: int = 2) -> list:
    """Run ``work(session)`` in ``count`` threads, each with its own session, started together."""
    barrier, results = threading.Barrier(count), []

    def run() -> None:
        with app.app_context():
            from app.extensions import db as database

            barrier.wait()
            try:
                results.append(work(database.session))
            except Conflict as exc:
                database.session.rollback()
                results.append(exc)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_desks_calling_one_patient_one_wins(app, db, desk, settings):
    from app.models import Appointment, AppointmentEvent
    from app.services import front_desk

    appointment = desk.book("09:00")
    front_desk.check_in(db.session, appointment, desk.actor, NOW, settings=settings)
    db.session.commit()
    results = _at_once(app, lambda session: front_desk.call_patient(
        session, appointment, desk.actor, NOW, settings=settings).id)
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert sorted(map(type, results), key=str) == sorted([int, Conflict], key=str), results
    assert "was already called by Tester Receptionist at 09:07" in conflicts[0].message
    assert conflicts[0].status == 409
    db.session.expire_all()
    assert db.session.get(Appointment, appointment).called_at is not None
    calls = db.session.execute(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appointment,
                                                              AppointmentEvent.note == "Called")).all()
    assert len(calls) == 1


def test_two_desks_checking_in_one_patient_get_one_number(app, db, desk, settings):
    from app.models import Appointment
    from app.services import front_desk

    appointment = desk.book("09:00")
    other = desk.book("09:30")
    results = _at_once(app, lambda session: front_desk.check_in(
        session, appointment, desk.actor, NOW, settings=settings).queue_number)
    assert sorted(map(type, results), key=str) == sorted([int, Conflict], key=str), results
    front_desk.check_in(db.session, other, desk.actor, NOW, settings=settings)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment).queue_number == 1
    assert db.session.get(Appointment, other).queue_number == 2


# --- walk-ins ---------------------------------------------------------------------------------------

def test_a_walk_in_is_registered_booked_now_and_checked_in(db, desk, settings, hook_calls):
    from app.models import Appointment, Patient
    from app.services import front_desk

    appointment = front_desk.walk_in(
        db.session, service_id=desk.service, actor_id=desk.actor, now=NOW, settings=settings,
        new_patient=front_desk.NewPatient(full_name="Nguyễn Thị Hồng Nhung", phone="0903 123 456"))
    db.session.expire_all()
    appointment = db.session.get(Appointment, appointment.id)
    # 09:07 with a 60-minute online notice: the slot in progress (09:00), checked in with number 1
    assert appointment.start_at == at("09:00")
    assert (appointment.status, appointment.queue_number, appointment.channel) == ("checked_in", 1, "walk_in")
    assert appointment.doctor_id == desk.doctor
    patient = db.session.get(Patient, appointment.patient_id)
    assert (patient.full_name, patient.phone) == ("Nguyễn Thị Hồng Nhung", "+84903123456")
    assert [p.id for p in front_desk.find_patients(db.session, "nguyen thi hong", "VN")] == [patient.id]
    assert hook_calls == [(desk.doctor, DAY)]


def test_a_walk_in_never_overlaps_and_takes_the_next_free_time(db, desk, settings):
    from app.services import front_desk

    desk.book("09:00")  # 09:00-09:30 taken
    appointment = front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW,
                                     settings=settings, patient_id=desk_patient(desk, db))
    assert appointment.start_at == at("09:30")  # 09:15 would overlap 09:00-09:20 (20-minute service)


def desk_patient(desk, db) -> int:
    from app.models import Patient

    patient = Patient(full_name="Trần Văn Khách", search_text="tran van khach", code="BNWALK1")
    db.session.add(patient)
    db.session.commit()
    return patient.id


def test_a_patient_still_in_a_queue_is_not_walked_in_twice(db, desk, settings):
    from app.models import Appointment
    from app.services import front_desk

    patient = desk_patient(desk, db)
    first = front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW,
                               settings=settings, patient_id=patient)
    with pytest.raises(Conflict, match="already in .* queue today \\(number 1\\)"):
        front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW, settings=settings,
                           patient_id=patient)
    assert db.session.query(Appointment).filter_by(patient_id=patient).count() == 1
    db.session.get(Appointment, first.id).status = "completed"  # seen: a second visit the same day is fine
    db.session.commit()
    again = front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW, settings=settings,
                               patient_id=patient)
    assert again.queue_number == 2


def test_a_walk_in_with_a_chosen_doctor_with_no_time_left_is_refused(db, desk, settings):
    from app.services import front_desk

    late = datetime.combine(DAY, time(18, 50), CLINIC_ZONE)  # works until 19:00, the service lasts 20 minutes
    with pytest.raises(Conflict, match="no free time left today"):
        front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=late, settings=settings,
                           patient_id=desk_patient(desk, db), doctor_id=desk.doctor)
    with pytest.raises(ValidationFailed, match="Find the patient"):
        front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW, settings=settings)


def test_first_free_doctor_prefers_the_one_free_now(app, db, desk, clinic, settings):
    from datetime import date

    from app.models import Doctor, Service, WorkSchedule
    from app.services import front_desk

    second = clinic.save(Doctor(full_name="Lê Văn Cường", title="BS.", department_id=clinic.department,
                                consultation_fee=Decimal(0)))
    clinic.save(*(WorkSchedule(doctor_id=second, weekday=d, start_time=time(7), end_time=time(19),
                               valid_from=date(2020, 1, 1)) for d in range(7)))
    service = db.session.get(Service, desk.service)
    service.doctors.append(db.session.get(Doctor, second))
    db.session.commit()
    desk.book("09:00")  # the first doctor is busy now
    appointment = front_desk.walk_in(db.session, service_id=desk.service, actor_id=desk.actor, now=NOW,
                                     settings=settings, patient_id=desk_patient(desk, db))
    assert (appointment.doctor_id, appointment.start_at) == (second, at("09:00"))


def test_staff_bookings_ignore_the_online_minimum_notice_patients_do_not(db, desk, settings):
    from app.services import booking

    patient = desk_patient(desk, db)
    with pytest.raises(ValidationFailed, match="at least 60 minutes ahead"):
        booking.book_appointment(db.session, patient_id=patient, doctor_id=desk.doctor, service_id=desk.service,
                                 start=at("09:30"), settings=settings, channel="online", now=NOW)
    booked = booking.book_appointment(db.session, patient_id=patient, doctor_id=desk.doctor, service_id=desk.service,
                                      start=at("09:30"), settings=settings, channel="phone", now=NOW)
    assert booked.start_at == at("09:30")
    with pytest.raises(ValidationFailed, match="in the past"):  # staff: not before the slot in progress
        booking.book_appointment(db.session, patient_id=patient, doctor_id=desk.doctor, service_id=desk.service,
                                 start=at("08:45"), settings=settings, channel="phone", now=NOW)
    slots = booking.free_slots(db.session, doctor_id=desk.doctor, service_id=desk.service, date_from=DAY,
                               date_to=DAY, settings=settings, now=NOW)
    assert slots[0].start >= NOW + timedelta(minutes=60)  # patients' free times keep the notice
    staff = booking.free_slots(db.session, doctor_id=desk.doctor, service_id=desk.service, date_from=DAY,
                               date_to=DAY, settings=settings, now=NOW, by_patient=False)
    assert staff[0].start == at("09:00")


def test_no_show_is_offered_only_where_it_is_accepted(db, desk, settings):
    """The board offers "No-show" exactly where ``mark_no_show`` accepts it: not for a request
    never confirmed, nor a patient expected later (the button used to answer with a confusing
    "...'s appointment is now requested; the list has been refreshed")."""
    from app.services import front_desk

    past, later, asked = desk.book("08:30"), desk.book("10:00"), desk.book("08:00", status="requested")
    here = desk.book("09:00")
    front_desk.check_in(db.session, here, desk.actor, NOW, settings=settings)
    rows = {row.appointment_id: row for row in front_desk.queue_board(db.session, DAY, NOW, settings=settings)[0].rows}
    assert {a: rows[a].can_no_show for a in (past, later, asked, here)} == {
        past: True, later: False, asked: False, here: True}
    assert rows[asked].as_json(settings)["can_no_show"] is False
    with pytest.raises(Conflict, match="requested but never confirmed: check them in when they arrive"):
        front_desk.mark_no_show(db.session, asked, desk.actor, NOW, settings=settings)
    with pytest.raises(Conflict, match="only after that time"):
        front_desk.mark_no_show(db.session, later, desk.actor, NOW, settings=settings)
    front_desk.mark_no_show(db.session, past, desk.actor, NOW, settings=settings)
    front_desk.mark_no_show(db.session, here, desk.actor, NOW, settings=settings)
    assert [s for _name, s, _n in board_states(db, settings)].count("no_show") == 2
