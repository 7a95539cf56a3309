"""The login form in Chromium: a refused login keeps the typed username (not the password) with the
refusal shown; a patient's login lands on the patient portal, and the portal's log-out button
returns to the public site. At 1280 and 390 pixels, in English and Vietnamese; no sideways
scrolling."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

REFUSED = {"en": "Invalid login", "vi": "Đăng nhập không thành công"}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_refused_login_keeps_the_username_and_a_patient_lands_on_the_portal(app, browser_engine, live_server,
                                                                               tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    name = f"land_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(name, "Hoa", "Lê", f"{name}@test.example", sm.find_role("Patient"), password=PASSWORD)
    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()

    def shot(label: str) -> None:
        page.screenshot(path=str(shots / f"login-{lang}-{width}-{label}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, label

    try:
        page.goto(f"{live_server}/clinic/language/{lang}?next=/login/")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", "Not-The-Passw0rd!")
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        assert page.input_value("input[name=username]") == name
        assert page.input_value("input[name=password]") == ""
        assert REFUSED[lang] in page.content()
        shot("1-refused")
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        assert page.url == f"{live_server}/clinic/me/appointments"
        shot("2-portal")
        page.click("form.pub-logout button[type=submit]")
        page.wait_for_load_state()
        assert page.url == f"{live_server}/clinic/"
    finally:
        context.close()
