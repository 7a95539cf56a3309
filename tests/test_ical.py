"""iCalendar: the appointment .ics, the doctor's private feed, its secret URL, and who may see what.

Appointments are written straight through the session (not the booking API), so these tests
do not depend on the booking rules."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tests.conftest import MFA_ROLES, PASSWORD
from tests.factories import enrol

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CLINIC = "Phòng khám Đa khoa An Bình"
PATIENT_NAME = "Nguyễn Văn An"
OTHER_PATIENT_NAME = "Phạm Thị Dung"
REASON = "Đau đầu, chóng mặt kéo dài ba ngày; nghi rối loạn tiền đình — cần khám thần kinh"
NOTES = "Tiền sử tăng huyết áp"
ICS = "text/calendar; charset=utf-8"
EXTRA_USERS = (("ical_doctor2", "Doctor"), ("ical_patient2", "Patient"))


@pytest.fixture(scope="session")
def calendar_routes(app):
    """The factory registers the calendar routes."""
    assert "calendar" in app.blueprints
    return app


@pytest.fixture(scope="session")
def user_ids(app) -> dict[str, int]:
    """Ids of the suite's logins, plus a second doctor and a second patient login."""
    sm = app.appbuilder.sm
    with app.app_context():
        for username, role in EXTRA_USERS:
            if sm.find_user(username=username) is None:
                sm.add_user(username, role, "Tester", f"{username}@test.example", sm.find_role(role),
                            password=PASSWORD)
                if role in MFA_ROLES:  # their role needs two-step login
                    enrol(app, username)
        names = ("admin", "manager", "receptionist", "doctor", "pharmacist", "patient", *(u for u, _ in EXTRA_USERS))
        return {name: sm.find_user(username=name).id for name in names}


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), HCM)


def add_appointment(db, patient_id: int, doctor_id: int, service_id: int, start: datetime, *,
                    status: str = "confirmed", reason: str | None = REASON, minutes: int = 30) -> int:
    from app.models import Appointment

    appointment = Appointment(patient_id=patient_id, doctor_id=doctor_id, service_id=service_id, start_at=start,
                              end_at=start + timedelta(minutes=minutes), status=status, reason=reason, notes=NOTES)
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


@pytest.fixture
def records(app, user_ids, calendar_routes):
    """Two doctors (linked to the logins "doctor" and "ical_doctor2"), two patients (linked to
    "patient" and "ical_patient2"), one service, and one appointment tomorrow at 09:00 local.

    Built in an app context of its own: a test that keeps one pushed (the ``db`` fixture) shares
    ``g``, and so flask-login's cached user, between all its test-client requests."""
    from app.extensions import db
    from app.models import Doctor, Patient, Service

    with app.app_context():
        service = Service(code="KB", name="Khám tổng quát", price=150000, duration_minutes=30)
        doctor = Doctor(full_name="Trần Thị Bình", title="BS.", user_id=user_ids["doctor"])
        other_doctor = Doctor(full_name="Lê Văn Cường", title="BS.", user_id=user_ids["ical_doctor2"])
        patient = Patient(code="BN000001", full_name=PATIENT_NAME, search_text="", user_id=user_ids["patient"])
        other_patient = Patient(code="BN000002", full_name=OTHER_PATIENT_NAME, search_text="",
                                user_id=user_ids["ical_patient2"])
        db.session.add_all([service, doctor, other_doctor, patient, other_patient])
        db.session.commit()
        tomorrow = datetime.now(HCM).date() + timedelta(days=1)
        appointment = add_appointment(db, patient.id, doctor.id, service.id, local(tomorrow, 9))
        ids = SimpleNamespace(service=service.id, doctor=doctor.id, other_doctor=other_doctor.id,
                              patient=patient.id, other_patient=other_patient.id, appointment=appointment,
                              tomorrow=tomorrow)
        db.session.remove()
    return ids


@pytest.fixture
def settings(app):
    from app.services.settings import ClinicSettings

    return ClinicSettings.from_config(app.config)


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def events(body: bytes) -> list:
    return list(parse(body).walk("VEVENT"))


def unfolded(body: bytes) -> str:
    return body.decode("utf-8").replace("\r\n ", "")


# --- the appointment file ----------------------------------------------------------------------


def test_appointment_ics_has_utc_times_and_the_details(db, records, settings):
    from app.models import Appointment
    from app.services.ical import appointment_ics

    appointment_id = add_appointment(db, records.patient, records.doctor, records.service,
                                     datetime(2026, 12, 1, 9, 0, tzinfo=HCM))
    body = appointment_ics(db.session.get(Appointment, appointment_id), settings, clinic_name=CLINIC)

    assert b"DTSTART:20261201T020000Z" in body and b"DTEND:20261201T023000Z" in body
    (event,) = events(body)
    assert event.decoded("dtstart") == datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    assert event.decoded("dtend") == datetime(2026, 12, 1, 2, 30, tzinfo=timezone.utc)
    assert str(event["uid"]) == f"appointment-{appointment_id}@phong-kham-da-khoa-an-binh"
    assert "Khám tổng quát" in str(event["summary"]) and "BS. Trần Thị Bình" in str(event["summary"])
    assert REASON in str(event["description"])  # Vietnamese survives folding and parsing
    assert str(event["location"]) == CLINIC
    assert str(event["status"]) == "CONFIRMED"
    assert isinstance(event.decoded("sequence"), int) and event.decoded("sequence") > 0


def test_an_update_raises_the_sequence_and_keeps_the_uid(db, records, settings):
    from app.models import Appointment
    from app.services.ical import appointment_ics

    appointment = db.session.get(Appointment, records.appointment)
    (before,) = events(appointment_ics(appointment, settings, clinic_name=CLINIC, uid_domain="clinic.example"))
    appointment.start_at += timedelta(hours=1)
    appointment.end_at += timedelta(hours=1)
    appointment.updated_at += timedelta(minutes=5)
    db.session.commit()
    (after,) = events(appointment_ics(appointment, settings, clinic_name=CLINIC, uid_domain="clinic.example"))

    assert str(before["uid"]) == str(after["uid"]) == f"appointment-{records.appointment}@clinic.example"
    assert after.decoded("sequence") > before.decoded("sequence")


def test_statuses_map_to_icalendar_statuses(db, records, settings):
    from app.models import Appointment
    from app.services.ical import appointment_ics

    expected = {"requested": "TENTATIVE", "confirmed": "CONFIRMED", "checked_in": "CONFIRMED",
                "in_consultation": "CONFIRMED", "completed": "CONFIRMED", "cancelled": "CANCELLED",
                "no_show": "CANCELLED"}
    appointment = db.session.get(Appointment, records.appointment)
    for status, ical_status in expected.items():
        appointment.status = status  # the model's value, not a workflow transition
        (event,) = events(appointment_ics(appointment, settings, clinic_name=CLINIC))
        assert str(event["status"]) == ical_status, status


# --- the doctor's feed -------------------------------------------------------------------------


def test_feed_lists_the_doctors_active_appointments_without_patient_details(db, records, settings):
    from app.services.ical import doctor_feed_ics

    day, r = records.tomorrow, records
    other_patients = add_appointment(db, r.other_patient, r.doctor, r.service, local(day, 10), status="requested")
    done_last_week = add_appointment(db, r.patient, r.doctor, r.service, local(day - timedelta(days=8), 14),
                                     status="completed")
    cancelled = add_appointment(db, r.patient, r.doctor, r.service, local(day, 11), status="cancelled")
    no_show = add_appointment(db, r.patient, r.doctor, r.service, local(day - timedelta(days=2), 8),
                              status="no_show")
    other_doctors = add_appointment(db, r.patient, r.other_doctor, r.service, local(day, 15))
    too_old = add_appointment(db, r.patient, r.doctor, r.service, local(day - timedelta(days=45), 9),
                              status="completed")
    too_far = add_appointment(db, r.patient, r.doctor, r.service, local(day + timedelta(days=200), 9))

    body = doctor_feed_ics(db.session, r.doctor, settings, clinic_name=CLINIC)
    calendar = parse(body)
    uids = {str(event["uid"]) for event in calendar.walk("VEVENT")}
    domain = "phong-kham-da-khoa-an-binh"

    assert uids == {f"appointment-{i}@{domain}" for i in (r.appointment, other_patients, done_last_week)}
    for excluded in (cancelled, no_show, other_doctors, too_old, too_far):
        assert f"appointment-{excluded}@" not in body.decode()
    assert "BS. Trần Thị Bình" in str(calendar["x-wr-calname"])
    summaries = sorted(str(event["summary"]) for event in calendar.walk("VEVENT"))
    assert summaries == ["BN000001 · Khám tổng quát", "BN000001 · Khám tổng quát", "BN000002 · Khám tổng quát"]
    text = unfolded(body)
    for secret in (PATIENT_NAME, OTHER_PATIENT_NAME, REASON, NOTES, "Đau đầu"):
        assert secret not in text
    assert all("description" not in event for event in calendar.walk("VEVENT"))


def test_feed_window_is_counted_from_now(db, records, settings):
    from app.services.ical import doctor_feed_ics

    body = doctor_feed_ics(db.session, records.doctor, settings, clinic_name=CLINIC,
                           now=datetime.now(timezone.utc) + timedelta(days=40), days_back=30)
    assert events(body) == []


def test_token_lookup_refuses_empty_revoked_and_inactive(db, records):
    from app.models import Doctor
    from app.services.ical import doctor_for_token, revoke_calendar_token, rotate_calendar_token

    token = rotate_calendar_token(db.session, records.doctor)
    assert len(token) >= 43 and doctor_for_token(db.session, token).id == records.doctor
    assert doctor_for_token(db.session, None) is None and doctor_for_token(db.session, "") is None
    assert doctor_for_token(db.session, token + "x") is None
    db.session.get(Doctor, records.doctor).active = False
    db.session.commit()
    assert doctor_for_token(db.session, token) is None
    revoke_calendar_token(db.session, records.doctor)
    assert db.session.get(Doctor, records.doctor).calendar_token is None


# --- the feed's URL ----------------------------------------------------------------------------


def test_rotating_replaces_the_url_and_revoking_removes_it(records, login_as, client):
    doctor = login_as("doctor")  # linked to records.doctor: manages their own link
    path = f"/api/v1/doctors/{records.doctor}/calendar-token"

    first = doctor.post(path)
    assert first.status_code == 200, first.get_json()
    url = first.get_json()["result"]["url"]
    assert url.startswith("http://") and first.get_json()["result"]["webcal_url"].startswith("webcal://")
    old = urlsplit(url).path
    response = client.get(old)  # public: no login
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ICS
    assert len(events(response.data)) == 1

    new = urlsplit(doctor.post(path).get_json()["result"]["url"]).path
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200

    revoked = doctor.delete(path)
    assert revoked.status_code == 200, revoked.get_json()
    assert client.get(new).status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_who_may_manage_a_doctors_link(records, login_as, client, api_token):
    path = f"/api/v1/doctors/{records.doctor}/calendar-token"

    assert client.post(path).status_code == 401
    assert client.delete(path).status_code == 401
    other_doctor = login_as("ical_doctor2")
    response = other_doctor.post(path)
    assert response.status_code == 403 and response.is_json
    assert other_doctor.delete(path).status_code == 403
    assert other_doctor.post(f"/api/v1/doctors/{records.other_doctor}/calendar-token").status_code == 200
    assert login_as("receptionist").post(path).status_code == 403  # reads doctors, may not edit them
    assert client.post(path, headers=api_token("manager")).status_code == 200  # may edit doctors
    assert client.post(path, headers=api_token("doctor")).status_code == 200  # themself, by JWT
    assert client.post("/api/v1/doctors/999999/calendar-token", headers=api_token("admin")).status_code == 404
    assert client.post(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_session_writes_need_the_csrf_token(records, login_as, client, api_token):
    path = f"/api/v1/doctors/{records.doctor}/calendar-token"
    doctor = login_as("doctor")
    refused = doctor.post(path, csrf=False)
    assert refused.status_code == 400 and "security token" in refused.get_json()["message"]
    assert doctor.post(path).status_code == 200  # the page's X-CSRFToken header
    assert client.post(path, headers=api_token("doctor"), csrf=False).status_code == 200  # Bearer: no token


# --- who may download an appointment -----------------------------------------------------------


def test_staff_who_read_appointments_download_the_file(records, login_as, client, api_token):
    path = f"/appointments/{records.appointment}.ics"
    receptionist = login_as("receptionist")

    response = receptionist.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ICS
    assert response.headers["Content-Disposition"] == f"attachment; filename=appointment-{records.appointment}.ics"
    (event,) = events(response.data)
    assert REASON in str(event["description"])
    assert client.get(path, headers=api_token("receptionist")).status_code == 200
    assert receptionist.get("/appointments/999999.ics").status_code == 404

    refused = login_as("pharmacist").get(path)
    assert refused.status_code == 403 and refused.is_json
    assert client.get(path, headers=api_token("pharmacist")).status_code == 403


def test_patients_download_only_their_own_appointments(records, login_as, client, api_token):
    path = f"/appointments/{records.appointment}.ics"

    assert login_as("patient").get(path).status_code == 200
    assert client.get(path, headers=api_token("patient")).status_code == 200
    stranger = login_as("ical_patient2")
    assert stranger.get(path).status_code == 403
    assert stranger.get("/appointments/999999.ics").status_code == 404


def test_anonymous_visitors_must_log_in(records, client):
    path = f"/appointments/{records.appointment}.ics"

    response = client.get(path)
    assert response.status_code == 401 and response.is_json
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/appointments/999999.ics").status_code == 401  # no hint whether it exists
    assert client.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    page = client.get(path, headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"})
    assert page.status_code == 302 and "/login/" in page.headers["Location"]
