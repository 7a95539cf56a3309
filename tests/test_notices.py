"""Event notices (issue 12, item 5): appointment booked / confirmed / cancelled / moved to the patient
(e-mail and SMS, in their language) and to the doctor and reception in-app (in theirs); lab results
ready and medicines ready to the patient; the pharmacy's daily digest. Each is written once even
when its job runs twice, and a failing queue or job never undoes the booking."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.models import (
    Appointment,
    AppointmentEvent,
    Doctor,
    Notification,
    OutboundMessage,
    Patient,
    Service,
    UserProfile,
    WorkSchedule,
)
from app.services import booking
from app.services.settings import ClinicSettings
from tests.outbox import body, empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture

ZONE = timezone(timedelta(hours=7))
DAY = (datetime.now(ZONE) + timedelta(days=6)).date()
PATIENT_MAIL = "an.nguyen@example.vn"
REASON = "Đau ngực khi gắng sức"  # clinical: never in an SMS or a staff notice


def at(hhmm: str, days_after: int = 0) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime.combine(DAY + timedelta(days=days_after), time(hours, minutes), ZONE)


def uid(app, username: str) -> int:
    return app.appbuilder.sm.find_user(username=username).id


def set_language(db, user_id: int, language: str, **extra) -> None:
    profile = db.session.get(UserProfile, user_id) or UserProfile(user_id=user_id)
    profile.language = language
    for key, value in extra.items():
        setattr(profile, key, value)
    db.session.add(profile)
    db.session.commit()


@pytest.fixture
def people(app, db):
    """A doctor whose login is "doctor", working every day 07-19; a service; a patient whose login
    is "patient", with an e-mail and a phone, who chose e-mail and SMS."""
    doctor_user, patient_user = uid(app, "doctor"), uid(app, "patient")
    doctor = Doctor(full_name="Trần Thị Bình", title="BS.", user_id=doctor_user)
    db.session.add(doctor)
    db.session.flush()
    db.session.add_all(WorkSchedule(doctor_id=doctor.id, weekday=w, start_time=time(7), end_time=time(19),
                                    valid_from=date(2020, 1, 1)) for w in range(7))
    service = Service(code="KB", name="Khám tổng quát", price=Decimal(150000), duration_minutes=20,
                      doctors=[doctor])
    patient = Patient(code="BN0001", full_name="Nguyễn Văn An", email=PATIENT_MAIL, phone="+84912345678",
                      user_id=patient_user)
    db.session.add_all([service, patient])
    db.session.commit()
    set_language(db, uid(app, "patient"), "vi", notify_email=True, notify_sms=True)
    set_language(db, uid(app, "doctor"), "en")
    set_language(db, uid(app, "receptionist"), "vi")
    return {"doctor": doctor.id, "service": service.id, "patient": patient.id}


def settings(app) -> ClinicSettings:
    return ClinicSettings.from_config(app.config)


def book(app, db, people, start: datetime, channel: str = "online", actor: str = "patient", **extra):
    return booking.book_appointment(db.session, patient_id=people["patient"], doctor_id=people["doctor"],
                                    service_id=people["service"], start=start, settings=settings(app),
                                    actor_id=uid(app, actor), channel=channel, **extra)


def sms(app) -> list[dict]:
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sms.json"))] \
        if folder.exists() else []


def notices(db, user_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.execute(select(Notification).where(Notification.user_id == user_id)
                                   .order_by(Notification.id)).scalars())


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


@pytest.fixture(autouse=True)
def _only_the_shared_logins(app):
    """Staff notices go to every active login of a role. Logins that other test files made stay
    (FAB's tables are not emptied between tests) and would be counted too: switched off here."""
    from flask_appbuilder.security.sqla.models import User

    from app.extensions import db as database
    from tests.conftest import ROLES

    with app.app_context():
        others = list(database.session.execute(select(User.id).where(
            User.active.is_(True), User.username.not_in([r.lower() for r in ROLES]))).scalars())
        if others:
            database.session.execute(update(User).where(User.id.in_(others)).values(active=False))
            database.session.commit()
    yield
    if others:
        with app.app_context():
            database.session.execute(update(User).where(User.id.in_(others)).values(active=True))
            database.session.commit()


def counts(db) -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count(OutboundMessage.id))),
            db.session.scalar(select(func.count(Notification.id))))


# --- appointments -----------------------------------------------------------------------------

def test_an_online_booking_tells_the_patient_in_their_language_and_staff_in_theirs(app, db, people):
    made = book(app, db, people, at("09:00"), reason=REASON)
    mails = outbox(app)
    assert [m["To"] for m in mails] == [PATIENT_MAIL]
    mail = mails[0]
    assert mail["Subject"] == "Chúng tôi đã nhận yêu cầu đặt lịch của bạn"  # requested: waiting for the clinic
    text = body(mail)
    assert f"09:00 {DAY:%d/%m/%Y}" in text and "BS. Trần Thị Bình" in text and "Khám tổng quát" in text
    assert "/clinic/me/appointments" in text and "Kính gửi Nguyễn Văn An," in text
    assert "BS. Trần Thị Bình" in html(mail) and "<a href=" in html(mail)
    [short] = sms(app)
    assert short["to"] == "+84912345678" and f"09:00 {DAY:%d/%m/%Y}" in short["text"]
    assert REASON not in text and REASON not in short["text"]
    # The doctor reads English, reception Vietnamese; the patient who booked gets no in-app notice.
    [doctor_notice] = notices(db, uid(app, "doctor"))
    assert doctor_notice.title == f"Online booking: Nguyễn Văn An, 09:00 {DAY:%d/%m}"
    assert doctor_notice.link == f"/appointment-actions/{made.id}"
    assert "waiting for confirmation" in doctor_notice.body
    [reception_notice] = notices(db, uid(app, "receptionist"))
    assert reception_notice.title == f"Đặt lịch trực tuyến: Nguyễn Văn An, 09:00 {DAY:%d/%m}"
    # The patient (who has a login) finds it under the portal's bell too, in Vietnamese, linking to
    # their appointments.
    [patient_notice] = notices(db, uid(app, "patient"))
    assert patient_notice.kind == "appointment_booked"
    assert patient_notice.title == "Chúng tôi đã nhận yêu cầu đặt lịch của bạn"
    assert patient_notice.body == f"09:00 {DAY:%d/%m/%Y} · BS. Trần Thị Bình"
    assert patient_notice.link == f"/clinic/me/appointments#appointment-{made.id}"
    for notice in (doctor_notice, reception_notice, patient_notice):
        assert REASON not in notice.title and REASON not in (notice.body or "")


def test_a_booking_at_the_desk_tells_the_doctor_not_reception(app, db, people):
    set_language(db, uid(app, "patient"), "en")
    book(app, db, people, at("10:00"), channel="walk_in", actor="receptionist")
    [mail] = outbox(app)
    assert mail["Subject"] == "Your appointment is booked"
    assert f"Your appointment is booked for 10:00 {DAY:%d/%m/%Y} with BS. Trần Thị Bình" in body(mail)
    assert [n.title for n in notices(db, uid(app, "doctor"))] == [f"New appointment: Nguyễn Văn An, 10:00 {DAY:%d/%m}"]
    assert notices(db, uid(app, "receptionist")) == []  # a desk booking: reception made it


def test_confirm_move_and_cancel_each_tell_the_patient_and_staff(app, db, people):
    made = book(app, db, people, at("09:00"))
    booking.transition_appointment(db.session, made.id, "confirmed", actor_id=uid(app, "receptionist"),
                                   settings=settings(app))
    booking.reschedule_appointment(db.session, made.id, at("11:00", 1), actor_id=uid(app, "patient"),
                                   settings=settings(app), by_patient=True)
    booking.transition_appointment(db.session, made.id, "cancelled", actor_id=uid(app, "patient"),
                                   settings=settings(app), reason="Bận việc", by_patient=True)
    subjects = [m["Subject"] for m in outbox(app)]
    assert subjects == ["Chúng tôi đã nhận yêu cầu đặt lịch của bạn", "Lịch hẹn của bạn đã được xác nhận",
                        "Lịch hẹn của bạn đã được dời", "Lịch hẹn của bạn đã bị hủy"]
    moved = body(outbox(app)[2])
    assert f"09:00 {DAY:%d/%m/%Y}" in moved and f"11:00 {DAY + timedelta(days=1):%d/%m/%Y}" in moved
    assert len(sms(app)) == 4
    doctor_titles = [n.title for n in notices(db, uid(app, "doctor"))]
    assert doctor_titles == [
        f"Online booking: Nguyễn Văn An, 09:00 {DAY:%d/%m}",
        f"Appointment confirmed: Nguyễn Văn An, 09:00 {DAY:%d/%m}",
        f"Moved by the patient: Nguyễn Văn An, 09:00 {DAY:%d/%m} → 11:00 {DAY + timedelta(days=1):%d/%m}",
        f"Cancelled by the patient: Nguyễn Văn An, 11:00 {DAY + timedelta(days=1):%d/%m}"]
    # Reception: the online booking and the patient's own move and cancellation; not its own confirmation.
    reception = notices(db, uid(app, "receptionist"))
    assert [n.kind for n in reception] == ["appointment_booked", "appointment_moved", "appointment_cancelled"]
    assert all(n.link.startswith(f"/appointment-actions/{made.id}") for n in reception)
    assert "Bận việc" not in " ".join(n.title + (n.body or "") for n in reception)


def test_check_in_and_no_show_tell_nobody(app, db, people):
    made = book(app, db, people, at("09:00"), channel="phone", actor="receptionist")
    before = counts(db)
    db.session.get(Appointment, made.id)
    booking.transition_appointment(db.session, made.id, "checked_in", actor_id=uid(app, "receptionist"),
                                   settings=settings(app))
    assert counts(db) == before


def test_a_notice_made_obsolete_before_it_is_sent_is_skipped(app, db, people, monkeypatch):
    """A booking notice still waiting (the queue is slow) when the visit is cancelled is not sent:
    the cancellation has its own."""
    from app.services.messaging import delivery

    monkeypatch.setattr(delivery, "enqueue_deliveries", lambda config, ids: None)
    made = book(app, db, people, at("09:00"))
    booking.transition_appointment(db.session, made.id, "cancelled", actor_id=uid(app, "receptionist"),
                                   settings=settings(app), reason="Bác sĩ nghỉ")
    monkeypatch.undo()
    db.session.expire_all()
    rows = db.session.execute(select(OutboundMessage).where(OutboundMessage.channel == "email")
                              .order_by(OutboundMessage.id)).scalars().all()
    outcome = [delivery.deliver_message(db.session, row.id, app.config) for row in rows]
    assert outcome == ["skipped", "sent"]
    assert [m["Subject"] for m in outbox(app)] == ["Lịch hẹn của bạn đã bị hủy"]


def test_a_job_run_twice_writes_nothing_twice(app, db, people):
    from app.jobs import notices as jobs

    made = book(app, db, people, at("09:00"))
    before, mails = counts(db), len(outbox(app))
    assert before[0] == 2 and before[1] == 3  # e-mail and SMS; doctor, reception and the patient's bell
    assert jobs.appointment_event(made.id, "booked", actor_id=uid(app, "patient")) == 0
    assert counts(db) == before and len(outbox(app)) == mails
    moved = booking.reschedule_appointment(db.session, made.id, at("10:00"), actor_id=None, settings=settings(app))
    db.session.expire_all()
    event_id = db.session.scalar(select(func.max(AppointmentEvent.id))
                                 .where(AppointmentEvent.appointment_id == moved.id))
    after_move = counts(db)
    assert after_move[0] == before[0] + 2
    jobs.appointment_event(made.id, "moved", event_id=event_id, old_start=at("09:00").isoformat())
    assert counts(db) == after_move


def test_a_queue_that_raises_never_breaks_a_booking(app, db, people, monkeypatch, caplog):
    import app.jobs.queue as queue

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(queue, "enqueue", down)
    made = book(app, db, people, at("09:00"))
    moved = booking.reschedule_appointment(db.session, made.id, at("10:00"), actor_id=None, settings=settings(app))
    db.session.expire_all()
    assert db.session.get(Appointment, made.id).start_at == at("10:00") and moved.id == made.id
    assert counts(db) == (0, 0) and "could not queue" in caplog.text


def test_a_job_that_fails_never_breaks_a_booking(app, db, people, monkeypatch):
    from app.services import notices as service

    def broken(*args, **kwargs):
        raise RuntimeError("bug in a notice")

    monkeypatch.setattr(service, "notify_appointment_event", broken)
    made = book(app, db, people, at("09:00"))
    db.session.expire_all()
    assert db.session.get(Appointment, made.id).status == "requested"
    assert counts(db) == (0, 0)


def test_a_series_is_one_notice_listing_its_visits(app, db, people):
    from app.services.series import book_series

    set_language(db, uid(app, "patient"), "en")
    series, visits, skipped = book_series(
        db.session, patient_id=people["patient"], doctor_id=people["doctor"], service_id=people["service"],
        first_start=at("08:00"), rule="FREQ=WEEKLY;COUNT=3", settings=settings(app), actor_id=uid(app, "admin"))
    assert len(visits) == 3 and not skipped
    [mail] = outbox(app)
    assert mail["Subject"] == "Your 3 appointments are booked"
    text = body(mail)
    for week in range(3):
        assert f"08:00 {DAY + timedelta(weeks=week):%d/%m/%Y}" in text
    [notice] = notices(db, uid(app, "doctor"))
    assert notice.title == f"3 appointments booked: Nguyễn Văn An, from 08:00 {DAY:%d/%m}"


# --- the generic edit screen and REST resource -------------------------------------------------

def messages_of(db, kind: str) -> list[OutboundMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(OutboundMessage).where(OutboundMessage.kind == kind)
                                   .order_by(OutboundMessage.id)).scalars())


def edit_form(people, start: datetime, **changes) -> dict:
    """What the generic edit screen posts (start in clinic local time, as the browser sends it)."""
    return {"patient": people["patient"], "doctor": people["doctor"], "service": people["service"],
            "start_at": start.strftime("%Y-%m-%dT%H:%M"), "status": "confirmed", "channel": "phone",
            "reason": "", "notes": "", "cancel_reason": "", **changes}


def test_a_later_time_on_the_generic_edit_screen_saves_and_tells_the_patient_and_the_doctor(
        app, db, people, login_as):
    made = book(app, db, people, at("09:15"), channel="phone", actor="receptionist")
    later = at("10:00", 1)
    response = login_as("receptionist").post(f"/appointmentview/edit/{made.id}", data=edit_form(people, later))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(Appointment, made.id)
    assert saved.start_at == later and saved.end_at == later + timedelta(minutes=20)  # the service's length
    assert [(m.channel, m.recipient, m.status) for m in messages_of(db, "appointment_moved")] == [
        ("email", PATIENT_MAIL, "sent"), ("sms", "+84912345678", "sent")]
    assert outbox(app)[-1]["Subject"] == "Lịch hẹn của bạn đã được dời"
    mail = body(outbox(app)[-1])
    assert f"09:15 {DAY:%d/%m/%Y}" in mail and f"10:00 {DAY + timedelta(days=1):%d/%m/%Y}" in mail
    assert notices(db, uid(app, "doctor"))[-1].title == \
        f"Appointment moved: Nguyễn Văn An, 09:15 {DAY:%d/%m} → 10:00 {DAY + timedelta(days=1):%d/%m}"
    assert notices(db, uid(app, "receptionist")) == []  # their own change
    assert notices(db, uid(app, "patient"))[-1].title == "Lịch hẹn của bạn đã được dời"
    history = db.session.execute(select(AppointmentEvent).where(AppointmentEvent.appointment_id == made.id)
                                 .order_by(AppointmentEvent.id)).scalars().all()
    assert history[-1].note and history[-1].actor_id == uid(app, "receptionist")
    # Moved back earlier, and once more later: each move is told (none taken for a repeat of another).
    for start in (at("08:00", 1), at("11:00", 1)):
        response = login_as("receptionist").post(f"/appointmentview/edit/{made.id}", data=edit_form(people, start))
        assert response.status_code == 302
    assert len([m for m in messages_of(db, "appointment_moved") if m.channel == "email"]) == 3


def test_the_generic_rest_resource_moves_confirms_and_cancels_with_notices(app, db, people):
    from tests.factories import token_headers

    client, headers = app.test_client(), token_headers(app, "receptionist")
    made = book(app, db, people, at("09:15"))  # online: requested
    later = at("10:00", 1)
    response = client.put(f"/api/v1/appointment/{made.id}", json={"start_at": later.isoformat()}, headers=headers)
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    assert db.session.get(Appointment, made.id).end_at == later + timedelta(minutes=20)
    assert len(messages_of(db, "appointment_moved")) == 2  # e-mail and SMS
    response = client.put(f"/api/v1/appointment/{made.id}", json={"status": "confirmed"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    response = client.put(f"/api/v1/appointment/{made.id}", json={"status": "cancelled", "cancel_reason": "Ốm"},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    assert [m["Subject"] for m in outbox(app)][1:] == [
        "Lịch hẹn của bạn đã được dời", "Lịch hẹn của bạn đã được xác nhận", "Lịch hẹn của bạn đã bị hủy"]
    assert [n.kind for n in notices(db, uid(app, "doctor"))] == [
        "appointment_booked", "appointment_moved", "appointment_confirmed", "appointment_cancelled"]
    # An edit that changes neither the time nor the status tells nobody.
    before = counts(db)
    assert client.put(f"/api/v1/appointment/{made.id}", json={"notes": "Gọi trước"},
                      headers=headers).status_code == 200
    assert counts(db) == before


def test_a_generic_creation_tells_nobody(app, db, people):
    """The test factories and imports create appointments through the generic resource: no notice."""
    from tests.factories import token_headers

    response = app.test_client().post("/api/v1/appointment/", headers=token_headers(app, "receptionist"), json={
        "patient": people["patient"], "doctor": people["doctor"], "service": people["service"],
        "start_at": at("09:00").isoformat()})
    assert response.status_code == 201, response.get_json()
    assert counts(db) == (0, 0) and outbox(app) == []


def test_a_refused_generic_edit_tells_nobody(app, db, people, login_as):
    made = book(app, db, people, at("09:15"), channel="phone", actor="receptionist")
    before = counts(db)
    response = login_as("receptionist").post(f"/appointmentview/edit/{made.id}",
                                             data=edit_form(people, at("05:00", 1)))  # before opening hours
    assert response.status_code == 200 and "Ngoài giờ làm việc" in response.get_data(as_text=True)
    assert counts(db) == before
    db.session.expire_all()
    assert db.session.get(Appointment, made.id).start_at == at("09:15")


# --- the patient's bell in the portal -----------------------------------------------------------

def test_the_portal_bell_shows_the_patients_appointment_notices(app, db, people, login_as):
    made = book(app, db, people, at("09:00"))
    booking.transition_appointment(db.session, made.id, "confirmed", actor_id=uid(app, "receptionist"),
                                   settings=settings(app))
    booking.reschedule_appointment(db.session, made.id, at("11:00"), actor_id=uid(app, "receptionist"),
                                   settings=settings(app))
    booking.transition_appointment(db.session, made.id, "cancelled", actor_id=uid(app, "receptionist"),
                                   settings=settings(app), reason="Bác sĩ nghỉ")
    mine = notices(db, uid(app, "patient"))
    assert [n.kind for n in mine] == ["appointment_booked", "appointment_confirmed", "appointment_moved",
                                      "appointment_cancelled"]
    assert [n.title for n in mine] == ["Chúng tôi đã nhận yêu cầu đặt lịch của bạn",
                                       "Lịch hẹn của bạn đã được xác nhận", "Lịch hẹn của bạn đã được dời",
                                       "Lịch hẹn của bạn đã bị hủy"]
    assert mine[2].body == f"09:00 {DAY:%d/%m/%Y} → 11:00 {DAY:%d/%m/%Y} · BS. Trần Thị Bình"
    assert all(n.link.startswith(f"/clinic/me/appointments#appointment-{made.id}") for n in mine)
    assert "Bác sĩ nghỉ" not in " ".join(n.title + (n.body or "") for n in mine)
    page = login_as("patient").get("/clinic/me/notifications")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Lịch hẹn của bạn đã được dời" in text or "Your appointment has moved" in text


def test_a_patient_without_a_login_gets_no_notification_row(app, db, people):
    db.session.execute(update(Patient).where(Patient.id == people["patient"]).values(user_id=None))
    db.session.commit()
    book(app, db, people, at("09:00"), channel="phone", actor="receptionist")
    db.session.expire_all()
    kinds = db.session.execute(select(Notification.user_id)).scalars().all()
    assert kinds == [uid(app, "doctor")]
    assert [m["To"] for m in outbox(app)] == [PATIENT_MAIL]


# --- who never chose a channel ------------------------------------------------------------------

def _walk_in(app, db, people, email: str | None, phone: str | None) -> list[tuple[str, str, str | None]]:
    patient = Patient(code="BN0002", full_name="Phạm Thị Hoa", email=email, phone=phone)
    db.session.add(patient)
    db.session.commit()
    booking.book_appointment(db.session, patient_id=patient.id, doctor_id=people["doctor"],
                             service_id=people["service"], start=at("14:00"), settings=settings(app),
                             actor_id=uid(app, "receptionist"), channel="walk_in")
    db.session.expire_all()
    rows = db.session.execute(select(OutboundMessage).where(OutboundMessage.patient_id == patient.id)
                              .order_by(OutboundMessage.channel)).scalars().all()
    return [(m.channel, m.status, m.skip_reason) for m in rows]


def test_a_patient_who_never_chose_with_only_a_phone_gets_an_sms(app, db, people):
    assert _walk_in(app, db, people, None, "+84987654321") == [("email", "skipped", "no_address"),
                                                                 ("sms", "sent", None)]
    [short] = sms(app)
    assert short["to"] == "+84987654321" and "14:00" in short["text"]


def test_a_patient_who_never_chose_with_an_e_mail_gets_only_the_e_mail(app, db, people):
    assert _walk_in(app, db, people, "hoa@example.vn", "+84987654321") == [("email", "sent", None)]
    assert sms(app) == []


def test_sms_default_on_sends_both(app, db, people, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_DEFAULT_ON", True)
    assert _walk_in(app, db, people, "hoa@example.vn", "+84987654321") == [("email", "sent", None),
                                                                             ("sms", "sent", None)]


# --- lab results, medicines ------------------------------------------------------------------

def test_released_results_tell_the_patient_they_are_ready_never_what_they_are(app, db, people):
    from app.jobs import notices as jobs
    from app.models import Encounter
    from app.services import lab
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    seed_lab_catalogue(db.session)
    encounter = Encounter(patient_id=people["patient"], doctor_id=people["doctor"], chief_complaint="Mệt")
    db.session.add(encounter)
    db.session.commit()
    doctor, tech = (app.appbuilder.sm.find_user(username=name) for name in ("doctor", "lab"))
    now = datetime.now(timezone.utc)
    order = lab.order_tests(db.session, encounter.id, ["GLU"], doctor, now)[0].id
    lab.enter_results(db.session, order, {"Glucose": "17,9"}, "final", tech, now)
    assert outbox(app) == []  # entered, not released: nothing yet
    lab.release_results(db.session, order, tech, now)
    [mail] = outbox(app)
    assert mail["Subject"] == "Kết quả xét nghiệm của bạn đã có"
    text = body(mail)
    assert "/clinic/me/results" in text
    [short] = sms(app)
    for shown in (text, html(mail), short["text"]):
        assert "17,9" not in shown and "Glucose" not in shown and "17.9" not in shown
    [notice] = notices(db, doctor.id)
    assert notice.kind == "lab_results_released" and notice.link.startswith(f"/lab/order/{order}")
    [bell] = notices(db, uid(app, "patient"))  # the patient's portal bell, in Vietnamese, never the values
    assert bell.title == "Kết quả xét nghiệm của bạn đã có" and bell.link.startswith("/clinic/me/results#")
    assert "17,9" not in bell.title + (bell.body or "")
    assert "17,9" not in notice.title + (notice.body or "")
    before = counts(db)
    jobs.lab_results_released(order, now.isoformat(), actor_id=tech.id)
    assert counts(db) == before and len(outbox(app)) == 1


def test_dispensed_medicines_tell_the_patient_they_are_ready(app, db, people):
    from app.models import Prescription, PrescriptionItem
    from app.services import dispensing
    from app.services.stock_views import prescription_code
    from tests.pharmacy_helpers import NOW, batch, medicine

    set_language(db, uid(app, "patient"), "en")
    drug = medicine(db, "Amoxicillin")
    batch(db, drug, 100, 365)
    record = Prescription(patient_id=people["patient"], doctor_id=people["doctor"], status="issued", issued_at=NOW)
    record.items = [PrescriptionItem(medicine_id=drug, dose="1 viên", frequency="3 lần/ngày", duration_days=5,
                                     quantity=15)]
    db.session.add(record)
    db.session.commit()
    item = record.items[0].id
    dispensing.dispense_prescription(db.session, record.id, {item: 5}, uid(app, "pharmacist"), NOW)
    assert outbox(app) == []  # partly dispensed: not ready yet
    dispensing.dispense_prescription(db.session, record.id, None, uid(app, "pharmacist"), NOW)
    [mail] = outbox(app)
    assert mail["Subject"] == "Your medicines are ready for pickup"
    assert prescription_code(record.id) in body(mail) and "Amoxicillin" not in body(mail)
    [short] = sms(app)
    assert prescription_code(record.id) in short["text"] and "Amoxicillin" not in short["text"]
    [bell] = notices(db, uid(app, "patient"))
    assert bell.title == "Your medicines are ready for pickup" and bell.link.startswith("/clinic/me/visits#")
    assert prescription_code(record.id) in bell.body and "Amoxicillin" not in bell.body


# --- the pharmacy digest ------------------------------------------------------------------------

@pytest.fixture
def stock(app, db):
    from app.services import stock_usage
    from tests.pharmacy_helpers import TODAY, batch, medicine

    low = medicine(db, "Salbutamol", reorder_level=50)
    batch(db, low, 10, 300)
    expiring = medicine(db, "Cefuroxim", reorder_level=5)
    batch(db, expiring, 40, 20, lot="LOT-SAP-HET")
    fine = medicine(db, "Vitamin C", reorder_level=5)
    batch(db, fine, 500, 400)
    fast = medicine(db, "Amoxicillin", reorder_level=10)  # above its level, but 12 units last 4 days
    batch(db, fast, 12, 300)
    stock_usage.add_use(db.session, fast, TODAY - timedelta(days=2), 90)  # 3 a day over the 30-day window
    db.session.commit()
    return TODAY


def test_the_digest_lists_low_stock_and_near_expiry_and_leaves_out_what_is_fine(app, db, stock):
    from app.services.messaging.delivery import enqueue_deliveries
    from app.services.stock_digest import send_stock_digest

    set_language(db, uid(app, "pharmacist"), "vi")
    set_language(db, uid(app, "manager"), "en")
    before_hour = datetime.combine(stock, time(6, 59), ZONE)
    assert send_stock_digest(db.session, config=app.config, now=before_hour) == []
    now = datetime.combine(stock, time(7, 5), ZONE)
    ids = send_stock_digest(db.session, config=app.config, now=now)
    enqueue_deliveries(app.config, ids)
    mails = {m["To"]: m for m in outbox(app)}
    assert set(mails) == {"pharmacist@test.example", "manager@test.example"}
    vi, en = mails["pharmacist@test.example"], mails["manager@test.example"]
    assert vi["Subject"] == f"Bản tin nhà thuốc ngày {stock:%d/%m/%Y}"
    assert en["Subject"] == f"Pharmacy digest for {stock:%d/%m/%Y}"
    text, table = body(en), html(en)
    assert "Below the reorder level" in text and "Salbutamol 500 mg" in text
    assert "Batches expiring soon" in text and "LOT-SAP-HET" in text
    assert "To order now" in text and "Amoxicillin 500 mg | 12 viên | 4.0 | 7" in text
    assert "Amoxicillin 500 mg | 12 viên | 4,0 | 7" in body(vi)  # the Vietnamese decimal comma
    assert "<table" in table and "Salbutamol 500 mg" in table and "LOT-SAP-HET" in table
    assert "Vitamin C" not in text and "Vitamin C" not in table
    assert "Dưới mức đặt hàng lại" in body(vi)
    notes = notices(db, uid(app, "manager"))
    assert len(notes) == 1 and notes[0].link.startswith("/pharmacy/dashboard")
    assert notices(db, uid(app, "pharmacist"))[0].title.startswith("Bản tin nhà thuốc")
    assert notices(db, uid(app, "doctor")) == []
    # Ten minutes later the periodic job runs again: nothing new that day.
    before = counts(db)
    assert send_stock_digest(db.session, config=app.config, now=now + timedelta(minutes=10)) == []
    assert counts(db) == before and len(outbox(app)) == 2


def test_a_quiet_day_sends_no_digest(app, db):
    from app.services.stock_digest import send_stock_digest
    from tests.pharmacy_helpers import TODAY, batch, medicine

    batch(db, medicine(db, "Vitamin C", reorder_level=5), 500, 400)
    assert send_stock_digest(db.session, config=app.config, now=datetime.combine(TODAY, time(9), ZONE)) == []
    assert counts(db) == (0, 0)


def test_the_periodic_job_sends_the_digest_once(app, db, stock, monkeypatch):
    import app.models.types as types
    from app.jobs.digest import send_if_due

    monkeypatch.setattr(types, "utcnow", lambda: datetime.combine(stock, time(8), ZONE).astimezone(timezone.utc))
    assert send_if_due() == 2
    assert send_if_due() == 0
    assert len(outbox(app)) == 2


# --- on RQ ------------------------------------------------------------------------------------

@pytest.mark.needs_redis
def test_with_redis_the_notice_is_a_job_a_worker_runs_with_retries(app, db, people, monkeypatch):
    """With REDIS_URL the booking only enqueues (nothing written in the request); a worker writes
    the messages and delivers them. Redis database 15 and a queue unique to this test."""
    import uuid

    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.job import Job

    url, name = "redis://127.0.0.1:6379/15", f"test-notices-{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    connection = Redis.from_url(url)
    queue = Queue(name, connection=connection)
    try:
        book(app, db, people, at("09:00"))
        assert counts(db) == (0, 0) and queue.count == 1
        [job] = queue.get_jobs()
        assert job.func_name == "app.jobs.notices.appointment_event" and job.retries_left == 3
        worker = SimpleWorker([queue], connection=connection)
        worker.work(burst=True)  # the notice job, then the two delivery jobs it enqueued
        connection.delete(worker.key)
        assert counts(db) == (2, 3)  # e-mail and SMS; doctor, reception and the patient's bell
        assert [m["Subject"] for m in outbox(app)] == ["Chúng tôi đã nhận yêu cầu đặt lịch của bạn"]
        assert len(sms(app)) == 1
    finally:
        for registry in (queue.finished_job_registry, queue.failed_job_registry):
            for job_id in registry.get_job_ids():
                Job.fetch(job_id, connection=connection).delete()
        queue.delete(delete_jobs=True)
        connection.close()
