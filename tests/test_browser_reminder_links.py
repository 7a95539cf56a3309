"""The reminder in a real browser (Debian's headless Chromium): the patient opens the e-mail read
from the outbox, presses its Confirm button, confirms on the page (no login), and the reception
sees the appointment confirmed on the calendar. On a desktop and a phone's width, in English and
in Vietnamese; the other pages of the links (choices, cancel, reschedule, a refused link) are
opened too, for their screenshots and to check that nothing is wider than the screen.
Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import DAY
from tests.outbox import empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture
from tests.reminder_mail_helpers import VISIT_UTC, confirmed_appointment, links_in, queue_reminder

TEXT = {
    "en": {"button": "Confirm", "yes": "Yes, I will come", "done": "your appointment is confirmed"},
    "vi": {"button": "Xác nhận", "yes": "Vâng, tôi sẽ đến", "done": "lịch hẹn đã được xác nhận"},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_confirm_from_the_reminder_email_shows_on_the_calendar(app, db, browser_engine, live_server, page_as, clinic,
                                                               monkeypatch, tmp_path, lang, width):
    from app.models import Appointment
    from app.services.messaging.render import render

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", live_server)
    monkeypatch.setitem(app.config, "REMINDER_INCLUDE_REQUESTED", True)
    monkeypatch.setitem(app.config, "CLINIC_ADDRESS", "12 Lê Lợi, Quận 1, TP.HCM")
    monkeypatch.setitem(app.config, "CLINIC_PHONE", "028 3822 1234")
    appointment = confirmed_appointment(clinic, status="requested")
    message = queue_reminder(db, appointment, language=lang)
    from app.services.messaging.delivery import deliver_message

    assert deliver_message(db.session, message.id, app.config) == "sent"
    [mail] = outbox(app)
    html = mail.get_body(preferencelist=("html",)).get_content()

    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"reminder-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    try:
        page.set_content(html)  # the e-mail as a mail program shows it
        shot("1-email")
        button = page.locator('a[data-link="confirm"]')
        assert button.inner_text().strip() == TEXT[lang]["button"]
        for purpose in ("cancel", "reschedule"):  # open the other pages without pressing anything
            href = page.locator(f'a[data-link="{purpose}"]').get_attribute("href")
            other = context.new_page()
            other.goto(href)
            assert "12 Lê Lợi, Quận 1, TP.HCM" in other.inner_text(".pub-visit")
            other.screenshot(path=str(shots / f"reminder-{lang}-{width}-3-{purpose}.png"), full_page=True)
            assert other.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1, purpose
            if purpose == "reschedule":  # a tapped time asks once more; the appointment has not moved yet
                other.locator(".pub-slot").first.click()  # a link: wait for the page it opens
                other.locator("#move button[type=submit]").wait_for(state="visible")
                other.screenshot(path=str(shots / f"reminder-{lang}-{width}-3-reschedule-ask.png"), full_page=True)
                assert other.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
                db.session.expire_all()
                assert db.session.get(Appointment, appointment).start_at == VISIT_UTC
            other.goto(href.replace(f"/{purpose}/", f"/{purpose}/x"))  # a tampered link
            assert other.locator("[data-refused]").is_visible()
            other.screenshot(path=str(shots / f"reminder-{lang}-{width}-4-refused.png"), full_page=True)
            other.close()
        # the SMS's link: a page with the three choices
        sms = queue_reminder(db, appointment, language=lang, channel="sms")
        with app.test_request_context():
            choose = links_in(render(db.session, sms, app.config).short_text)["choose"]
        other = context.new_page()
        other.goto(live_server + choose)
        assert other.locator("[data-action]").count() == 3
        other.screenshot(path=str(shots / f"reminder-{lang}-{width}-3-choose.png"), full_page=True)
        assert other.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        other.close()
        button.click()
        page.wait_for_load_state()
        assert "/clinic/visit/confirm/" in page.url
        assert "BS. Trần Thị Bình" in page.inner_text(".pub-visit")
        shot("2-confirm")
        db.session.expire_all()
        assert db.session.get(Appointment, appointment).status == "requested"  # opening the page changed nothing
        page.get_by_role("button", name=TEXT[lang]["yes"]).click()
        page.wait_for_load_state()
        assert TEXT[lang]["done"] in page.inner_text("h1")
        shot("5-done")
    finally:
        context.close()

    staff = page_as("receptionist")
    staff.goto(f"{staff.base_url}/calendar/?view=day&date={DAY}&doctor_id={clinic.doctor}")
    block = staff.locator(f'.cal-appt[data-id="{appointment}"]')
    assert block.get_attribute("data-status") == "confirmed"
    assert "Confirmed" in (block.get_attribute("title") or "")
