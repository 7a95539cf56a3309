"""Two-step login in a real browser (Debian's headless Chromium): a doctor is sent to enrol at their
first login, enrols with the QR page's key and logs in again with a code, on a desktop and a phone,
in English and Vietnamese."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.test_mfa import make_user


@pytest.mark.parametrize("width,locale", [(1280, "en-US"), (390, "en-US"), (1280, "vi-VN"), (390, "vi-VN")])
def test_a_doctor_enrols_in_two_step_login_and_logs_in_with_a_code(browser_engine, live_server, app, width, locale,
                                                                  tmp_path):
    """A new doctor is sent to enrol at their first login, scans (reads) the key, confirms with a
    code, sees the recovery codes once, and their next login asks for a code. Screenshots in
    ``tmp_path`` (the QR page, the recovery codes, the code page)."""
    username, _user_id = make_user(app, "Doctor")
    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []  # scripts refused by the CSP, missing files (the browser's own favicon request aside)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and "404" not in message.text else None)
    page.on("response", lambda response: errors.append(response.url) if response.status >= 400
            and not response.url.endswith("/favicon.ico") else None)
    try:
        page.goto(f"{live_server}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/account/two-factor/"), page.url  # sent to enrol
        page.click("#start-form button[type=submit]")
        page.wait_for_load_state()
        qr = page.locator("svg.qr-code")
        assert qr.is_visible() and qr.bounding_box()["width"] >= 150
        page.screenshot(path=str(tmp_path / f"qr-{width}-{locale}.png"), full_page=True)
        secret = page.locator("code.two-factor-secret").inner_text().replace(" ", "")
        moment = datetime.now(timezone.utc)
        page.fill("#confirm-code", pyotp.TOTP(secret).at(moment))
        page.click("#confirm-form button[type=submit]")
        page.wait_for_load_state()
        codes = page.locator(".recovery-codes li").all_inner_texts()
        assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
        page.screenshot(path=str(tmp_path / f"codes-{width}-{locale}.png"), full_page=True)
        page.click("text=" + ("Tôi đã lưu lại" if locale.startswith("vi") else "I have saved them"))
        page.wait_for_load_state()
        assert "/account/two-factor" not in page.url and "/login" not in page.url
        page.goto(f"{live_server}/logout/")  # asks first: logging out is a POST
        page.click("#confirm-logout")
        page.wait_for_load_state()

        page.goto(f"{live_server}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/login/code/")
        heading = "Đăng nhập hai bước" if locale.startswith("vi") else "Two-step login"
        assert heading in page.content()
        page.screenshot(path=str(tmp_path / f"code-{width}-{locale}.png"), full_page=True)
        # The enrolment spent the code of its step: the next step's code (within the window) logs in.
        page.fill("input[name=code]", pyotp.TOTP(secret).at(moment + timedelta(seconds=30)))
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url and "/account/two-factor" not in page.url, page.url
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("width,locale", [(390, "vi-VN"), (1280, "en-US")])
def test_a_patient_turns_two_step_login_on_from_the_portal(browser_engine, live_server, app, width, locale, tmp_path):
    """Optional for patients: the portal links to it, the page keeps the public site's layout."""
    from tests.test_public import _make_patient

    username, _patient = _make_patient(app)
    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login/?next=/clinic/me/appointments")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        page.click(".pub-account-links a")
        page.wait_for_load_state()
        assert page.url.endswith("/clinic/account/two-factor")
        page.click("#start-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("svg.qr-code").is_visible() and page.locator(".pub-header").is_visible()
        page.screenshot(path=str(tmp_path / f"public-qr-{width}-{locale}.png"), full_page=True)
        secret = page.locator("code.two-factor-secret").inner_text().replace(" ", "")
        page.fill("#confirm-code", pyotp.TOTP(secret).now())
        page.click("#confirm-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".recovery-codes li").count() == 10
        page.goto(f"{live_server}/clinic/account/two-factor")
        assert page.locator("#disable-form").is_visible()
        page.screenshot(path=str(tmp_path / f"public-on-{width}-{locale}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    finally:
        context.close()
