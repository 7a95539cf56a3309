"""The back office in a real browser (Debian's headless Chromium): the record picker searches as
you type, a booking saves, and pages fit a phone's screen."""
from __future__ import annotations

from datetime import timedelta

from tests.factories import DAY, SAVE, pick_record


def test_book_an_appointment_by_searching_the_patient(page_as, api, clinic):
    thang = api.create("patient", {"full_name": "Trần Đức Thắng", "phone": "0903 111 222"})
    assert clinic.doctor and clinic.service
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/appointmentview/add")
    pick_record(page, "#patient", "tran duc thang", "Trần Đức Thắng")
    page.select_option("#doctor", str(clinic.doctor))
    page.select_option("#service", str(clinic.service))
    page.fill("#start_at", f"{DAY + timedelta(days=2)}T14:30")
    page.click(SAVE)
    page.wait_for_load_state()
    assert "Added Row" in page.content() or "added" in page.content().lower()
    saved = api.listing("appointment", [{"col": "patient", "opr": "rel_o_m", "value": thang}])["result"]
    assert len(saved) == 1 and saved[0]["start_at"].startswith(f"{DAY + timedelta(days=2)}T07:30")


def test_filtering_a_list_by_a_picked_patient_shows_the_name(page_as, api, clinic):
    assert clinic.appointment
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/appointmentview/list/?_flt_0_patient={clinic.patient}")
    # The search panel is folded; the picked patient is restored with its name, not a bare id.
    page.locator(".select2-selection__rendered", has_text="Nguyễn Văn An").first.wait_for(state="attached")


def test_pages_fit_a_phone(page_as, api, clinic):
    page = page_as("receptionist", width=390)
    for path in (f"/patientview/show/{clinic.patient}", "/patientview/list/", "/appointmentview/add"):
        page.goto(page.base_url + path)
        assert page.locator(".navbar-toggle").is_visible(), path  # the menu folds behind a button
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
