"""The public site (/clinic): catalogue pages, online booking, sign-up and the patient portal."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import DAY, local_time, page_csrf_token


def _slot(hhmm: str = "09:00", days_after: int = 0) -> str:
    return datetime.fromisoformat(local_time(hhmm, days_after)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _confirm_url(clinic, start: str) -> str:
    return f"/clinic/book/confirm?service={clinic.service}&doctor={clinic.doctor}&start={start}"


def _make_patient(app, username: str | None = None, full_name: str = "Lê Thị Hoa") -> tuple[str, int]:
    """A login with role Patient and its linked patient record (password PASSWORD)."""
    from app.extensions import db
    from app.models import Patient
    from app.services import rules
    from app.services.settings import ClinicSettings

    username = username or f"p-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user(username, "Hoa", "Lê Thị", f"{username}@test.example", sm.find_role("Patient"),
                           password=PASSWORD)
        patient = Patient(full_name=full_name, phone="0987 654 321", user_id=user.id)
        rules.validate(db.session, patient, ClinicSettings.from_config(app.config))
        db.session.add(patient)
        db.session.commit()
        return username, patient.id


def _appointment(app, appointment_id: int):
    from app.extensions import db
    from app.models import Appointment

    with app.app_context():
        appointment = db.session.get(Appointment, appointment_id)
        return None if appointment is None else (appointment.status, appointment.patient_id, appointment.start_at,
                                                 appointment.channel)


def _appointments_of(app, patient_id: int) -> list[int]:
    from app.extensions import db
    from app.models import Appointment

    with app.app_context():
        return list(db.session.execute(select(Appointment.id).where(Appointment.patient_id == patient_id)).scalars())


# --- catalogue ---------------------------------------------------------------------------------


def test_services_pages_show_vietnamese_names_prices_and_departments(client, clinic):
    clinic.service  # noqa: B018  (builds the service on first use)
    for url in ("/clinic/", "/clinic/services"):
        response = client.get(url)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Khám tổng quát" in page and "Khoa Nội" in page
        assert "150,000" in page and "₫" in page  # format_currency in VND
        assert "20 minutes" in page
        assert 'name="viewport"' in page and "bootstrap.min.css" in page


def test_doctors_page_and_detail_with_next_free_slots(client, clinic, api):
    api.put("doctor", clinic.doctor, {"bio": "Bác sĩ nội khoa 10 năm kinh nghiệm.", "languages": "vi, en",
                                      "years_of_experience": 10})
    page = client.get("/clinic/doctors").get_data(as_text=True)
    assert "Trần Thị Bình" in page and "Nội tổng quát" in page and "200,000" in page
    assert "pub-avatar" in page
    clinic.service  # noqa: B018  (builds the service on first use)
    response = client.get(f"/clinic/doctors/{clinic.doctor}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Bác sĩ nội khoa 10 năm kinh nghiệm." in page and "Vietnamese, English" in page and "10 years" in page
    assert "Khám tổng quát" in page
    assert page.count('class="btn btn-default pub-slot"') == 6
    assert "/clinic/book/confirm?" in page
    assert client.get("/clinic/doctors/999999").status_code == 404


def test_booking_steps_service_doctor_any_and_slots(client, clinic):
    clinic.service  # noqa: B018  (builds the service on first use)
    page = client.get("/clinic/book").get_data(as_text=True)
    assert f"/clinic/book?service={clinic.service}" in page
    page = client.get(f"/clinic/book?service={clinic.service}").get_data(as_text=True)
    assert "Any doctor" in page and f"doctor={clinic.doctor}" in page
    page = client.get(f"/clinic/book?service={clinic.service}&doctor=any").get_data(as_text=True)
    assert "Trần Thị Bình" in page and "/clinic/book/confirm?" in page
    page = client.get(f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}").get_data(as_text=True)
    assert page.count('class="pub-date') >= 13  # 14 days; today may already be past the last slot
    page = client.get(f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}&day={DAY}").get_data(as_text=True)
    assert _slot("09:00") in page


# --- guests and sign-up ------------------------------------------------------------------------


def test_guest_picking_a_slot_logs_in_and_comes_back(app, client, clinic):
    url = _confirm_url(clinic, _slot())
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login/") and "next=" in location
    assert unquote(location.split("next=", 1)[1]) == url
    username, _patient = _make_patient(app)
    response = client.post(location, data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "Confirm your appointment" in page and "Khám tổng quát" in page


def test_signup_refuses_bad_fields_by_field(client):
    response = client.post("/clinic/signup", data={
        "full_name": "", "phone": "12", "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = dict(re.findall(r'data-field="(\w+)">([^<]+)<', page))
    assert set(errors) == {"full_name", "phone", "email", "password"}
    assert "8" in errors["password"]


def test_signup_reports_a_bad_date_with_the_other_fields_and_keeps_the_values(app, client):
    response = client.post("/clinic/signup", data={
        "full_name": "Phạm Văn Đức", "phone": "12", "email": "duc@example.com", "date_of_birth": "20/07/1985",
        "password": "long-enough-1"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = dict(re.findall(r'data-field="(\w+)">([^<]+)<', page))
    assert set(errors) == {"phone", "date_of_birth"} and "YYYY-MM-DD" in errors["date_of_birth"]
    assert 'value="Phạm Văn Đức"' in page and 'value="20/07/1985"' in page
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="duc@example.com") is None


# Signing up, confirming and linking: tests/test_signup.py.


# --- booking, the portal, cancelling and moving ------------------------------------------------


def test_patient_books_sees_cancels_and_the_slot_is_free_again(app, login_as, clinic):
    username, patient_id = _make_patient(app)
    browser = login_as(username)
    start = _slot("10:00")
    slots_url = f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}&day={DAY}"
    assert start in browser.get(slots_url).get_data(as_text=True)
    response = browser.post("/clinic/book/confirm", data={
        "service": clinic.service, "doctor": clinic.doctor, "start": start, "reason": "Đau đầu"})
    assert response.status_code == 302 and response.headers["Location"] == "/clinic/me/appointments"
    [appointment_id] = _appointments_of(app, patient_id)
    status, owner, _start, channel = _appointment(app, appointment_id)
    assert (status, owner, channel) == ("requested", patient_id, "online")
    assert start not in browser.get(slots_url).get_data(as_text=True)

    page = browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert "Khám tổng quát" in page and "Trần Thị Bình" in page and 'data-status="requested"' in page
    assert f"/appointments/{appointment_id}.ics" in page
    assert browser.get(f"/appointments/{appointment_id}.ics").status_code == 200

    # the same slot again: a friendly 409 on the page
    taken = browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                       "start": start})
    assert taken.status_code == 409 and "pub-error" in taken.get_data(as_text=True)
    # a time off the grid: 422
    odd = browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                     "start": _slot("10:07")})
    assert odd.status_code == 422 and "every 15 minutes" in odd.get_data(as_text=True)

    refused = browser.post(f"/clinic/me/appointments/{appointment_id}/cancel", data={"reason": " "},
                           follow_redirects=True)
    assert "Say why" in refused.get_data(as_text=True)
    assert _appointment(app, appointment_id)[0] == "requested"
    done = browser.post(f"/clinic/me/appointments/{appointment_id}/cancel", data={"reason": "Bận việc"},
                        follow_redirects=True)
    assert "was cancelled" in done.get_data(as_text=True)
    assert _appointment(app, appointment_id)[0] == "cancelled"
    assert start in browser.get(slots_url).get_data(as_text=True)


def test_patient_moves_an_appointment(app, login_as, clinic):
    username, patient_id = _make_patient(app)
    browser = login_as(username)
    browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                               "start": _slot("10:00")})
    [appointment_id] = _appointments_of(app, patient_id)
    page = browser.get(f"/clinic/me/appointments/{appointment_id}/move").get_data(as_text=True)
    assert _slot("11:00") in page and _slot("10:00") not in page
    response = browser.post(f"/clinic/me/appointments/{appointment_id}/move", data={"start": _slot("11:00")})
    assert response.status_code == 302
    assert _appointment(app, appointment_id)[2] == datetime.fromisoformat(local_time("11:00")).astimezone(
        timezone.utc)


def test_portal_forms_name_the_broken_field_and_write_nothing(app, login_as, clinic):
    username, patient_id = _make_patient(app)
    browser = login_as(username)
    too_long = browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                          "start": _slot("10:00"), "reason": "x" * 501})
    assert too_long.status_code == 422 and 'data-field="reason"' in too_long.get_data(as_text=True)
    assert _appointments_of(app, patient_id) == []
    browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                               "start": _slot("10:00")})
    [appointment_id] = _appointments_of(app, patient_id)
    moved = browser.post(f"/clinic/me/appointments/{appointment_id}/move", data={"start": "tomorrow at ten"})
    assert moved.status_code == 422 and "Choose one of the times below." in moved.get_data(as_text=True)
    assert browser.get(f"/clinic/book/confirm?service={clinic.service}&doctor={clinic.doctor}&start=soon")\
        .status_code == 404
    assert _appointment(app, appointment_id)[2] == datetime.fromisoformat(local_time("10:00")).astimezone(
        timezone.utc)


def test_another_patients_appointment_is_404(app, login_as, clinic):
    owner, owner_patient = _make_patient(app, full_name="Chủ Lịch Hẹn")
    login_as(owner).post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                       "start": _slot("09:00")})
    [appointment_id] = _appointments_of(app, owner_patient)
    other, _ = _make_patient(app)
    browser = login_as(other)
    assert "Chủ Lịch Hẹn" not in browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert f'data-id="{appointment_id}"' not in browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert browser.post(f"/clinic/me/appointments/{appointment_id}/cancel", data={"reason": "x"}).status_code == 404
    assert browser.get(f"/clinic/me/appointments/{appointment_id}/move").status_code == 404
    assert browser.post(f"/clinic/me/appointments/{appointment_id}/move",
                        data={"start": _slot("11:00")}).status_code == 404
    assert browser.get(f"/appointments/{appointment_id}.ics").status_code in (403, 404)
    assert _appointment(app, appointment_id)[0] == "requested"


def test_cut_off_refuses_changes_online(app, login_as, clinic, monkeypatch):
    username, patient_id = _make_patient(app)
    browser = login_as(username)
    browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                               "start": _slot("09:00")})
    [appointment_id] = _appointments_of(app, patient_id)
    monkeypatch.setitem(app.config, "BOOKING_PATIENT_CUTOFF_HOURS", 24 * 30)
    page = browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert "too late to change" in page
    refused = browser.post(f"/clinic/me/appointments/{appointment_id}/cancel", data={"reason": "Bận"},
                           follow_redirects=True)
    assert "Changes online are possible until 720 hours" in refused.get_data(as_text=True)
    moved = browser.post(f"/clinic/me/appointments/{appointment_id}/move", data={"start": _slot("11:00")})
    assert moved.status_code == 409 and "please call" in moved.get_data(as_text=True)
    assert _appointment(app, appointment_id)[0] == "requested"


def test_online_booking_switched_off(app, client, login_as, clinic, monkeypatch):
    clinic.service  # noqa: B018  (builds the service on first use)
    monkeypatch.setitem(app.config, "BOOKING_ONLINE_ENABLED", False)
    for url in ("/clinic/book", f"/clinic/book?service={clinic.service}", "/clinic/"):
        assert "Online booking is switched off; please call the clinic." in client.get(url).get_data(as_text=True)
    username, patient_id = _make_patient(app)
    response = login_as(username).post("/clinic/book/confirm", data={
        "service": clinic.service, "doctor": clinic.doctor, "start": _slot()})
    assert "switched off" in response.get_data(as_text=True)
    assert _appointments_of(app, patient_id) == []


def test_staff_login_without_patient_record_is_told_so(login_as, clinic):
    response = login_as("receptionist").get("/clinic/me/appointments")
    assert response.status_code == 403 and "not linked to a patient" in response.get_data(as_text=True)


def test_csrf_token_is_required(app, login_as, clinic):
    username, patient_id = _make_patient(app)
    browser = login_as(username)
    response = browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                          "start": _slot()}, csrf=False)
    assert response.status_code == 400
    assert _appointments_of(app, patient_id) == []
    page = browser.get(_confirm_url(clinic, _slot())).get_data(as_text=True)
    token = page_csrf_token(page)
    response = browser.post("/clinic/book/confirm", data={"service": clinic.service, "doctor": clinic.doctor,
                                                          "start": _slot(), "csrf_token": token}, csrf=False)
    assert response.status_code == 302 and len(_appointments_of(app, patient_id)) == 1


# --- in a real browser -------------------------------------------------------------------------


def test_browser_books_end_to_end_and_fits_a_phone(app, page_as, clinic):
    clinic.service  # noqa: B018  (builds the service on first use)
    username, patient_id = _make_patient(app)
    page = page_as(username)
    base = page.base_url
    page.goto(f"{base}/clinic/")
    page.click("a.btn-primary:has-text('Book an appointment')")
    page.click("a.pub-choice:has-text('Khám tổng quát')")
    page.click("a.pub-choice:has-text('Trần Thị Bình')")
    page.locator("a.pub-slot").first.click()
    page.wait_for_selector("text=Confirm your appointment")
    page.fill("#reason", "Khám định kỳ")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_url("**/clinic/me/appointments")
    assert page.locator(".pub-appointment[data-id]").count() == 1
    [appointment_id] = _appointments_of(app, patient_id)
    status, owner, _start, channel = _appointment(app, appointment_id)
    assert (status, owner, channel) == ("requested", patient_id, "online")

    phone = page_as(username, width=390)
    for path in ("/clinic/", "/clinic/services", "/clinic/doctors", f"/clinic/doctors/{clinic.doctor}",
                 f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}", "/clinic/me/appointments",
                 f"/clinic/me/appointments/{appointment_id}/move"):
        phone.goto(f"{base}{path}")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} overflows by {overflow}px at 390px"
