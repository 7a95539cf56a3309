"""The waiting room (app.services.waiting_room): predicted waits (today's rolling average, the
doctor's history, the services' durations; never negative; queue order), initials only on the
public pages, the patient's ticket link (and why one is refused), the "you're next" notice exactly
once, and the check-in slip with the ticket's QR code."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.models import (
    Appointment,
    AppointmentEvent,
    Department,
    Doctor,
    Notification,
    OutboundMessage,
    Patient,
    Service,
)
from app.services import waiting_room
from app.services.settings import ClinicSettings

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = ClinicSettings(timezone=ZONE)
DAY = date(2027, 1, 4)
NOW = datetime.combine(DAY, time(10, 0), ZONE)
FULL_NAME = "Nguyễn Thị Hồng Nhung"


class Room:
    """A department, a doctor and a 20-minute service, and a helper that puts patients in the queue
    with the history events a real visit leaves (times in minutes relative to ``base``)."""

    def __init__(self, db, name: str = "BS. Trần Văn Bình", duration: int = 20):
        self.db = db
        department = Department(code=f"D{abs(hash(name)) % 10000}", name=f"Khoa {name}")
        db.session.add(department)
        db.session.flush()
        self.department_id = department.id
        doctor = Doctor(full_name=name, title="ThS.", department_id=department.id)
        service = Service(code=f"S{abs(hash(name)) % 10000}", name="Khám tổng quát", duration_minutes=duration)
        db.session.add_all([doctor, service])
        db.session.flush()
        self.doctor_id, self.service_id = doctor.id, service.id
        self.count = 0

    def visit(self, number: int, status: str, *, day: date = DAY, base: datetime | None = None,
              started: float | None = None, finished: float | None = None, name: str | None = None,
              user_id: int | None = None, email: str | None = None) -> int:
        self.count += 1
        base = base or datetime.combine(day, time(8, 0), ZONE)
        patient = Patient(code=f"P{self.doctor_id}-{self.count}-{number}-{day:%m%d}",
                          full_name=name or f"Lê Văn Khách {number}", user_id=user_id, email=email, phone=None)
        self.db.session.add(patient)
        self.db.session.flush()
        slot = datetime.combine(day, time(0), ZONE) + timedelta(minutes=20 * self.count)  # a doctor's never overlap
        appointment = Appointment(patient_id=patient.id, doctor_id=self.doctor_id, service_id=self.service_id,
                                  start_at=slot, end_at=slot + timedelta(minutes=20),
                                  status=status, channel="walk_in", queue_date=day, queue_number=number,
                                  checked_in_at=base, reason="Đau bụng dữ dội")
        self.db.session.add(appointment)
        self.db.session.flush()
        for status_to, minutes in (("in_consultation", started), ("completed", finished)):
            if minutes is not None:
                self.db.session.add(AppointmentEvent(appointment_id=appointment.id, from_status=None,
                                                     to_status=status_to, at=base + timedelta(minutes=minutes)))
        self.db.session.flush()
        return appointment.id


def state(db, department_ids=None, now=NOW) -> dict[int, waiting_room.DoctorQueue]:
    return {q.doctor_id: q for q in waiting_room.display_state(db.session, department_ids, now, settings=SETTINGS)}


def waits(queue: waiting_room.DoctorQueue) -> list[tuple[int, int]]:
    return [(w.number, w.wait_minutes) for w in queue.waiting]


# --- predictions ---------------------------------------------------------------------------------


def test_todays_rolling_average_predicts_each_wait_in_queue_order(db):
    room = Room(db)
    base = NOW - timedelta(hours=1)
    # Finished today: 10, 14 and 12 minutes (average 12).
    room.visit(1, "completed", base=base, started=0, finished=10)
    room.visit(2, "completed", base=base, started=10, finished=24)
    room.visit(3, "completed", base=base, started=24, finished=36)
    room.visit(4, "in_consultation", base=base, started=55)  # 5 minutes ago
    room.visit(7, "checked_in", base=base)  # inserted out of order: the queue number decides
    room.visit(5, "checked_in", base=base)
    room.visit(6, "checked_in", base=base)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert (queue.average_minutes, queue.average_source) == (12, "today")
    assert queue.current is not None and (queue.current.number, queue.current.in_room) == (4, True)
    # wait(p) = max(0, 12 - 5) + (p - 1) x 12
    assert waits(queue) == [(5, 7), (6, 19), (7, 31)]
    assert [w.position for w in queue.waiting] == [1, 2, 3]


def test_the_rolling_window_keeps_only_the_latest_consultations(db):
    room = Room(db)
    base = NOW - timedelta(hours=3)
    room.visit(1, "completed", base=base, started=0, finished=60)  # a slow start of the morning
    room.visit(2, "completed", base=base, started=60, finished=120)
    for number in range(3, 8):  # then five of 10 minutes
        start = 120 + (number - 3) * 10
        room.visit(number, "completed", base=base, started=start, finished=start + 10)
    room.visit(8, "checked_in", base=base)
    room.visit(9, "checked_in", base=base)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert (queue.average_minutes, queue.average_source) == (10, "today")
    assert queue.current is not None and (queue.current.number, queue.current.in_room) == (7, False)
    assert waits(queue) == [(8, 0), (9, 10)]  # nobody in consultation: number 8 may go in at once


def test_the_doctors_history_when_today_has_too_few_consultations(db):
    room = Room(db)
    for days_ago in (1, 2, 5):
        day = DAY - timedelta(days=days_ago)
        room.visit(1, "completed", day=day, started=0, finished=8)
    old = DAY - timedelta(days=waiting_room.HISTORY_DAYS + 5)
    room.visit(1, "completed", day=old, started=0, finished=90)  # too long ago: not counted
    base = NOW - timedelta(minutes=40)
    room.visit(1, "completed", base=base, started=0, finished=30)  # one today: not enough on its own
    room.visit(2, "checked_in", base=base)
    room.visit(3, "checked_in", base=base)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert (queue.average_minutes, queue.average_source) == (8, "history")
    assert waits(queue) == [(2, 0), (3, 8)]


def test_the_services_duration_for_a_doctor_without_history_and_never_negative(db):
    room = Room(db, duration=20)
    base = NOW - timedelta(minutes=30)
    room.visit(1, "in_consultation", base=base, started=5)  # 25 minutes in: over the 20 expected
    room.visit(2, "checked_in", base=base)
    room.visit(3, "checked_in", base=base)
    room.visit(4, "no_show", base=base)
    room.visit(5, "cancelled", base=base)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert queue.average_source == "service" and queue.average_minutes is None
    assert waits(queue) == [(2, 0), (3, 20)]  # the overrun makes the next one "any moment", never below 0


def test_one_consultation_today_is_used_when_there_is_no_history(db):
    room = Room(db)
    base = NOW - timedelta(minutes=30)
    room.visit(1, "completed", base=base, started=0, finished=16)
    room.visit(2, "in_consultation", base=base, started=20)  # 10 minutes in
    room.visit(3, "checked_in", base=base)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert (queue.average_minutes, queue.average_source) == (16, "today")
    assert waits(queue) == [(3, 6)]


def test_outliers_are_left_out_of_the_average():
    assert waiting_room.predicted_waits(waiting_room.Average(12.0, "today", 3), [20, 20], 20,
                                        timedelta(minutes=-3)) == [12, 24]  # a clock skew is no head start
    assert waiting_room.predicted_waits(waiting_room.Average(None, "service", 0), [15, 30, 10], None, None) \
        == [0, 15, 45]


def test_departments_filter_and_other_days_stay_off_the_display(db):
    first, second = Room(db, "BS. Một"), Room(db, "BS. Hai")
    first.visit(1, "checked_in")
    second.visit(1, "checked_in")
    second.visit(2, "checked_in", day=DAY - timedelta(days=1))
    db.session.commit()
    assert set(state(db, [first.department_id])) == {first.doctor_id}
    assert set(state(db)) == {first.doctor_id, second.doctor_id}
    assert [w.number for w in state(db)[second.doctor_id].waiting] == [1]


def test_initials():
    assert waiting_room.initials(FULL_NAME) == "N.T.H.N."
    assert waiting_room.initials("Đặng  văn   Ánh") == "Đ.V.Á."
    assert waiting_room.initials("") == ""


# --- the public pages show numbers and initials only ------------------------------------------


def today_room(db):
    """A queue on the real clinic day (the pages use the clock)."""
    room = Room(db, "BS. Phạm Hôm Nay")
    today = datetime.now(ZONE).date()
    base = datetime.now(timezone.utc) - timedelta(minutes=30)
    room.visit(1, "in_consultation", day=today, base=base, started=20)
    mine = room.visit(2, "checked_in", day=today, base=base, name=FULL_NAME)
    room.visit(3, "checked_in", day=today, base=base)
    db.session.commit()
    return room, mine


def test_the_display_shows_initials_never_the_name_nor_anything_clinical(db, client):
    room, mine = today_room(db)
    page = client.get(f"/queue/display?departments={room.department_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "N.T.H.N." in html and "ThS. BS. Phạm Hôm Nay" in html
    data = client.get(f"/queue/display/state?departments={room.department_id}")
    assert data.status_code == 200
    body = data.get_json()
    doctor = body["doctors"][0]
    assert doctor["current"]["number"] == 1 and [n["number"] for n in doctor["next"]] == [2, 3]
    assert doctor["next"][0]["initials"] == "N.T.H.N."
    text = json.dumps(body, ensure_ascii=False) + html
    patient = db.session.get(Appointment, mine).patient
    for secret in (FULL_NAME, "Nhung", "Hồng", patient.code, "Đau bụng", "Khám tổng quát"):
        assert secret not in text, secret
    ticket = client.get(waiting_room.ticket_path(waiting_room.make_ticket_token(
        client.application.config["SECRET_KEY"], db.session.get(Appointment, mine), SETTINGS)))
    assert ticket.status_code == 200
    for secret in (FULL_NAME, "Nhung", patient.code, "Đau bụng"):
        assert secret not in ticket.get_data(as_text=True)


def test_display_in_vietnamese_and_bad_departments(db, client):
    today_room(db)
    page = client.get("/queue/display?departments=all&_l_=vi")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Tiếp theo" in html and "Đang mời" in html and 'lang="vi"' in html
    assert "_l_=vi" in html  # the polls keep the language
    announce = client.get("/queue/display/state").get_json()["doctors"][0]["announce"]
    assert announce.startswith("Mời số 1")
    bad = client.get("/queue/display/state?departments=1,x")
    assert bad.status_code == 422 and "departments" in bad.get_json()["message"]
    assert client.get("/queue/display?departments=;drop").status_code == 422


# --- the ticket ----------------------------------------------------------------------------------


def token_for(app, db, appointment_id: int) -> str:
    return waiting_room.make_ticket_token(app.config["SECRET_KEY"], db.session.get(Appointment, appointment_id),
                                          SETTINGS)


def test_the_ticket_shows_place_and_wait(app, db, client):
    _room, mine = today_room(db)
    token = token_for(app, db, mine)
    page = client.get(f"/queue/ticket/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-ticket-number>2<' in html
    assert "You are next" in html
    data = client.get(f"/queue/ticket/{token}/state").get_json()
    assert data["number"] == 2 and data["position"] == 1 and data["state"] == "waiting"
    assert data["current_number"] == 1 and data["wait_minutes"] == 10  # 10 minutes into a 20-minute service
    # The same appointment gives the same link (the notice and the slip agree).
    assert token_for(app, db, mine) == token


def test_a_ticket_link_that_cannot_be_used_says_why(app, db, client):
    from app.services import appointment_links

    room, mine = today_room(db)
    token = token_for(app, db, mine)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    page = client.get(f"/queue/ticket/{tampered}")
    assert page.status_code == 400 and "not valid" in page.get_data(as_text=True)
    assert client.get(f"/queue/ticket/{tampered}/state").get_json()["reason"] == "invalid"
    # A reminder's confirm link is no ticket (another scope): refused as not valid.
    appointment = db.session.get(Appointment, mine)
    other = appointment_links.make_token(app.config["SECRET_KEY"], "confirm", appointment.id, appointment.start_at,
                                         appointment.start_at)
    assert client.get(f"/queue/ticket/{other}").status_code == 400
    # Yesterday's ticket has expired at midnight.
    yesterday = room.visit(9, "checked_in", day=datetime.now(ZONE).date() - timedelta(days=1))
    db.session.commit()
    page = client.get(f"/queue/ticket/{token_for(app, db, yesterday)}")
    assert page.status_code == 410 and "earlier day" in page.get_data(as_text=True)
    # Cancelled, or marked absent.
    appointment.status = "no_show"
    db.session.commit()
    page = client.get(f"/queue/ticket/{token}")
    assert page.status_code == 410 and 'data-reason="no_show"' in page.get_data(as_text=True)
    with pytest.raises(waiting_room.TicketRefused) as refused:
        waiting_room.ticket_state(db.session, "x" * 300, NOW, secret="s", settings=SETTINGS)
    assert refused.value.reason == "invalid"


def test_a_ticket_in_consultation_and_after(app, db, client):
    room, mine = today_room(db)
    token = token_for(app, db, mine)
    appointment = db.session.get(Appointment, mine)
    appointment.status = "in_consultation"
    db.session.commit()
    data = client.get(f"/queue/ticket/{token}/state").get_json()
    assert data["state"] == "called" and data["position"] is None
    appointment.status = "completed"
    db.session.commit()
    assert client.get(f"/queue/ticket/{token}/state").get_json()["state"] == "done"
    assert room


# --- "you're next" -------------------------------------------------------------------------------


def test_tell_next_tells_the_next_patient_exactly_once(app, db):
    from app.services.messaging.render import Rendered, render

    patient_user = app.appbuilder.sm.find_user(username="patient").id
    room = Room(db)
    base = NOW - timedelta(minutes=30)
    first = room.visit(1, "in_consultation", base=base, started=20)
    second = room.visit(2, "checked_in", base=base, name=FULL_NAME, user_id=patient_user, email="nhung@test.example")
    third = room.visit(3, "checked_in", base=base, email="ba@test.example")
    db.session.commit()
    config = dict(app.config, MESSAGE_CHANNELS="email,sms")
    ids = waiting_room.tell_next(db.session, room.doctor_id, DAY, NOW, config=config)
    again = waiting_room.tell_next(db.session, room.doctor_id, DAY, NOW + timedelta(minutes=1), config=config)
    assert again == []
    messages = list(db.session.execute(sa.select(OutboundMessage).where(OutboundMessage.kind == "queue_next"))
                    .scalars())
    # One per channel the patient gets (e-mail: a patient who never chose gets e-mail), for number 2 only.
    assert [(m.appointment_id, m.channel, m.status) for m in messages] == [(second, "email", "queued")]
    assert ids == [messages[0].id]
    notes = list(db.session.execute(sa.select(Notification).where(Notification.kind == "queue_next")).scalars())
    assert len(notes) == 1 and notes[0].user_id == patient_user and "2" in notes[0].title
    assert notes[0].link.startswith("/queue/ticket/")
    email = next(m for m in messages if m.channel == "email")
    for language, words in (("en", "You are next: number 2"), ("vi", "Bạn là người tiếp theo: số 2")):
        email.language = language
        rendered = render(db.session, email, config)
        assert isinstance(rendered, Rendered) and rendered.subject == words
        assert "ThS. BS. Trần Văn Bình" in rendered.text and "/queue/ticket/" in rendered.text
        assert "Đau bụng" not in rendered.text
    # Number 2 goes in: number 3 is next now, and told once.
    db.session.get(Appointment, first).status = "completed"
    db.session.get(Appointment, second).status = "in_consultation"
    db.session.commit()
    waiting_room.tell_next(db.session, room.doctor_id, DAY, NOW, config=config)
    waiting_room.tell_next(db.session, room.doctor_id, DAY, NOW, config=config)
    told = db.session.execute(sa.select(OutboundMessage.appointment_id, sa.func.count()).where(
        OutboundMessage.kind == "queue_next", OutboundMessage.channel == "email")
        .group_by(OutboundMessage.appointment_id)).all()
    assert dict(told) == {second: 1, third: 1}
    # Once called in, a message still waiting to go is skipped as stale.
    rendered = render(db.session, email, config)
    assert getattr(rendered, "reason", None) == "not_due"


def test_the_job_tells_next_in_process(app, db):
    from app.jobs.waiting_room import tell_next_job

    room = Room(db)
    today = datetime.now(ZONE).date()
    mine = room.visit(1, "checked_in", day=today, email="mot@test.example")
    db.session.commit()
    tell_next_job(room.doctor_id, today.isoformat())
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboundMessage).where(
        OutboundMessage.appointment_id == mine, OutboundMessage.kind == "queue_next")).scalar() >= 1


def test_any_change_of_the_queue_tells_whoever_is_next_now(app, db):
    """The queue-change hook (every check-in, call, start, finish, no-show) runs tell_next: the
    patient who is next hears it, once, however often the queue changes."""
    from app.services import realtime_hooks

    room = Room(db)
    today = datetime.now(ZONE).date()
    mine = room.visit(1, "checked_in", day=today, email="mot@test.example")
    db.session.commit()
    realtime_hooks.queue_changed(room.doctor_id, today)
    realtime_hooks.queue_changed(room.doctor_id, today)
    db.session.rollback()
    told = db.session.execute(sa.select(OutboundMessage.appointment_id).where(
        OutboundMessage.kind == "queue_next", OutboundMessage.channel == "email")).scalars().all()
    assert told == [mine]


# --- the check-in slip ------------------------------------------------------------------------------


def test_my_appointments_links_only_todays_live_tickets_of_the_patient(app, db):
    """A ticket link for an appointment checked in today and still in the queue; none for a
    finished visit, a no-show, another day's or another patient's appointment."""

    room, mine = today_room(db)
    settings = ClinicSettings.from_config(app.config)
    now = datetime.now(timezone.utc)
    patient = db.session.get(Appointment, mine).patient_id
    tickets = waiting_room.patient_live_tickets(db.session, patient, now, secret=app.config["SECRET_KEY"],
                                                settings=settings)
    assert list(tickets) == [mine] and tickets[mine].path == f"/queue/ticket/{token_for(app, db, mine)}"
    for status in ("completed", "no_show"):
        db.session.get(Appointment, mine).status = status
        db.session.commit()
        assert waiting_room.patient_live_tickets(db.session, patient, now, secret=app.config["SECRET_KEY"],
                                                 settings=settings) == {}
    db.session.get(Appointment, mine).status = "checked_in"
    db.session.commit()
    tomorrow = now + timedelta(days=1)
    assert waiting_room.patient_live_tickets(db.session, patient, tomorrow, secret=app.config["SECRET_KEY"],
                                             settings=settings) == {}


def test_the_slips_qr_uses_public_base_url_when_set_else_the_address_the_desk_used(app, db, login_as, monkeypatch):
    """Without PUBLIC_BASE_URL the QR code leads to the address the desk's browser used (a phone on
    the clinic's Wi-Fi reaches it), never to a default that is not this site; set, it wins."""
    room, mine = today_room(db)
    desk = login_as("receptionist")
    ticket = f"/queue/ticket/{token_for(app, db, mine)}"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    html = desk.get(f"/front-desk/slip/{mine}", base_url="http://localhost:8000").get_data(as_text=True)
    assert f'href="http://localhost:8000{ticket}"' in html and "127.0.0.1:5000" not in html
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://phongkham.example.vn/")
    html = desk.get(f"/front-desk/slip/{mine}", base_url="http://localhost:8000").get_data(as_text=True)
    assert f'href="https://phongkham.example.vn{ticket}"' in html and "localhost:8000" not in html


def test_the_check_in_slip_prints_the_number_and_the_tickets_qr(app, db, login_as):
    room, mine = today_room(db)
    desk = login_as("receptionist")
    page = desk.get(f"/front-desk/slip/{mine}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-slip-number>2<" in html and "<svg" in html
    assert f"/queue/ticket/{token_for(app, db, mine)}" in html
    assert FULL_NAME not in html
    # Reachable from the appointment's page while the patient waits.
    assert f"/front-desk/slip/{mine}" in desk.get(f"/appointment-actions/{mine}").get_data(as_text=True)
    not_in = room.visit(5, "confirmed", day=datetime.now(ZONE).date())
    db.session.get(Appointment, not_in).queue_number = None
    db.session.commit()
    assert desk.get(f"/front-desk/slip/{not_in}").status_code == 409
    assert desk.get("/front-desk/slip/999999").status_code == 404
    assert login_as("patient").get(f"/front-desk/slip/{mine}").status_code in (302, 403)


def test_a_called_patient_leaves_the_waiting_list_and_becomes_current(db):
    """The front desk's call (``called_at``; the status stays checked in)."""
    room = Room(db, duration=20)
    base = NOW - timedelta(minutes=30)
    called = room.visit(1, "checked_in", base=base)
    room.visit(2, "checked_in", base=base)
    room.visit(3, "checked_in", base=base)
    db.session.get(Appointment, called).called_at = NOW - timedelta(minutes=1)
    db.session.commit()
    queue = state(db)[room.doctor_id]
    assert queue.current is not None and (queue.current.number, queue.current.in_room) == (1, True)
    assert queue.current.since == NOW - timedelta(minutes=1)
    assert waits(queue) == [(2, 20), (3, 40)]  # the called one is expected to take its whole service


def test_my_appointments_lists_a_visit_at_the_clinic_with_the_upcoming_ones(db):
    """Checked in or in consultation: "Upcoming" in the portal even once its start time has passed;
    completed, missed and cancelled ones go to the past whatever their time."""
    from app.services.appointments import patient_appointments

    room = Room(db, "BS. Võ Giờ Qua")
    ids = {status: room.visit(n, status, name=FULL_NAME) for n, status in
           enumerate(("checked_in", "in_consultation", "completed", "no_show", "cancelled", "confirmed"), 1)}
    patient = db.session.get(Appointment, ids["checked_in"]).patient_id
    for appointment_id in ids.values():
        db.session.get(Appointment, appointment_id).patient_id = patient
    db.session.commit()
    late = datetime.combine(DAY, time(23, 0), ZONE)  # every visit of DAY started before this
    mine = patient_appointments(db.session, patient, late)
    assert [a.id for a in mine.upcoming] == [ids["checked_in"], ids["in_consultation"]]
    assert {a.id for a in mine.past} == {ids[s] for s in ("completed", "no_show", "cancelled", "confirmed")}
