"""The waiting-room TV and a patient's ticket in a real browser (Debian's headless Chromium, no
login): the TV shows the new number after the doctor starts the next visit (through
``encounters.start_visit``, while the page is open: the poll picks it up, and the page's
``realtime:queue`` event fetches at once), chimes and says the call in Vietnamese once sound is on;
the ticket at a phone's 390 px. In English and Vietnamese; screenshots go to ``$SCREENSHOT_DIR``
when it is set (TV 1920x1080, phone 390)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.test_visit import _earlier_today, _link_doctor

FULL_NAME = "Nguyễn Thị Hồng Nhung"
TEXT = {"en": {"next": "Next in line", "you_next": "You are next", "number_in": "You are number 2"},
        "vi": {"next": "Tiếp theo", "you_next": "Bạn là người tiếp theo", "number_in": "Bạn đứng thứ 2"}}
# Speech and sound are recorded instead of played (a headless browser has no voice).
RECORD_SPEECH = """
window.__spoken = [];
Object.defineProperty(window, "speechSynthesis", {configurable: true, value: {
  speak: function (u) { window.__spoken.push({text: u.text, lang: u.lang}); },
  getVoices: function () { return []; }, cancel: function () {}
}});
"""


@dataclass
class Queue:
    doctor: int
    department: int
    appointments: list[int]


@pytest.fixture
def queue(app, db, clinic) -> Queue:
    from app.models import Appointment, Department, Doctor, Patient

    doctor_id = _link_doctor(app, db, "doctor", "Lê Văn Bác Sĩ")
    department = Department(code="QD-NOI", name="Khoa Nội tổng hợp")
    db.session.add(department)
    db.session.flush()
    doctor = db.session.get(Doctor, doctor_id)
    doctor.department_id, doctor.title = department.id, "BS."
    start = _earlier_today(app)
    ids = []
    for number, name in ((1, "Trần Văn An"), (2, FULL_NAME), (3, "Phạm Minh Châu")):
        patient = Patient(code=f"BN-Q{number}", full_name=name)
        db.session.add(patient)
        db.session.flush()
        appointment = Appointment(patient_id=patient.id, doctor_id=doctor_id, service_id=clinic.service,
                                  start_at=start + timedelta(minutes=20 * number),
                                  end_at=start + timedelta(minutes=20 * number + 20), status="checked_in",
                                  queue_number=number, queue_date=start.date(), reason="Ho, sốt",
                                  checked_in_at=datetime.now(timezone.utc) - timedelta(minutes=30 - number))
        db.session.add(appointment)
        db.session.flush()
        ids.append(appointment.id)
    db.session.commit()
    return Queue(doctor_id, department.id, ids)


def _visit(app, db, appointment_id: int, step: str) -> None:
    from app.services import encounters
    from app.services.settings import ClinicSettings

    user = app.appbuilder.sm.find_user(username="doctor")
    action = encounters.start_visit if step == "start" else encounters.finish_visit
    action(db.session, appointment_id, user, datetime.now(timezone.utc),
           settings=ClinicSettings.from_config(app.config))


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_overflow(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_tv_shows_the_new_number_when_the_doctor_starts_the_next_visit(app, db, browser_engine, live_server,
                                                                            queue, tmp_path, lang, monkeypatch):
    from app.services import front_desk
    from app.services.settings import ClinicSettings

    shots = _shots(tmp_path)
    _visit(app, db, queue.appointments[0], "start")
    context = browser_engine.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    try:
        page = context.new_page()
        page.add_init_script(RECORD_SPEECH)
        page.goto(f"{live_server}/queue/display?departments={queue.department}&_l_={lang}")
        card = page.locator(f'[data-doctor-id="{queue.doctor}"]')
        assert card.locator("[data-current-number]").inner_text() == "1"
        assert "BS. Lê Văn Bác Sĩ" in card.inner_text() and TEXT[lang]["next"].upper() in card.inner_text().upper()
        content = page.content()
        assert "N.T.H.N." in content and FULL_NAME not in content and "Ho, sốt" not in content
        page.click("#qd-sound")  # browsers play sound only after a click
        page.screenshot(path=str(shots / f"queue-tv-{lang}-1920-before.png"))

        _visit(app, db, queue.appointments[0], "finish")
        _visit(app, db, queue.appointments[1], "start")  # number 2 goes in, the page is open
        card.locator("[data-current-number]").filter(has_text="2").wait_for(timeout=10_000)  # the poll (3 s)
        assert card.locator(".qd-next-number").all_inner_texts() == ["3"]
        page.wait_for_function("() => window.__spoken.length > 0", timeout=5_000)
        spoken = page.evaluate("window.__spoken")
        assert spoken == [{"text": "Mời số 2 vào phòng khám gặp BS. Lê Văn Bác Sĩ.", "lang": "vi-VN"}]
        page.screenshot(path=str(shots / f"queue-tv-{lang}-1920-called.png"))
        _no_overflow(page)

        # With the poll slowed down, the realtime event alone refreshes the page at once: the
        # doctor finishes, the front desk calls the next patient (number 3, not in yet).
        monkeypatch.setattr("app.public.queue_display.POLL_SECONDS", 600)
        page.reload()
        card.locator("[data-current-number]").filter(has_text="2").wait_for()
        page.click("#qd-sound")  # a reloaded page asks for its click again
        _visit(app, db, queue.appointments[1], "finish")
        front_desk.call_next(db.session, queue.doctor, None, datetime.now(timezone.utc),
                             settings=ClinicSettings.from_config(app.config))
        page.evaluate("document.dispatchEvent(new CustomEvent('realtime:queue', {detail: {doctor_id: %d}}))"
                      % queue.doctor)
        card.locator("[data-current-number]").filter(has_text="3").wait_for(timeout=3_000)
        assert card.locator(".qd-next-number").count() == 0
        page.wait_for_function("() => window.__spoken.length > 0", timeout=5_000)
        assert [s["text"][:8] for s in page.evaluate("window.__spoken")] == ["Mời số 3"]

        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"{live_server}/queue/display?departments=all&_l_={lang}")
        phone.locator(f'[data-doctor-id="{queue.doctor}"] [data-current-number]').wait_for()
        phone.screenshot(path=str(shots / f"queue-tv-{lang}-390.png"), full_page=True)
        _no_overflow(phone)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_patients_ticket_on_a_phone(app, db, browser_engine, live_server, queue, tmp_path, lang):
    from app.models import Appointment
    from app.services import waiting_room
    from app.services.settings import ClinicSettings

    shots = _shots(tmp_path)
    _visit(app, db, queue.appointments[0], "start")
    mine = db.session.get(Appointment, queue.appointments[2])
    path = waiting_room.ticket_path(waiting_room.make_ticket_token(app.config["SECRET_KEY"], mine,
                                                                   ClinicSettings.from_config(app.config)))
    context = browser_engine.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(f"{live_server}{path}?lang={lang}")
        assert page.inner_text("[data-ticket-number]") == "3"
        assert TEXT[lang]["number_in"] in page.inner_text("[data-ticket-state]")
        assert page.inner_text("[data-ticket-current]") == "1"
        assert FULL_NAME not in page.content()
        page.screenshot(path=str(shots / f"queue-ticket-{lang}-390-waiting.png"), full_page=True)
        _no_overflow(page)
        _visit(app, db, queue.appointments[0], "finish")
        _visit(app, db, queue.appointments[1], "start")
        page.locator("[data-ticket-state]").filter(has_text=TEXT[lang]["you_next"]).wait_for(timeout=10_000)
        assert page.inner_text("[data-ticket-current]") == "2"
        page.screenshot(path=str(shots / f"queue-ticket-{lang}-390-next.png"), full_page=True)
        # A tampered link: a page that says why.
        page.goto(f"{live_server}{path[:-2]}xx")  # the language chosen by the link stays
        assert page.locator("[data-refused]").is_visible()
        page.screenshot(path=str(shots / f"queue-ticket-{lang}-390-refused.png"), full_page=True)
        _no_overflow(page)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_front_desk_prints_the_check_in_slip(app, db, page_as, live_server, queue, tmp_path, width, monkeypatch):
    """With no PUBLIC_BASE_URL the slip's QR code leads to the address the desk uses."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    shots = _shots(tmp_path)
    page = page_as("receptionist", width=width)
    page.goto(f"{live_server}/appointment-actions/{queue.appointments[1]}")
    page.click("[data-slip-link]")
    page.wait_for_url(f"**/front-desk/slip/{queue.appointments[1]}")
    assert page.inner_text("[data-slip-number]") == "2"
    assert page.locator("[data-slip-qr] svg").is_visible()
    link = page.get_attribute("[data-ticket-link]", "href") or ""
    assert link.startswith(f"{live_server}/queue/ticket/") and FULL_NAME not in page.content()
    page.screenshot(path=str(shots / f"queue-slip-{width}.png"), full_page=True)
    _no_overflow(page)
    page.goto(link)
    assert page.inner_text("[data-ticket-number]") == "2"  # the QR's link opens the patient's ticket


def test_a_full_tv_keeps_every_wait_inside_its_card(app, db, browser_engine, live_server, queue, clinic, tmp_path):
    """Four doctors with waiting patients on a 1920 px TV, in Vietnamese ("khoảng 20 phút"): the
    waits used to run out of their cards (and off the screen) in four narrow columns."""
    from app.models import Appointment, Doctor, Patient

    start = _earlier_today(app)
    for index, name in enumerate(("Nguyễn Thị Phương Thảo", "Trương Ngọc Bảo Khánh", "Hoàng Thị Minh Nguyệt")):
        doctor = Doctor(full_name=name, title="ThS. BS.", department_id=queue.department)
        db.session.add(doctor)
        db.session.flush()
        for number in (1, 2, 3):
            patient = Patient(code=f"BN-T{index}{number}", full_name="Trần Thị Bích Ngọc")
            db.session.add(patient)
            db.session.flush()
            db.session.add(Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=clinic.service,
                                       start_at=start + timedelta(minutes=20 * number),
                                       end_at=start + timedelta(minutes=20 * number + 20), status="checked_in",
                                       queue_number=number, queue_date=start.date(),
                                       checked_in_at=datetime.now(timezone.utc) - timedelta(minutes=10)))
    db.session.commit()
    context = browser_engine.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/queue/display?departments={queue.department}&_l_=vi")
        assert page.locator(".qd-doctor").count() == 4
        assert "khoảng" in page.inner_text("#qd-grid")
        page.screenshot(path=str(_shots(tmp_path) / "queue-tv-vi-1920-four-doctors.png"))
        _no_overflow(page)
        outside = page.evaluate("""() => [...document.querySelectorAll('.qd-wait')].filter(wait => {
            const card = wait.closest('.qd-doctor').getBoundingClientRect();
            return wait.getBoundingClientRect().right > card.right + 1; }).map(w => w.textContent)""")
        assert outside == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_checked_in_patient_opens_their_ticket_from_my_appointments(app, db, page_as, live_server, queue,
                                                                      tmp_path, lang, width):
    """The portal's "My appointments" leads a patient checked in today to their live ticket."""
    from app.models import Appointment
    from tests.test_portal_records import _login

    shots = _shots(tmp_path)
    login, _user, patient = _login(app, "Đinh Thị Mai", f"BN-PT{width}{lang}")
    db.session.get(Appointment, queue.appointments[1]).patient_id = patient
    db.session.commit()
    page = page_as(login, width=width)
    page.goto(f"{live_server}/clinic/language/{lang}?next=/clinic/me/appointments")
    link = page.locator(f".pub-appointment[data-id='{queue.appointments[1]}'] [data-ticket-link]")
    assert link.inner_text() == {"en": "My place in the queue (number 2)",
                                 "vi": "Vị trí của tôi trong hàng chờ (số 2)"}[lang]
    # at the clinic now: under "Upcoming" (its start time may be past), its status in words
    visit = page.locator(f".panel.pub-appointment[data-id='{queue.appointments[1]}']")
    assert visit.locator(".pub-status").inner_text() == {"en": "Checked in", "vi": "Đã tiếp nhận"}[lang]
    _no_overflow(page)
    page.screenshot(path=str(shots / f"portal-ticket-link-{lang}-{width}.png"), full_page=True)
    link.click()
    page.wait_for_url("**/queue/ticket/**")
    assert page.inner_text("[data-ticket-number]") == "2"
    assert TEXT[lang]["number_in"] in page.inner_text("[data-ticket-state]") or \
        TEXT[lang]["you_next"] in page.inner_text("[data-ticket-state]")
    page.goto(f"{live_server}/clinic/language/en?next=/clinic/me/appointments")
