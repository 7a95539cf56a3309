"""Live updates in a real browser (Debian's headless Chromium, the test app over HTTP): a
notification committed on the server changes the bell's count and shows a toast on an open page
without a reload (desktop and phone width, English and Vietnamese), and *Doctors now* shows a
patient who has just checked in without a reload. Screenshots go to ``tmp_path``."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tests.test_notifications_bell import _notify

TEXTS = {"en-US": {"open": "Open", "close": "Close"}, "vi-VN": {"open": "Mở", "close": "Đóng"}}


def _until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` in the page (the CSP forbids eval, so no ``wait_for_function``)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.1)


def _wait_connected(page) -> None:
    _until(page, "Boolean(window.clinicRealtime && window.clinicRealtime.socket.connected)")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_a_new_notification_changes_the_bell_and_shows_a_toast_without_reload(app, db, page_as, tmp_path, width,
                                                                              locale):
    _notify(app, db, "receptionist", "Hủy lịch: Phạm Văn Hùng")
    page = page_as("receptionist", width=width, locale=locale)
    page.goto(f"{page.base_url}/")
    bell = "#bell-phone" if width < 768 else "#bell"
    count = page.locator(f"{bell} .bell-count")
    assert count.get_attribute("data-unread-count") == "1"
    _wait_connected(page)
    page.evaluate("window.__notReloaded = true")
    _notify(app, db, "receptionist", "Đặt lịch mới: Trần Thị Lan", link="/appointmentview/list/")
    _until(page, f"document.querySelector('{bell} .bell-count').dataset.unreadCount === '2'")
    assert count.inner_text().strip() == "2"
    assert page.evaluate("window.__notReloaded") is True  # the same page, no reload
    toast = page.locator(".realtime-toast", has_text="Đặt lịch mới: Trần Thị Lan")
    toast.wait_for(state="visible", timeout=5000)
    assert page.locator("#realtime-toasts").get_attribute("aria-live") == "polite"
    assert toast.locator("a").inner_text() == TEXTS[locale]["open"]
    assert toast.locator("button").inner_text() == TEXTS[locale]["close"]
    box = toast.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.screenshot(path=tmp_path / "toast.png")
    toast.locator("a").click()
    page.wait_for_url("**/appointmentview/list/")


def test_doctors_now_shows_a_check_in_without_reload(app, db, clinic, page_as, tmp_path):
    from app.models import Appointment
    from app.services import realtime_hooks
    from app.services.settings import ClinicSettings

    settings = ClinicSettings.from_config(app.config)
    doctor = clinic.doctor
    page = page_as("receptionist")
    page.goto(f"{page.base_url}/doctor-status/")
    row = page.locator(f'#doctor-status tr[data-doctor="{doctor}"]')
    assert row.locator("td").nth(3).inner_text().strip() == "0"
    _wait_connected(page)
    page.evaluate("window.__notReloaded = true")
    now = datetime.now(settings.timezone)
    db.session.add(Appointment(patient_id=clinic.patient, doctor_id=doctor, service_id=clinic.service,
                               start_at=now, end_at=now + timedelta(minutes=20), status="checked_in",
                               queue_date=now.date(), queue_number=1, checked_in_at=now))
    db.session.commit()
    realtime_hooks.queue_changed(doctor, now.date())
    _until(page, f"document.querySelector('#doctor-status tr[data-doctor=\"{doctor}\"] td:nth-child(4)')"
                 ".textContent.trim() === '1'")
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=tmp_path / "doctors-now.png")


def test_the_waiting_room_tv_hears_its_departments_queue_changes_without_login(app, db, clinic, browser_engine,
                                                                               live_server, tmp_path):
    from app.models import Department, Doctor
    from app.services import realtime_hooks

    other_department = clinic.save(Department(code="NGO", name="Khoa Ngoại"))
    elsewhere = clinic.save(Doctor(full_name="Phạm Thị Dung", department_id=other_department))
    context = browser_engine.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/queue/display?departments={clinic.department}")
        _until(page, "Boolean(window.clinicRealtime && window.clinicRealtime.socket.connected)")
        assert page.evaluate("window.clinicRealtime.rooms") == [f"display:{clinic.department}"]
        # Connected is not yet joined: the server answers the join once the screen is in its room.
        _until(page, "window.clinicRealtime.joined.length === 1")
        page.evaluate("window.__heard = []; document.addEventListener('realtime:queue', "
                      "function (e) { window.__heard.push(e.detail.doctor_id || null); })")
        today = datetime.now().date()
        with app.app_context():
            realtime_hooks.queue_changed(elsewhere, today)  # another department's TV, not this one
            realtime_hooks.queue_changed(clinic.doctor, today)
        _until(page, f"window.__heard.indexOf({clinic.doctor}) >= 0")
        time.sleep(0.5)
        assert page.evaluate("window.__heard") == [clinic.doctor]
        page.screenshot(path=tmp_path / "tv.png")
    finally:
        context.close()


def test_my_day_shows_a_check_in_at_the_desk_without_the_doctor_reloading(app, db, clinic, page_as, tmp_path):
    """Issue 13, item 3: the desk's check-in reaches the doctor's My day at once."""
    from app.models import Appointment
    from app.services import realtime_hooks
    from app.services.settings import ClinicSettings
    from tests.test_realtime import link_doctor

    link_doctor(app, clinic.doctor, "doctor")
    settings = ClinicSettings.from_config(app.config)
    page = page_as("doctor")
    page.goto(f"{page.base_url}/my-day/")
    _wait_connected(page)
    assert page.locator(".my-day-queue tbody tr[data-appointment]").count() == 0
    now = datetime.now(settings.timezone)
    visit = Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                        start_at=now, end_at=now + timedelta(minutes=20), status="checked_in",
                        queue_date=now.date(), queue_number=1, checked_in_at=now)
    db.session.add(visit)
    db.session.commit()
    realtime_hooks.queue_changed(clinic.doctor, now.date())
    page.wait_for_selector(f'.my-day-queue tr[data-appointment="{visit.id}"]', timeout=10000)  # it reloads itself
    page.screenshot(path=tmp_path / "my-day-live.png")
