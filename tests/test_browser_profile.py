"""The profile page in a real browser (Debian's headless Chromium): a patient writes a Vietnamese
name and the phone "0903 123 456", chooses Zalo and quiet hours, and downloads their data; a
receptionist changes the language of their pages; on a desktop and a phone's width, in English and
in Vietnamese. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.test_profile import make_user, patient_row

TEXT = {
    "en": {"title": "My profile", "saved": "Your profile is saved.", "download": "Download all my data"},
    "vi": {"title": "Hồ sơ của tôi", "saved": "Hồ sơ của bạn đã được lưu.",
           "download": "Tải về toàn bộ dữ liệu của tôi"},
}


def _open(browser_engine, live_server, username: str, width: int, lang: str, next_url: str):
    context = browser_engine.new_context(viewport={"width": width, "height": 900}, locale="en-US",
                                         accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server}/clinic/language/{lang}?next=/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, "login failed"
    page.goto(live_server + next_url)
    return context, page


def _shooter(page, folder: Path, prefix: str):
    def shot(name: str) -> None:
        page.screenshot(path=str(folder / f"{prefix}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    return shot


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_patient_edits_the_profile_and_downloads_their_data(app, browser_engine, live_server, tmp_path, width,
                                                              lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    me = make_user(app)
    context, page = _open(browser_engine, live_server, me["username"], width, lang, "/clinic/me/profile")
    shot = _shooter(page, shots, f"profile-patient-{lang}-{width}")
    try:
        assert TEXT[lang]["title"] in page.content()
        shot("1-open")
        page.fill("#phone", "12")
        page.fill("#quiet_from", "22:00")  # quiet hours need both times
        page.click("form.profile-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator('[data-field="phone"]').is_visible()
        assert page.locator('[data-field="quiet_until"]').is_visible()
        assert page.input_value("#quiet_from") == "22:00"
        shot("2-refused")
        page.fill("#full_name", "Nguyễn Thị Hồng Nhung")
        page.fill("#phone", "0903 123 456")
        page.check("#channel-sms")
        page.check("#channel-zalo")
        page.fill("#quiet_until", "07:00")
        page.click("form.profile-form button[type=submit]")
        page.wait_for_load_state()
        assert TEXT[lang]["saved"] in page.content()
        assert page.is_checked("#channel-zalo") and page.input_value("#quiet_until") == "07:00"
        assert page.input_value("#full_name") == "Nguyễn Thị Hồng Nhung"
        assert page.input_value("#phone") == "0903 123 456"  # stored as +84903123456
        shot("3-saved")
        assert patient_row(app, me["patient_id"])[:2] == ("Nguyễn Thị Hồng Nhung", "+84903123456")
        with page.expect_download() as download:
            page.get_by_text(TEXT[lang]["download"]).click()
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert data["patient"]["full_name"] == "Nguyễn Thị Hồng Nhung" and data["patient"]["phone"] == "+84903123456"
        assert data["account"]["username"] == me["username"]
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_receptionist_changes_the_language(app, browser_engine, live_server, tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    me = make_user(app, "Receptionist", name="Lê Thu Hà")
    other = "vi" if lang == "en" else "en"
    context, page = _open(browser_engine, live_server, me["username"], width, lang, "/profile/")
    shot = _shooter(page, shots, f"profile-staff-{lang}-{width}")
    try:
        assert TEXT[lang]["title"] in page.content()
        shot("1-open")
        page.select_option("#language", other)
        page.click("form.profile-form button[type=submit]")
        page.wait_for_load_state()
        assert TEXT[other]["saved"] in page.content() and TEXT[other]["title"] in page.content()
        assert page.input_value("#language") == other
        shot("2-saved")
        page.goto(f"{live_server}/")
        assert (other == "vi") == ("Hồ sơ" in page.content() or "Đăng xuất" in page.content())
    finally:
        context.close()
