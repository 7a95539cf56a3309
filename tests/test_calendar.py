"""The back-office calendar: the data of a date range (filters, the clinic's zone, working hours),
the day/week/month pages, a doctor's own schedule, and dragging and booking in a real browser."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.models import Appointment, Department, Doctor, Patient, ScheduleException, Service, WorkSchedule
from app.services import calendar as cal
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings
from tests.factories import DAY, pick_record

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = ClinicSettings(timezone=ZONE)
MONDAY = date(2027, 1, 4)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), ZONE)


def add_appointment(db, patient: int, doctor: int, service: int, start: datetime, minutes: int = 20,
                    status: str = "confirmed") -> int:
    """Straight into the table (the calendar shows whatever is there, past or not)."""
    appointment = Appointment(patient_id=patient, doctor_id=doctor, service_id=service, start_at=start,
                              end_at=start + timedelta(minutes=minutes), status=status)
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


@pytest.fixture
def two_departments(db, clinic):
    """Clinic's doctor (department NOI, service KB) and a second doctor in another department with
    another service, each with one patient's appointment on MONDAY."""
    other_department = Department(code="NGOAI", name="Khoa Ngoại")
    db.session.add(other_department)
    db.session.flush()
    other = Doctor(full_name="Lê Văn Cường", department_id=other_department.id)
    db.session.add(other)
    db.session.flush()
    db.session.add(WorkSchedule(doctor_id=other.id, weekday=0, start_time=time(13, 0), end_time=time(17, 0),
                                valid_from=date(2020, 1, 1)))
    service = Service(code="NS", name="Nội soi", duration_minutes=30, department_id=other_department.id)
    service.doctors.append(other)
    patient = Patient(code="BN900001", full_name="Phạm Thị Dung")
    db.session.add_all([service, patient])
    db.session.commit()
    first = add_appointment(db, clinic.patient, clinic.doctor, clinic.service, at(MONDAY, "09:00"))
    second = add_appointment(db, patient.id, other.id, service.id, at(MONDAY, "14:00"), 30)
    return {"doctor": clinic.doctor, "other": other.id, "department": clinic.department,
            "other_department": other_department.id, "service": clinic.service, "other_service": service.id,
            "first": first, "second": second, "patient": patient.id}


# --- the data ------------------------------------------------------------------------------------


def test_ranges_day_week_month():
    wednesday = date(2027, 1, 6)
    assert cal.date_range("day", wednesday) == (wednesday, wednesday)
    assert cal.date_range("week", wednesday) == (date(2027, 1, 4), date(2027, 1, 10))
    assert cal.date_range("week", date(2027, 1, 10)) == (date(2027, 1, 4), date(2027, 1, 10))  # Sunday
    assert cal.date_range("month", wednesday) == (date(2027, 1, 1), date(2027, 1, 31))
    assert cal.date_range("month", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert cal.shift("month", date(2027, 1, 31), -1) == date(2026, 12, 1)
    assert cal.shift("month", date(2027, 12, 5), 1) == date(2028, 1, 1)
    assert cal.shift("week", wednesday, 1) == date(2027, 1, 13)
    assert cal.shift("day", wednesday, -1) == date(2027, 1, 5)
    with pytest.raises(ValidationFailed):
        cal.date_range("year", wednesday)


def test_filters_by_doctor_department_and_service(db, two_departments):
    t = two_departments
    everything = cal.calendar(db.session, SETTINGS, MONDAY, MONDAY)
    assert {a.id for a in everything.appointments} == {t["first"], t["second"]}
    assert {d.id for d in everything.doctors} == {t["doctor"], t["other"]}
    by_doctor = cal.calendar(db.session, SETTINGS, MONDAY, MONDAY, doctor_id=t["other"])
    assert [a.id for a in by_doctor.appointments] == [t["second"]]
    assert [d.id for d in by_doctor.doctors] == [t["other"]]
    by_department = cal.calendar(db.session, SETTINGS, MONDAY, MONDAY, department_id=t["department"])
    assert [a.id for a in by_department.appointments] == [t["first"]]
    assert [d.id for d in by_department.doctors] == [t["doctor"]]
    by_service = cal.calendar(db.session, SETTINGS, MONDAY, MONDAY, service_id=t["other_service"])
    assert [a.id for a in by_service.appointments] == [t["second"]]
    assert [d.id for d in by_service.doctors] == [t["other"]]
    shown = by_service.appointments[0]
    assert (shown.patient_code, shown.patient_name, shown.service) == ("BN900001", "Phạm Thị Dung", "Nội soi")
    assert shown.start == datetime(2027, 1, 4, 14, 0) and shown.end == datetime(2027, 1, 4, 14, 30)
    assert shown.doctor == "Lê Văn Cường" and shown.status == "confirmed"


def test_days_are_clinic_days_not_utc_days(db, clinic):
    # 06:30 in Hà Nội is 23:30 UTC the day before; 23:30 on Sunday is still that week.
    early = add_appointment(db, clinic.patient, clinic.doctor, clinic.service, at(MONDAY, "06:30"))
    late = add_appointment(db, clinic.patient, clinic.doctor, clinic.service, at(MONDAY + timedelta(days=6), "23:30"))
    outside = add_appointment(db, clinic.patient, clinic.doctor, clinic.service,
                              at(MONDAY, "00:00") - timedelta(minutes=30))
    first, last = cal.date_range("week", MONDAY)
    found = cal.appointments(db.session, SETTINGS, first, last)
    assert [a.id for a in found] == [early, late]
    assert found[0].start == datetime(2027, 1, 4, 6, 30) and found[0].day == MONDAY
    assert outside not in [a.id for a in cal.appointments(db.session, SETTINGS, MONDAY, MONDAY)]
    assert [a.id for a in cal.appointments(db.session, SETTINGS, MONDAY - timedelta(days=1),
                                           MONDAY - timedelta(days=1))] == [outside]


def test_working_intervals_and_days_off(db, clinic, two_departments):
    other = two_departments["other"]
    tuesday = MONDAY + timedelta(days=1)
    db.session.add(WorkSchedule(doctor_id=other, weekday=1, start_time=time(8, 0), end_time=time(12, 0),
                                valid_from=date(2020, 1, 1)))
    db.session.add(ScheduleException(doctor_id=other, kind="leave", start_date=tuesday, end_date=tuesday))
    db.session.commit()
    data = cal.calendar(db.session, SETTINGS, *cal.date_range("week", MONDAY), doctor_id=other)
    doctor = data.doctors[0]
    assert doctor.intervals[MONDAY] == [(datetime(2027, 1, 4, 13, 0), datetime(2027, 1, 4, 17, 0))]
    assert doctor.intervals[tuesday] == [] and doctor.days_off == {tuesday: "leave"}
    assert doctor.intervals[MONDAY + timedelta(days=2)] == []
    assert cal.hour_bounds(data) == (13, 17)
    # The clinic-wide grid runs from the earliest to the latest working hour of every doctor.
    assert cal.hour_bounds(cal.calendar(db.session, SETTINGS, MONDAY, MONDAY)) == (7, 19)


# --- the pages -----------------------------------------------------------------------------------


def test_receptionist_sees_appointments_in_day_week_and_month(db, login_as, two_departments):
    browser = login_as("receptionist")
    for view in ("day", "week", "month"):
        page = browser.get(f"/calendar/?view={view}&date={MONDAY}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, view
        assert "Nguyễn Văn An" in html and "Phạm Thị Dung" in html, view
        assert "cal-status-confirmed" in html and "Confirmed" in html, view  # coloured, with a legend
    day = browser.get(f"/calendar/?view=day&date={MONDAY}").get_data(as_text=True)
    assert day.count('data-offset=') == 2 and 'data-can-write="1"' in day  # a column per doctor
    week = browser.get(f"/calendar/?view=week&date={MONDAY}").get_data(as_text=True)
    assert week.count('data-offset=') == 7
    assert f"date={MONDAY - timedelta(weeks=1)}" in week and f"date={MONDAY + timedelta(weeks=1)}" in week
    filtered = browser.get(f"/calendar/?view=week&date={MONDAY}&department_id={two_departments['other_department']}")
    assert "Phạm Thị Dung" in filtered.get_data(as_text=True)
    assert "Nguyễn Văn An" not in filtered.get_data(as_text=True)
    assert "Calendar" in browser.get("/").get_data(as_text=True)  # the menu entry


def test_one_doctors_week_marks_leave(db, login_as, two_departments):
    other = two_departments["other"]
    db.session.add(ScheduleException(doctor_id=other, kind="leave", start_date=MONDAY + timedelta(days=2),
                                     end_date=MONDAY + timedelta(days=2)))
    db.session.commit()
    html = login_as("receptionist").get(f"/calendar/?view=week&date={MONDAY}&doctor_id={other}").get_data(True)
    assert html.count("cal-col-off") == 1 and "On leave" in html
    assert 'class="cal-work"' in html and "Nguyễn Văn An" not in html


def test_who_may_see_it(db, login_as, two_departments):
    assert login_as("pharmacist").get("/calendar/").status_code == 403
    assert login_as("patient").get("/calendar/").status_code == 403
    manager = login_as("manager").get(f"/calendar/?view=day&date={MONDAY}").get_data(as_text=True)
    assert 'data-can-write="0"' in manager and "cal-movable" not in manager and 'id="cal-book"' not in manager


@pytest.mark.parametrize("query", ["date=2027-13-01", "date=yesterday", "view=year", "doctor_id=abc",
                                   "department_id=-1", "date=0001-01-01", "service_id=99999999999"])
def test_bad_parameters_are_400(login_as, query):
    page = login_as("receptionist").get(f"/calendar/?{query}")
    assert page.status_code == 400
    assert "Traceback" not in page.get_data(as_text=True)


def test_malformed_date_says_why(login_as):
    page = login_as("receptionist").get("/calendar/?view=week&date=2027-02-30")
    assert page.status_code == 400 and "2026-12-01" in page.get_data(as_text=True)


def test_my_schedule_shows_only_my_appointments(app, db, login_as, two_departments):
    doctor_user = app.appbuilder.sm.find_user(username="doctor")
    db.session.get(Doctor, two_departments["other"]).user_id = doctor_user.id
    db.session.commit()
    browser = login_as("doctor")
    for view in ("day", "week"):
        page = browser.get(f"/calendar/mine?view={view}&date={MONDAY}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Phạm Thị Dung" in html and "Nguyễn Văn An" not in html
        assert "My schedule" in html
    assert browser.get(f"/calendar/mine?view=month&date={MONDAY}").status_code == 400
    assert login_as("receptionist").get("/calendar/mine").status_code == 404  # not a doctor


# --- in a browser --------------------------------------------------------------------------------


def _y(page, hhmm: str) -> float:
    grid = page.locator(".cal-grid")
    first = int(grid.get_attribute("data-start-minute"))
    per_minute = float(grid.get_attribute("data-px-per-minute"))
    hours, minutes = map(int, hhmm.split(":"))
    return (hours * 60 + minutes - first) * per_minute


def _book_another_patient_at_11(api, clinic) -> None:
    other_patient = api.create("patient", {"full_name": "Võ Thị Hoa", "phone": "0903 222 333"})
    api.create("appointment", {"patient": other_patient, "doctor": clinic.doctor, "service": clinic.service,
                               "start_at": datetime.combine(DAY, time(11, 0), ZONE).isoformat()})


def test_drag_an_appointment_to_another_time(page_as, api, clinic, db):
    moved = clinic.appointment  # 09:00 on DAY
    _book_another_patient_at_11(api, clinic)
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/calendar/?view=day&date={DAY}&doctor_id={clinic.doctor}")
    block = page.locator(f'.cal-appt[data-id="{moved}"]')
    column = page.locator(".cal-col").first
    # Onto the other appointment: the server refuses, its message shows and the block goes back.
    block.drag_to(column, source_position={"x": 10, "y": 4}, target_position={"x": 30, "y": _y(page, "11:00") + 10})
    banner = page.locator("#cal-message")
    banner.wait_for(state="visible")
    assert "already has an appointment" in banner.inner_text()
    assert block.evaluate("b => parseFloat(b.style.top)") == _y(page, "09:00")
    assert block.evaluate("b => b.parentNode.classList.contains('cal-col') && !b.classList.contains('cal-dragging')")
    # Onto a free time: saved, and the page shows it there.
    block.drag_to(column, source_position={"x": 10, "y": 4}, target_position={"x": 30, "y": _y(page, "14:00") + 10})
    page.locator(f'.cal-appt[data-id="{moved}"][data-start="{DAY}T14:00:00"]').wait_for()
    db.session.expire_all()
    saved = db.session.get(Appointment, moved)
    assert saved.start_at.astimezone(ZONE) == datetime.combine(DAY, time(14, 0), ZONE)
    assert saved.doctor_id == clinic.doctor


def test_click_an_empty_time_and_book(page_as, clinic, db):
    assert clinic.patient and clinic.service
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/calendar/?view=day&date={DAY}&doctor_id={clinic.doctor}")
    page.locator(".cal-col").first.click(position={"x": 30, "y": _y(page, "15:00") + 5})
    dialog = page.locator("#cal-book")
    dialog.wait_for(state="visible")
    assert "15:00" in dialog.locator(".cal-book-when").inner_text()
    pick_record(page, "#cal-book-patient", "nguyen van an", "Nguyễn Văn An")
    page.select_option("#cal-book-service", str(clinic.service))
    page.click(".cal-book-submit")
    page.locator(f'.cal-appt[data-start="{DAY}T15:00:00"]', has_text="Nguyễn Văn An").wait_for()
    booked = db.session.query(Appointment).filter_by(patient_id=clinic.patient).all()
    assert len(booked) == 1 and booked[0].start_at.astimezone(ZONE) == datetime.combine(DAY, time(15, 0), ZONE)


def _tab_to(page, selector: str, limit: int = 300) -> None:
    """Press Tab until the focused element matches ``selector``, as a keyboard user gets there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _type_clinic_time(page, day: date, hhmm: str) -> None:
    """Type into the focused datetime-local field, field by field (en-US: mm dd yyyy, Tab, hh mm AM/PM)."""
    hours, minutes = map(int, hhmm.split(":"))
    page.keyboard.type(f"{day:%m%d%Y}")
    page.keyboard.press("Tab")
    page.keyboard.type(f"{(hours - 1) % 12 + 1:02d}{minutes:02d}{'P' if hours >= 12 else 'A'}")


def test_move_an_appointment_with_the_keyboard_only(page_as, api, clinic, db):
    moved = clinic.appointment  # 09:00 on DAY, with the clinic's doctor
    other = api.create("doctor", {"full_name": "Lê Văn Cường", "department": clinic.department})
    for weekday in range(7):
        api.create("work_schedule", {"doctor": other, "weekday": weekday, "start_time": "07:00:00",
                                     "end_time": "19:00:00", "valid_from": "2020-01-01"})
    assert api.put("service", clinic.service, {"doctors": [clinic.doctor, other]}).status_code == 200
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/calendar/?view=day&date={DAY}")  # a column per doctor
    _tab_to(page, f'.cal-appt[data-id="{moved}"]')
    page.keyboard.press("Enter")
    page.locator("#cal-move").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "cal-move-start"
    assert page.input_value("#cal-move-start") == f"{DAY}T09:00"
    # To the next day at 10:30 with the other doctor, then "Move".
    tomorrow = DAY + timedelta(days=1)
    _type_clinic_time(page, tomorrow, "10:30")
    _tab_to(page, "#cal-move-doctor")
    page.keyboard.type("L")  # the select's type-ahead
    assert page.input_value("#cal-move-doctor") == str(other)
    _tab_to(page, ".cal-move-submit")
    page.keyboard.press("Enter")
    # The calendar reloads on the new day, with the keyboard focus on the moved appointment.
    block = page.locator(f'.cal-appt[data-id="{moved}"][data-start="{tomorrow}T10:30:00"]')
    block.wait_for()
    assert f"date={tomorrow}" in page.url
    assert block.evaluate("b => b.parentNode.dataset.doctor") == str(other)
    expect(block).to_be_focused()  # (no wait_for_function: its polling evals a string, which the CSP forbids)
    db.session.expire_all()
    saved = db.session.get(Appointment, moved)
    assert saved.start_at.astimezone(ZONE) == datetime.combine(tomorrow, time(10, 30), ZONE)
    assert saved.doctor_id == other


def test_a_keyboard_move_onto_a_taken_time_says_why_and_moves_nothing(page_as, api, clinic, db):
    moved = clinic.appointment  # 09:00 on DAY
    _book_another_patient_at_11(api, clinic)
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/calendar/?view=week&date={DAY}&doctor_id={clinic.doctor}")
    _tab_to(page, f'.cal-appt[data-id="{moved}"]')
    page.keyboard.press(" ")  # Space picks it up too
    page.locator("#cal-move").wait_for(state="visible")
    assert page.locator("#cal-move-doctor").count() == 0  # a week's columns are days: the doctor stays
    _type_clinic_time(page, DAY, "11:00")
    _tab_to(page, ".cal-move-submit")
    page.keyboard.press("Enter")
    message = page.locator("#cal-move .cal-move-message")
    expect(message).to_have_text(re.compile(r"\S"))
    assert "already has an appointment" in message.inner_text()
    assert message.get_attribute("role") == "alert" and message.is_visible()
    assert page.locator("#cal-move").is_visible()  # still open, to try another time
    db.session.expire_all()
    kept = db.session.get(Appointment, moved)
    assert kept.start_at.astimezone(ZONE) == datetime.combine(DAY, time(9, 0), ZONE)
    assert api.show("appointment", moved)["start_at"].startswith(f"{DAY}T02:00")  # 09:00 at UTC+7, in UTC
    # Escape closes the form and gives the focus back to the appointment.
    page.keyboard.press("Escape")
    assert page.locator("#cal-move").is_hidden()
    assert page.evaluate("document.activeElement.dataset.id") == str(moved)


def test_choose_an_empty_time_with_the_keyboard_to_book(page_as, clinic):
    assert clinic.patient and clinic.service
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/calendar/?view=day&date={DAY}&doctor_id={clinic.doctor}")
    _tab_to(page, ".cal-col")
    status = page.locator("#cal-status")
    assert status.inner_text().startswith("07:00")
    for key in ("ArrowDown", "ArrowDown", "PageDown"):  # 15 + 15 + 60 minutes
        page.keyboard.press(key)
    assert status.inner_text() == "08:30, press Enter to book."
    page.keyboard.press("Enter")
    dialog = page.locator("#cal-book")
    dialog.wait_for(state="visible")
    assert "08:30" in dialog.locator(".cal-book-when").inner_text()
    assert page.evaluate("document.activeElement.id") == "cal-book-doctor"
    assert page.input_value("#cal-book-doctor") == str(clinic.doctor)
    assert page.locator("#cal-book input[name=start]").input_value() == f"{DAY}T08:30:00+07:00"
    page.keyboard.press("Escape")
    assert dialog.is_hidden() and page.evaluate("document.activeElement.classList.contains('cal-col')")


def test_calendar_fits_a_phone(page_as, clinic):
    assert clinic.appointment
    page = page_as("receptionist", width=390)
    for view in ("day", "week", "month"):
        page.goto(f"{page.base_url}/calendar/?view={view}&date={DAY}")
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (view, overflow)
        assert page.locator(".cal-scroll").is_visible()


def test_the_calendar_renders_with_csrf_protection_on(login_as):
    """Production runs with CSRF on: the page then carries a token for its booking requests."""
    browser = login_as("receptionist")
    for view in ("day", "week", "month"):
        response = browser.get(f"/calendar/?view={view}")
        assert response.status_code == 200, view
    assert 'data-csrf="' in browser.get("/calendar/?view=week").get_data(as_text=True)
