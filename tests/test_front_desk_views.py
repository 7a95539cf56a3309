"""The front desk page (issue 13, item 2): who sees and acts, CSRF on every change, no change on
GET, a walk-in through the form, and the 409 a second desk gets."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.desk_helpers import slot_after
from tests.test_front_desk import desk, settings  # noqa: F401 - fixtures


def _token(html: str) -> str:
    return re.search(r'(?:name="csrf_token"[^>]*value|data-csrf)="([^"]+)"', html).group(1)


@pytest.fixture
def today_visit(app, db, clinic, desk, desk_clock):  # noqa: F811
    """A confirmed appointment half an hour after the slot in progress (the desk's clock reads
    10:00 today: the doctor works 07:00-19:00)."""
    from app.models import Appointment, Patient
    from app.services import booking
    from app.services.settings import ClinicSettings

    clinic_settings = ClinicSettings.from_config(app.config)
    now = desk_clock()
    patient = clinic.save(Patient(full_name="Phạm Thị Lan"))
    start = slot_after(now.astimezone(clinic_settings.timezone), 30)
    booked = booking.book_appointment(db.session, patient_id=patient, doctor_id=desk.doctor, service_id=desk.service,
                                      start=start, settings=clinic_settings, channel="phone", now=now)
    return db.session.get(Appointment, booked.id)


@pytest.mark.parametrize("role, status", [("receptionist", 200), ("admin", 200), ("manager", 200),
                                          ("doctor", 200), ("cashier", 200), ("pharmacist", 403), ("lab", 403)])
def test_who_sees_the_front_desk(login_as, role, status):
    response = login_as(role).get("/front-desk/")
    assert response.status_code == (status if status == 200 else 302) or response.status_code == status
    if status == 200:
        assert "Front desk" in response.get_data(as_text=True)


def test_a_cashier_sees_no_buttons_a_manager_runs_the_desk(login_as, today_visit):
    cashier = login_as("cashier")
    page = cashier.get("/front-desk/").get_data(as_text=True)
    assert "Phạm Thị Lan" in page and "Check in" not in page and "Walk-in" not in page
    refused = cashier.post(f"/front-desk/check-in/{today_visit.id}", data={"csrf_token": _token(page)})
    assert refused.status_code in (302, 403)
    assert today_visit.status == "confirmed"
    manager = login_as("manager")
    page = manager.get("/front-desk/").get_data(as_text=True)
    assert "Check in" in page and "Walk-in" in page
    done = manager.post(f"/front-desk/check-in/{today_visit.id}", data={"csrf_token": _token(page)},
                        headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.get_json()["queue_number"] == 1


# Who may act on the front desk (permission FrontDesk): reception, managers, doctors, admins;
# cashiers read the board only; pharmacists and lab staff not even that. Page and REST API alike.
ACTORS = [("receptionist", True), ("manager", True), ("doctor", True), ("admin", True), ("cashier", False),
          ("pharmacist", False), ("lab", False)]


@pytest.mark.parametrize("role, acts", ACTORS)
def test_who_checks_in_calls_and_marks_no_show_through_the_api(app, db, api_token, today_visit, role, acts):
    from app.models import Appointment

    client = app.test_client()
    headers = api_token(role)
    board = client.get("/api/v1/front-desk/board", headers=headers)
    assert board.status_code == (200 if role not in ("pharmacist", "lab") else 403)
    steps = [f"/api/v1/front-desk/appointments/{today_visit.id}/{step}" for step in ("check-in", "call", "no-show")]
    answers = [client.post(url, json={}, headers=headers).status_code for url in steps]
    db.session.expire_all()
    appointment = db.session.get(Appointment, today_visit.id)
    if acts:
        assert answers == [200, 200, 200] and appointment.status == "no_show"
    else:
        assert answers == [403, 403, 403] and appointment.status == "confirmed"


@pytest.mark.parametrize("role, acts", ACTORS)
def test_who_walks_a_patient_in_on_the_page(app, db, login_as, desk, desk_clock, role, acts):  # noqa: F811 - desk
    from app.models import Appointment

    browser = login_as(role)
    page = browser.get("/front-desk/")
    token = _token(page.get_data(as_text=True)) if page.status_code == 200 else ""
    browser.post("/front-desk/walk-in", data={"csrf_token": token, "full_name": "Đỗ Văn Khách",
                                              "service": str(desk.service), "doctor": "0"})
    booked = db.session.execute(select(Appointment.status)).scalars().all()
    assert booked == (["checked_in"] if acts else [])


def test_check_in_needs_a_post_with_the_token(app, db, login_as, today_visit):
    from app.models import Appointment

    browser = login_as("receptionist")
    assert browser.get(f"/front-desk/check-in/{today_visit.id}").status_code == 405
    without = browser.post(f"/front-desk/check-in/{today_visit.id}", data={}, headers={"X-CSRFToken": ""})
    assert without.status_code == 400
    db.session.expire_all()
    assert db.session.get(Appointment, today_visit.id).status == "confirmed"
    token = _token(browser.get("/front-desk/").get_data(as_text=True))
    done = browser.post(f"/front-desk/check-in/{today_visit.id}", data={"csrf_token": token},
                        headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.get_json()["queue_number"] == 1
    slip = f"/front-desk/slip/{today_visit.id}"  # the checked-in patient's slip, with the ticket's QR code
    assert slip in browser.get("/front-desk/").get_data(as_text=True)
    assert browser.get(slip).status_code == 200
    again = browser.post(f"/front-desk/call/{today_visit.id}", data={"csrf_token": token},
                         headers={"Accept": "application/json"})
    assert again.status_code == 200
    second_desk = login_as("admin")
    token2 = _token(second_desk.get("/front-desk/").get_data(as_text=True))
    late = second_desk.post(f"/front-desk/call/{today_visit.id}", data={"csrf_token": token2},
                            headers={"Accept": "application/json"})
    assert late.status_code == 409
    assert "already called by Tester Receptionist" in late.get_json()["message"]
    board = browser.get("/front-desk/board.json").get_json()
    row = board["doctors"][0]["rows"][0]
    assert (row["state"], row["queue_number"], row["called_by"]) == ("called", 1, "Tester Receptionist")


def test_a_walk_in_through_the_form(app, db, login_as, desk, desk_clock):  # noqa: F811
    from app.models import Appointment, Patient

    browser = login_as("receptionist")
    page = browser.get("/front-desk/").get_data(as_text=True)
    missing = browser.post("/front-desk/walk-in", data={"csrf_token": _token(page), "service": str(desk.service),
                                                        "doctor": "0"})
    assert missing.status_code == 422
    assert "Find the patient or enter the new patient&#39;s name." in missing.get_data(as_text=True)
    done = browser.post("/front-desk/walk-in", data={
        "csrf_token": _token(page), "full_name": "Nguyễn Thị Hồng Nhung", "phone": "0903 123 456",
        "date_of_birth": "20/07/1985", "service": str(desk.service), "doctor": "0"}, follow_redirects=True)
    assert done.status_code == 200
    assert "Nguyễn Thị Hồng Nhung checked in: number 1" in done.get_data(as_text=True)
    patient = db.session.execute(select(Patient).where(Patient.full_name == "Nguyễn Thị Hồng Nhung")).scalar_one()
    assert patient.date_of_birth.isoformat() == "1985-07-20"
    appointment = db.session.execute(select(Appointment).where(Appointment.patient_id == patient.id)).scalar_one()
    assert (appointment.status, appointment.queue_number) == ("checked_in", 1)


def test_the_walk_in_form_searches_patients_and_shows_the_date_format(app, login_as, desk):  # noqa: F811
    """The patient picker keeps the class that turns it into a search box (a plain "form-control"
    select could never find an existing patient), and the date of birth says how to type it
    (FAB's text widget used to put the label there instead)."""
    browser = login_as("receptionist")
    page = browser.get("/clinic/language/vi?next=/front-desk/", follow_redirects=True).get_data(as_text=True)
    picker = re.search(r'<select[^>]*id="patient"[^>]*>', page).group(0)
    assert re.search(r'class="[^"]*\bremote-select\b', picker) and 'data-url="/lookup/Patient"' in picker
    birth = re.search(r'<input[^>]*id="date_of_birth"[^>]*>', page).group(0)
    assert 'placeholder="dd/mm/yyyy"' in birth and 'class="form-control"' in birth


def test_no_show_button_only_for_a_patient_who_is_late_or_here(app, db, login_as, today_visit):
    """today_visit starts in half an hour: checking in, yes; No-show, not yet."""
    page = login_as("receptionist").get("/front-desk/").get_data(as_text=True)
    row = re.search(r'<li class="fd-row[^"]*" data-appointment="%d".*?</li>' % today_visit.id, page, re.S).group(0)
    assert "Check in" in row and "No-show" not in row


def test_the_slip_leads_back_to_the_front_desk(app, db, login_as, today_visit):
    browser = login_as("receptionist")
    token = _token(browser.get("/front-desk/").get_data(as_text=True))
    browser.post(f"/front-desk/check-in/{today_visit.id}", data={"csrf_token": token})
    slip = browser.get(f"/front-desk/slip/{today_visit.id}").get_data(as_text=True)
    assert re.search(r'<a[^>]*href="/front-desk/"[^>]*data-front-desk-link', slip)
