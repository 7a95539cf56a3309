"""The receptionist's front desk in a real browser (Debian's headless Chromium): a walk-in of
"Nguyễn Thị Hồng Nhung" registered, booked now and checked in; an expected patient checked in
with one click; Nhung called; then the doctor's "Call next" on My day, in Vietnamese at phone width
(390 px). ``FRONT_DESK_SHOTS=<folder>`` keeps screenshots (desktop and 390 px, en and vi)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest

from tests.desk_helpers import login_doctor, slot_after


def _no_overflow(page) -> None:
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1


@pytest.fixture
def desk_day(app, db, clinic, desk_clock):
    """The login "doctor" is a doctor working all day offering the clinic's service; one patient,
    Phạm Văn Đức, is expected later today (the desk's clock reads 10:00 today, whatever the hour
    the test runs)."""
    from app.models import Appointment, Patient, Service

    doctor = login_doctor(app, db, full_name="Lê Minh Tâm", title="BS.", department_id=clinic.department,
                          all_day=True)
    service = db.session.get(Service, clinic.service)
    service.doctors.append(doctor)
    patient = Patient(full_name="Phạm Văn Đức", code="BNDUC1", search_text="pham van duc bnduc1")
    db.session.add(patient)
    db.session.flush()
    start = slot_after(desk_clock(), 15)
    db.session.add(Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=clinic.service,
                               start_at=start, end_at=start + timedelta(minutes=20), status="confirmed"))
    db.session.commit()
    return doctor.id


def _row(page, name: str):
    return page.locator(".fd-row", has_text=name)


def test_receptionist_walk_in_check_in_call_and_doctor_calls_next(page_as, desk_day, app):
    shots = os.environ.get("FRONT_DESK_SHOTS")

    def shot(page, name: str) -> None:
        if shots:
            os.makedirs(shots, exist_ok=True)
            page.screenshot(path=f"{shots}/{name}.png", full_page=True)

    page = page_as("receptionist")
    page.goto(f"{page.base_url}/clinic/language/en?next=/front-desk/")
    assert "Phạm Văn Đức" in page.inner_text("#fd-board")
    shot(page, "board_en_1280")
    page.click("#fd-walk-in summary")
    page.fill("#full_name", "Nguyễn Thị Hồng Nhung")
    page.fill("#phone", "0903 123 456")
    page.fill("#date_of_birth", "20/07/1985")
    page.select_option("#service", label="Khám tổng quát")
    page.select_option("#doctor", label="BS. Lê Minh Tâm")
    shot(page, "walk_in_form_en_1280")
    page.click("text=Book and check in")
    page.wait_for_load_state()
    assert "Nguyễn Thị Hồng Nhung checked in: number 1" in page.inner_text("body")
    nhung = _row(page, "Nguyễn Thị Hồng Nhung")
    assert nhung.get_attribute("data-state") == "waiting"
    assert nhung.locator(".fd-number").inner_text() == "1"

    _row(page, "Phạm Văn Đức").locator("button", has_text="Check in").click()
    page.locator("#fd-message", has_text="number 2").wait_for()
    page.locator(".fd-row[data-state=waiting]", has_text="Phạm Văn Đức").wait_for()
    _row(page, "Nguyễn Thị Hồng Nhung").locator("button", has_text="Call").click()
    page.locator(".fd-row[data-state=called]", has_text="Nguyễn Thị Hồng Nhung").wait_for()
    assert "called" in _row(page, "Nguyễn Thị Hồng Nhung").inner_text()
    # who called: the colleague's full name (family name first, as typed), not their login
    assert "by Tester Receptionist" in _row(page, "Nguyễn Thị Hồng Nhung").inner_text()
    shot(page, "board_called_en_1280")

    # the receptionist's board at phone width, in Vietnamese
    phone = page_as("receptionist", width=390)
    phone.goto(f"{phone.base_url}/clinic/language/vi?next=/front-desk/")
    assert "Quầy tiếp đón" in phone.inner_text("h1")
    assert "Đã gọi" in _row(phone, "Nguyễn Thị Hồng Nhung").inner_text()
    assert "Tester Receptionist" in _row(phone, "Nguyễn Thị Hồng Nhung").inner_text()
    _no_overflow(phone)
    shot(phone, "board_vi_390")
    phone.goto(f"{phone.base_url}/clinic/language/en?next=/front-desk/")

    # the doctor, on a phone in Vietnamese: "Call next" calls number 2
    doctor = page_as("doctor", width=390)
    doctor.goto(f"{doctor.base_url}/clinic/language/vi?next=/my-day/")
    doctor.click("text=Gọi người tiếp theo")
    doctor.wait_for_load_state()
    assert "Đã gọi số 2: Phạm Văn Đức." in doctor.inner_text("body")
    _no_overflow(doctor)
    shot(doctor, "my_day_vi_390")
    doctor.goto(f"{doctor.base_url}/clinic/language/en?next=/my-day/")

    # the desk sees it on its next refresh (the realtime event, or the 10-second poll)
    page.evaluate("document.dispatchEvent(new Event('realtime:queue'))")
    page.locator(".fd-row[data-state=called]", has_text="Phạm Văn Đức").wait_for()
    shot(page, "board_after_call_next_en_1280")


def test_walk_in_of_a_patient_found_by_search_on_a_phone(page_as, desk_day, app, browser_engine, browser_logins,
                                                         live_server):
    """The walk-in's patient box searches as the receptionist types (it used to be a plain empty
    drop-down: an existing patient could not be chosen), here at 390 px in Vietnamese on a
    computer whose clock is in another zone: the board's "Updated" time is the clinic's."""
    from app.services.settings import ClinicSettings

    page_as("receptionist")  # logs in once; its cookies open the context below
    context = browser_engine.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN",
                                         timezone_id="America/Los_Angeles",
                                         storage_state=browser_logins["receptionist"])
    try:
        page = context.new_page()
        page.goto(f"{live_server}/clinic/language/vi?next=/front-desk/")
        page.locator("#fd-live", has_text=":").wait_for()
        clinic_now = datetime.now(ClinicSettings.from_config(app.config).timezone)
        shown = page.inner_text("#fd-live").split()[-1]
        assert abs((int(shown[:2]) - clinic_now.hour) % 24) in (0, 1, 23)  # an hour's edge at most
        page.click("#fd-walk-in summary")
        assert page.get_attribute("#date_of_birth", "placeholder") == "dd/mm/yyyy"
        page.click("#fd-walk-in .select2-selection")
        page.fill(".select2-search__field", "pham van duc")
        page.locator(".select2-results__option", has_text="Phạm Văn Đức").click()
        page.select_option("#service", label="Khám tổng quát")
        page.select_option("#doctor", label="BS. Lê Minh Tâm")
        _no_overflow(page)
        page.click("#fd-walk-in button[type=submit]")
        page.wait_for_load_state()
        assert "Phạm Văn Đức đã tiếp nhận: số 1" in page.inner_text("body")
        assert _row(page, "Phạm Văn Đức").locator("[data-slip-link]").count() == 1
        _no_overflow(page)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_my_day_shows_the_number_of_the_patient_in_consultation(page_as, desk_day, desk_clock, app, db, lang, width):
    """The doctor sees which number is in the room, on a phone too (the cell was hidden at 390 px)."""
    from app.models import Appointment
    from app.services import encounters
    from app.services.settings import ClinicSettings

    shots = os.environ.get("FRONT_DESK_SHOTS")
    duc = db.session.query(Appointment).filter_by(doctor_id=desk_day).one()
    duc.status, duc.queue_number, duc.checked_in_at = "checked_in", 7, desk_clock()
    duc.queue_date = duc.start_at.astimezone(ClinicSettings.from_config(app.config).timezone).date()
    db.session.commit()
    with app.test_request_context():
        encounters.start_visit(db.session, duc.id, app.appbuilder.sm.find_user(username="doctor"), desk_clock(),
                               settings=ClinicSettings.from_config(app.config))
    doctor = page_as("doctor", width=width)
    doctor.goto(f"{doctor.base_url}/clinic/language/{lang}?next=/my-day/")
    number = doctor.locator("tr[data-status=in_consultation] td.my-day-number")
    assert number.is_visible() and number.inner_text().split()[-1] == "7"
    _no_overflow(doctor)
    if shots:
        os.makedirs(shots, exist_ok=True)
        doctor.screenshot(path=f"{shots}/my_day_in_consultation_{lang}_{width}.png", full_page=True)
    doctor.goto(f"{doctor.base_url}/clinic/language/en?next=/my-day/")
