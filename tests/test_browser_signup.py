"""The sign-up in a real browser (Debian's headless Chromium), as a new patient does it: sign up
with a Vietnamese name, open the link from the mail, log in, book; on a desktop and a phone's
width, in English and in Vietnamese. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.factories import DAY
from tests.outbox import mails_to
from tests.test_signup import GOOD_PASSWORD, link_in

TEXT = {
    "en": {"sent": "Check your e-mail", "confirm": "Confirm my e-mail address", "booked": "My appointments",
           "first": "Confirm your e-mail address first"},
    "vi": {"sent": "Kiểm tra e-mail", "confirm": "Xác nhận địa chỉ e-mail của tôi", "booked": "Lịch hẹn của tôi",
           "first": "Hãy xác nhận địa chỉ e-mail trước"},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_sign_up_open_the_link_log_in_and_book(app, browser_engine, live_server, clinic, tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"signup-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    try:
        page.goto(f"{live_server}/clinic/language/{lang}?next=/clinic/signup")
        email = f"ngoc.{uuid.uuid4().hex[:6]}@mail.example"
        page.fill("#full_name", "Đặng Thị Ngọc Hường")
        page.fill("#phone", "0987 123 456")
        page.fill("#email", email)
        page.fill("#password", "weak")
        page.click("main button[type=submit]")  # not the header's log-out button
        assert page.locator('[data-field="password"]').is_visible()
        shot("1-refused")
        page.fill("#password", GOOD_PASSWORD)
        page.click("main button[type=submit]")  # not the header's log-out button
        page.wait_for_load_state()
        assert text["sent"] in page.content() and email in page.content()
        shot("2-sent")

        # Logging in before confirming: booking asks for the link first.
        page.goto(f"{live_server}/login/?next=/clinic/me/appointments")
        assert page.locator('a[href="/clinic/password/forgot"]').is_visible()
        shot("3-login")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", GOOD_PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        assert text["first"] in page.content()
        shot("3-zconfirm-first")

        page.goto(live_server + link_in(mails_to(app, email)[-1]))
        shot("4-confirm")
        page.click("main button[type=submit]")  # not the header's log-out button
        page.wait_for_load_state()
        assert "/clinic/book" in page.url
        page.goto(f"{live_server}/clinic/book?service={clinic.service}&doctor={clinic.doctor}&day={DAY}")
        page.locator("a.pub-slot").first.click()
        page.wait_for_load_state()
        shot("5-book")
        page.click("form.pub-form button[type=submit], form button.btn-primary")
        page.wait_for_load_state()
        assert "/clinic/me/appointments" in page.url and text["booked"] in page.content()
        assert "Khám tổng quát" in page.content()
        shot("6-booked")
        page.goto(f"{live_server}/clinic/me/password")
        assert page.locator("#current_password").is_visible()
        shot("7-password")
        page.goto(f"{live_server}/clinic/confirm/not-a-real-link")
        assert page.locator("[data-refused]").is_visible()
        shot("8-refused-link")
    finally:
        context.close()
