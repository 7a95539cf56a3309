"""Booking a video visit (issue 15, item 1): the service says how it is offered (in person, video
or both) and every way of booking follows it: the REST API (the one-statement booking on
PostgreSQL), the generic screen, the portal and the calendar; the desk shows video visits and
"Call next" leaves them to the call's waiting room."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.factories import DAY, local_time
from tests.test_front_desk import NOW, at


def offer(db, service_id: int, visit_modes: str) -> None:
    from app.models import Service

    db.session.get(Service, service_id).visit_modes = visit_modes
    db.session.commit()


def count_appointments(db) -> int:
    from app.models import Appointment

    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Appointment)).scalar_one()


def book(api, clinic, hhmm: str, **extra):
    body = {"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
            "start": local_time(hhmm), **extra}
    response = api.client.post("/api/v1/appointments/book", json=body, headers=api.headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    return response


@pytest.mark.parametrize("buffer", [0, 10])  # with a buffer the booking takes the doctor's lock first
def test_the_api_books_video_only_where_the_service_offers_it(app, api, db, clinic, monkeypatch, buffer):
    monkeypatch.setitem(app.config, "BOOKING_BUFFER_MINUTES", buffer)
    before = count_appointments(db)
    refused = book(api, clinic, "09:00", mode="video")  # the service is in person only
    assert refused.status_code == 422
    assert refused.get_json()["message"] == {"mode": ["This service is not offered by video call."]}
    assert count_appointments(db) == before  # nothing half-written

    offer(db, clinic.service, "video")
    default = book(api, clinic, "09:00")
    assert default.status_code == 201, default.get_json()
    assert default.get_json()["result"]["mode"] == "video"  # a video-only service books video by default
    in_person = book(api, clinic, "10:00", mode="in_person")
    assert in_person.status_code == 422
    assert in_person.get_json()["message"] == {"mode": ["This service is offered by video call only."]}

    offer(db, clinic.service, "both")
    assert book(api, clinic, "10:00").get_json()["result"]["mode"] == "in_person"
    chosen = book(api, clinic, "11:00", mode="video")
    assert chosen.status_code == 201 and chosen.get_json()["result"]["mode"] == "video"
    assert count_appointments(db) == before + 3

    from app.models import Appointment

    saved = db.session.get(Appointment, chosen.get_json()["id"])
    assert saved.mode == "video"


def test_an_unknown_visit_type_is_named_in_the_answer(api, clinic):
    refused = book(api, clinic, "09:00", mode="phone")
    assert refused.status_code == 422 and list(refused.get_json()["message"]) == ["mode"]


def test_the_generic_screen_follows_the_service_too(app, db, clinic, login_as):
    from app.models import Appointment

    offer(db, clinic.service, "in_person")
    desk = login_as("admin")
    start = datetime.fromisoformat(local_time("14:00")).strftime("%Y-%m-%d %H:%M:%S")
    form = {"patient": clinic.patient, "doctor": clinic.doctor, "service": clinic.service, "mode": "video",
            "start_at": start, "status": "confirmed", "channel": "phone"}
    before = count_appointments(db)
    page = desk.post("/appointmentview/add", data=form, follow_redirects=True).get_data(as_text=True)
    assert "not offered by video" in page
    assert count_appointments(db) == before
    offer(db, clinic.service, "both")
    desk.post("/appointmentview/add", data=form, follow_redirects=True)
    assert count_appointments(db) == before + 1
    made = db.session.execute(select(Appointment).order_by(Appointment.id.desc())).scalars().first()
    assert made.mode == "video"


def test_the_patient_chooses_video_on_the_portal_when_the_service_offers_both(app, db, clinic, login_as):
    from app.models import Appointment
    from tests.test_public import _appointments_of, _make_patient, _slot

    username, patient_id = _make_patient(app)
    browser = login_as(username)
    start = _slot("10:00")
    confirm = f"/clinic/book/confirm?service={clinic.service}&doctor={clinic.doctor}&start={start}"
    assert 'name="mode"' not in browser.get(confirm).get_data(as_text=True)  # in person only: no question
    offer(db, clinic.service, "both")
    page = browser.get(confirm).get_data(as_text=True)
    assert 'name="mode" type="radio" value="video"' in page or 'value="video"' in page
    response = browser.post("/clinic/book/confirm", data={
        "service": clinic.service, "doctor": clinic.doctor, "start": start, "mode": "video"})
    assert response.status_code == 302
    [appointment_id] = _appointments_of(app, patient_id)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment_id).mode == "video"


def test_the_desk_shows_video_visits_and_call_next_leaves_them_to_the_waiting_room(app, db, clinic, login_as):
    from app.models import Appointment, Patient
    from app.services import front_desk
    from app.services.settings import ClinicSettings

    settings = ClinicSettings.from_config(app.config)
    offer(db, clinic.service, "both")
    actor = app.appbuilder.sm.find_user(username="receptionist").id
    ids = []
    for hhmm, mode in (("09:00", "video"), ("09:30", "in_person")):
        patient = clinic.save(Patient(full_name=f"Bệnh nhân {hhmm}"))
        ids.append(clinic.save(Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                           start_at=at(hhmm), status="confirmed", mode=mode)))
    video, in_person = ids
    for appointment_id in ids:  # the video patient has number 1
        front_desk.check_in(db.session, appointment_id, actor, NOW, settings=settings)
    rows = front_desk.queue_board(db.session, DAY, NOW, settings=settings)[0].rows
    assert {row.appointment_id: row.mode for row in rows} == {video: "video", in_person: "in_person"}
    called = front_desk.call_next(db.session, clinic.doctor, actor, NOW, settings=settings)
    assert called.id == in_person
    with pytest.raises(Exception) as nobody:
        front_desk.call_next(db.session, clinic.doctor, actor, NOW, settings=settings)
    assert "Nobody is waiting" in str(nobody.value)

    assert front_desk.queue_board(db.session, DAY, NOW, settings=settings)[0].rows[0].as_json(settings)["mode"]

    # today's board, as the desk sees it: a "Video visit" badge on the video patient only
    from app.models.types import utcnow
    from tests.factories import CLINIC_ZONE

    now = utcnow().replace(second=0, microsecond=0)
    start = now + timedelta(hours=1)
    if (start + timedelta(hours=1)).astimezone(CLINIC_ZONE).date() != now.astimezone(CLINIC_ZONE).date():
        start = now - timedelta(hours=3)  # late in the clinic's evening: earlier today, not tomorrow
    for name, mode in (("Trần Video", "video"), ("Lê Tại Chỗ", "in_person")):
        patient = clinic.save(Patient(full_name=name))
        db.session.add(Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                   start_at=start, end_at=start + timedelta(minutes=20), status="confirmed",
                                   mode=mode))
        start += timedelta(minutes=30)
    db.session.commit()
    page = login_as("receptionist").get("/front-desk/").get_data(as_text=True)
    assert "Trần Video" in page and "Lê Tại Chỗ" in page
    assert page.count("fd-video") == 1


def test_the_calendar_marks_video_visits(app, db, clinic, login_as):
    from app.models import Appointment

    offer(db, clinic.service, "both")
    clinic.save(Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                            start_at=at("09:00").astimezone(timezone.utc), status="confirmed", mode="video"))
    page = login_as("receptionist").get(f"/calendar/?view=day&date={DAY.isoformat()}").get_data(as_text=True)
    assert "cal-video" in page
    assert 'data-modes="both"' in page  # the booking dialog follows the service's visit types
