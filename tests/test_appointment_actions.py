"""The server-rendered workflow pages: one button per legal next status, each POST going through
the booking service (domain errors flashed, never a 500), cancelling the rest of a series, and
booking a recurring series from a plain form (preview, then book, optionally skipping dates)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.models import Appointment, AppointmentSeries, ScheduleException
from tests.factories import DAY, START, local_time


@pytest.fixture
def confirmed(api, clinic) -> int:
    return api.create("appointment", {"patient": clinic.patient, "doctor": clinic.doctor, "service": clinic.service,
                                      "start_at": START, "status": "confirmed"})


def page(browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def act(browser, pk: int, **form):
    response = browser.post(f"/appointment-actions/{pk}/status", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    return page(browser, response.headers["Location"])


def status_of(db, pk: int) -> Appointment:
    db.session.expire_all()
    return db.session.get(Appointment, pk)


def test_a_confirmed_appointment_shows_only_its_legal_buttons(confirmed, login_as):
    html = page(login_as("receptionist"), f"/appointment-actions/{confirmed}")
    for legal in ("checked_in", "cancelled", "no_show"):
        assert f'data-action="{legal}"' in html
    for illegal in ("completed", "in_consultation", "confirmed", "cancel-rest"):
        assert f'data-action="{illegal}"' not in html
    assert "Nguyễn Văn An" in html and "Khám tổng quát" in html
    assert 'id="appointment-history"' in html


def test_check_in_gives_queue_number_one_and_history(confirmed, login_as, db):
    browser = login_as("receptionist")
    html = act(browser, confirmed, status="checked_in")
    appointment = status_of(db, confirmed)
    assert appointment.status == "checked_in" and appointment.queue_number == 1
    assert "Queue number 1." in html
    assert 'data-action="in_consultation"' in html and 'data-action="checked_in"' not in html
    assert "receptionist" in html.lower()  # who, in the history
    act(browser, confirmed, status="in_consultation")
    html = act(browser, confirmed, status="completed")
    assert status_of(db, confirmed).status == "completed" and "data-action=" not in html


def test_an_illegal_transition_is_flashed_not_a_500(confirmed, login_as, db):
    browser = login_as("receptionist")
    html = act(browser, confirmed, status="completed")
    assert "cannot become" in html
    html = act(browser, confirmed, status="no-such-status")
    assert "Unknown status." in html
    assert status_of(db, confirmed).status == "confirmed"
    assert browser.get("/appointment-actions/999999").status_code == 404
    assert browser.post("/appointment-actions/99999999999999999999/status", data={}).status_code == 404


def test_cancel_needs_a_reason(confirmed, login_as, db):
    browser = login_as("receptionist")
    html = act(browser, confirmed, status="cancelled", reason="  ")
    assert "Say why the appointment is cancelled." in html
    assert status_of(db, confirmed).status == "confirmed"
    act(browser, confirmed, status="cancelled", reason="Bệnh nhân bận")
    appointment = status_of(db, confirmed)
    assert appointment.status == "cancelled" and appointment.cancel_reason == "Bệnh nhân bận"


def test_permissions(confirmed, login_as, db):
    pharmacist = login_as("pharmacist")
    assert pharmacist.get(f"/appointment-actions/{confirmed}").status_code == 403
    assert pharmacist.post(f"/appointment-actions/{confirmed}/status",
                           data={"status": "checked_in"}).status_code == 403
    assert pharmacist.get("/appointment-series/new").status_code == 403
    manager = login_as("manager")  # reads appointments, cannot change them
    html = page(manager, f"/appointment-actions/{confirmed}")
    assert "data-action=" not in html
    assert manager.post(f"/appointment-actions/{confirmed}/status",
                        data={"status": "checked_in"}).status_code == 403
    assert status_of(db, confirmed).status == "confirmed"


def test_the_show_page_links_to_the_workflow(clinic, login_as):
    html = page(login_as("receptionist"), f"/appointmentview/show/{clinic.appointment}")
    assert f'href="/appointment-actions/{clinic.appointment}"' in html and 'id="workflow-link"' in html


def test_appointment_list_rows_link_to_the_workflow_for_those_who_can_act(confirmed, api, clinic, login_as):
    later = api.create("appointment", {"patient": clinic.patient, "doctor": clinic.doctor, "service": clinic.service,
                                       "start_at": local_time("10:00")})
    links = [f'href="/appointment-actions/{pk}"' for pk in (confirmed, later)]
    receptionist = login_as("receptionist")
    html = page(receptionist, "/appointmentview/list/")
    assert all(link in html for link in links) and html.count('class="btn btn-sm btn-default workflow-link"') == 2
    # The same rows under the patient's record (the related list uses the same widget).
    html = page(receptionist, f"/patientview/show/{clinic.patient}")
    assert all(link in html for link in links)
    manager = login_as("manager")  # reads appointments, cannot act on them
    for url in ("/appointmentview/list/", f"/patientview/show/{clinic.patient}", f"/appointmentview/show/{confirmed}"):
        html = page(manager, url)
        assert "/appointment-actions/" not in html and "workflow-link" not in html, url  # nor the show page's
    assert "Khám tổng quát" in page(manager, "/appointmentview/list/")  # the rows are still there


def series_form(clinic, **overrides) -> dict:
    data = {"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
            "start": f"{DAY.isoformat()}T09:00", "every": "1", "unit": "WEEKLY", "count": "6", "do": "preview"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_series_preview_shows_a_conflict_and_booking_skips_it(clinic, login_as, db):
    day = DAY + timedelta(days=14)
    db.session.add(ScheduleException(doctor_id=clinic.doctor, kind="leave", start_date=day, end_date=day))
    db.session.commit()
    browser = login_as("receptionist")
    assert "Book a series" in page(browser, "/appointment-series/new")

    preview = browser.post("/appointment-series/new", data=series_form(clinic))
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert html.count('data-ok="true"') == 5 and html.count('data-ok="false"') == 1 and "leave" in html
    assert db.session.query(Appointment).count() == 0  # a preview writes nothing

    refused = browser.post("/appointment-series/new", data=series_form(clinic, do="book"))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "1 of 6 dates cannot be booked." in html
    assert 'value="6"' in html and 'data-ok="false"' in html  # values kept, dates shown
    assert db.session.query(AppointmentSeries).count() == 0

    booked = browser.post("/appointment-series/new", data=series_form(clinic, do="book", skip="1"))
    assert booked.status_code == 302, booked.get_data(as_text=True)
    series = db.session.query(AppointmentSeries).one()
    assert booked.headers["Location"].endswith(f"/appointmentseriesview/show/{series.id}")
    assert series.rule == "FREQ=WEEKLY;INTERVAL=1;COUNT=6"
    rows = db.session.query(Appointment).filter_by(series_id=series.id).all()
    assert len(rows) == 5 and {r.status for r in rows} == {"confirmed"}
    assert "Series booked: 5 appointments. 1 date skipped." in page(browser, booked.headers["Location"])


def test_series_form_errors_keep_the_values(clinic, login_as, db):
    browser = login_as("receptionist")
    response = browser.post("/appointment-series/new", data=series_form(
        clinic, patient_id="", start="yesterday", every="0", count="500"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("patient_id", "start", "every", "count"):
        assert f'data-error="{field}"' in html
    assert f'<option value="{clinic.doctor}" selected>' in html and 'value="500"' in html
    response = browser.post("/appointment-series/new", data=series_form(clinic, patient_id="999999"))
    assert response.status_code == 422 and "Unknown patient." in response.get_data(as_text=True)
    html = browser.post("/appointment-series/new", data=series_form(clinic, unit="DAILY", every="2", count="3"))\
        .get_data(as_text=True)
    assert html.count('data-ok="true"') == 3
    assert db.session.query(Appointment).count() == 0


def test_cancel_the_rest_of_a_series(api, clinic, login_as, db):
    browser = login_as("receptionist")
    assert browser.post("/appointment-series/new", data=series_form(clinic, do="book", count="4")).status_code == 302
    ids = [a.id for a in db.session.query(Appointment).order_by(Appointment.start_at)]
    assert 'data-action="cancel-rest"' in page(browser, f"/appointment-actions/{ids[1]}")
    html = page(browser, browser.post(f"/appointment-actions/{ids[1]}/cancel-rest",
                                      data={"reason": ""}).headers["Location"])
    assert "Say why the appointment is cancelled." in html
    html = page(browser, browser.post(f"/appointment-actions/{ids[1]}/cancel-rest",
                                      data={"reason": "Đã khỏi"}).headers["Location"])
    assert "3 appointments of the series were cancelled." in html
    assert [status_of(db, pk).status for pk in ids] == ["confirmed", "cancelled", "cancelled", "cancelled"]
    other = api.create("appointment", {"patient": clinic.patient, "doctor": clinic.doctor,
                                       "service": clinic.service, "start_at": local_time("11:00")})
    single = page(browser, f"/appointment-actions/{other}")  # not in a series: no such form
    assert 'data-action="cancel-rest"' not in single


def test_pages_render_with_csrf_enabled(confirmed, login_as):
    browser = login_as("receptionist")
    for url in (f"/appointment-actions/{confirmed}", "/appointment-series/new"):
        html = page(browser, url)
        assert 'name="csrf_token"' in html


def test_the_series_menu_entry_is_only_for_those_who_can_book(login_as):
    assert "Book a series" in login_as("receptionist").get("/").get_data(as_text=True)
    manager_home = login_as("manager").get("/").get_data(as_text=True)
    assert "Book a series" not in manager_home and "Calendar" in manager_home


def test_series_form_names_every_broken_field_in_vietnamese(clinic, login_as, db):
    browser = login_as("receptionist")
    browser.get("/lang/vi")
    response = browser.post("/appointment-series/new", data=series_form(
        clinic, patient_id="abc", doctor_id=str(2**40), service_id="", start="31/02/2026 9h", every="x",
        count="0", unit="YEARLY"))
    assert response.status_code == 422
    errors = dict(re.findall(r'data-error="(\w+)">([^<]+)<', response.get_data(as_text=True)))
    assert errors == {
        "patient_id": "Hãy nhập một số nguyên.", "doctor_id": "Không có bản ghi này.",
        "service_id": "Trường này là bắt buộc.", "start": "Nhập ngày giờ theo dạng 2026-12-01 09:00.",
        "every": "Hãy nhập một số nguyên.", "count": "Một chuỗi lịch hẹn có từ 1 đến 100 lịch hẹn.",
        "unit": "Lặp lại sau một số tuần hoặc ngày.",
    }
    assert db.session.query(Appointment).count() == 0


def test_a_workflow_button_with_a_bad_status_changes_nothing(confirmed, login_as, api):
    browser = login_as("receptionist")
    response = browser.post(f"/appointment-actions/{confirmed}/status", data={"status": "teleported"},
                            follow_redirects=True)
    assert response.status_code == 200 and "Unknown status." in response.get_data(as_text=True)
    assert browser.post(f"/appointment-actions/{confirmed}/status", data={"status": "cancelled", "reason": "x" * 501},
                        follow_redirects=True).status_code == 200
    assert api.show("appointment", confirmed)["status"] == "confirmed"
