"""The search box in a real browser (Debian's headless Chromium): a receptionist types a
Vietnamese name without accents into the top bar, the results come grouped by kind, the arrow keys
choose one, Enter opens it; Escape closes the list; Enter with nothing chosen opens the full
results page. At 1280 and 390 pixels wide, in English and Vietnamese; screenshots in ``tmp_path``."""
from __future__ import annotations

import time

import pytest

HEADINGS = {"en-US": ("Patients", "Appointments"), "vi-VN": ("Bệnh nhân", "Lịch hẹn")}


def wait_until(page, script: str, timeout: float = 10.0) -> None:
    """Poll a condition with ``page.evaluate`` (the CSP forbids ``wait_for_function``'s strings)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.05)


@pytest.fixture
def indexed(app, clinic):
    """Two patients and an appointment, in a fresh whoosh index (the writes index themselves)."""
    from app.extensions import db
    from app.models import Patient
    from app.services import search

    app.config["SEARCH_ENGINE"] = "whoosh"
    app.config["SEARCH_INDEX_ON_WRITE"] = True  # off for the rest of the suite (TestConfig)
    with app.app_context():
        engine = search.make_engine(app.config, db.engine)
        engine.clear()
        engine.mark_complete()
    assert clinic.appointment  # Nguyễn Văn An with doctor Trần Thị Bình
    other = clinic.save(Patient(full_name="Nguyễn Thị Ánh Tuyết", phone="0987 111 222"))
    yield {"patient": clinic.patient, "other": other}
    app.config["SEARCH_ENGINE"] = ""
    app.config["SEARCH_INDEX_ON_WRITE"] = False


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_type_a_name_arrow_to_it_and_open_it(indexed, page_as, tmp_path, width, locale):
    page = page_as("receptionist", width=width, locale=locale)
    page.goto(f"{page.base_url}/patientview/list/")
    box = page.locator("#staff-search-input")
    assert box.is_visible()  # on a phone too: outside the folded menu
    box.click()
    box.type("nguyen van", delay=30)
    wait_until(page, "!document.getElementById('staff-search-results').hidden && "
                     "document.querySelectorAll('#staff-search-results .clinic-search-option').length > 0")
    groups = page.locator("#staff-search-results .clinic-search-group").all_inner_texts()
    patients, appointments = HEADINGS[locale]
    assert [g.strip().lower() for g in groups][:2] == [patients.lower(), appointments.lower()]
    first = page.locator("#staff-search-results .clinic-search-option").first
    assert "Nguyễn Văn An" in first.inner_text()
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    panel = page.locator("#staff-search-results").bounding_box()
    assert panel is not None and panel["x"] >= 0 and panel["x"] + panel["width"] <= width + 1
    page.screenshot(path=tmp_path / f"search-{locale}-{width}-1-results.png")

    box.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "staff-search-input"
    active = page.locator("#staff-search-results .clinic-search-option.active")
    assert active.count() == 1 and "Nguyễn Văn An" in active.inner_text()
    assert box.get_attribute("aria-activedescendant") == active.get_attribute("id")
    box.press("ArrowDown")
    box.press("ArrowUp")
    assert "Nguyễn Văn An" in page.locator(".clinic-search-option.active").inner_text()
    box.press("Escape")
    assert page.locator("#staff-search-results").is_hidden()

    box.press("ArrowDown")  # opens the list again, on the first result
    wait_until(page, "!document.getElementById('staff-search-results').hidden")
    with page.expect_navigation():
        box.press("Enter")
    assert page.url.endswith(f"/patientview/show/{indexed['patient']}")
    page.screenshot(path=tmp_path / f"search-{locale}-{width}-2-opened.png")

    box = page.locator("#staff-search-input")
    box.fill("tuyet")
    with page.expect_navigation():
        box.press("Enter")  # nothing chosen: the full results page
    assert "/search/" in page.url and "Nguyễn Thị Ánh Tuyết" in page.locator(".search-page").inner_text()
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    page.screenshot(path=tmp_path / f"search-{locale}-{width}-3-page.png", full_page=True)


@pytest.mark.parametrize("width, locale", [(390, "vi-VN"), (1280, "en-US")])
def test_a_patient_finds_their_appointment_from_the_portal_header(app, indexed, page_as, tmp_path, width, locale):
    """The portal's box: the patient's own appointment, readable (dark text on the white panel,
    not the header's light link colour), and Enter opens it."""
    from app.extensions import db
    from app.models import Patient

    with app.app_context():
        db.session.get(Patient, indexed["patient"]).user_id = app.appbuilder.sm.find_user(username="patient").id
        db.session.commit()
    page = page_as("patient", width=width, locale=locale)
    page.goto(f"{page.base_url}/clinic/me/appointments")
    box = page.locator("#portal-search-input")
    box.click()
    box.type("kham tong")
    wait_until(page, "document.querySelectorAll('#portal-search-results .clinic-search-option').length > 0")
    option = page.locator("#portal-search-results .clinic-search-option").first
    assert "Khám tổng quát" in option.inner_text()
    assert option.evaluate("e => getComputedStyle(e).color") == "rgb(34, 34, 34)"
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    page.screenshot(path=tmp_path / f"portal-search-{locale}-{width}.png")
    box.press("ArrowDown")
    with page.expect_navigation():
        box.press("Enter")
    assert page.url.endswith("/clinic/me/appointments")
