"""A third participant in real headless Chromium (fake camera and microphone): the doctor, in his
call, types the interpreter's name and makes a one-time link; the interpreter opens it in a
browser that is logged in to nothing, presses the one button, checks the devices, joins and waits;
the doctor sees the name in the waiting list and admits; video flows both ways, each tile is
captioned with the other's name, and the doctor's list says the link was used. The guest's page in
Vietnamese at a phone's width; screenshots to ``$SCREENSHOT_DIR`` (else /tmp/shots)."""
from __future__ import annotations

import os
from pathlib import Path

from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.video_call_helpers import (  # noqa: F401 - media_browser, open_as: the fixtures
    language,
    media_browser,
    open_as,
    until,
    video_flows,
)

GUEST = "Nguyễn Thị Mai (phiên dịch)"


def test_the_doctor_invites_an_interpreter_who_joins_with_the_link(live_server, live_visit, open_as,  # noqa: F811
                                                                   media_browser):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or "/tmp/shots")
    shots.mkdir(parents=True, exist_ok=True)
    doctor = open_as("doctor", 1280)
    errors: list[str] = []
    doctor.on("pageerror", lambda error: errors.append(str(error)))
    language(doctor, live_server, "en", f"/clinic/video/{live_visit}")
    doctor.click('[data-action="join"]')
    doctor.wait_for_selector('[data-part="stage"]:not([hidden])')

    # an empty name is refused on the page, then the link is made
    doctor.click('#call-guests button[type="submit"]')
    doctor.get_by_text("Give the guest's name, as the others will see it.").wait_for()
    doctor.fill("#call-guest-name", GUEST)
    doctor.click('#call-guests button[type="submit"]')
    link_input = doctor.locator('[data-part="link-input"]')
    link_input.wait_for()
    link = link_input.input_value()
    assert "/video-guest/" in link
    doctor.locator(".call-guest", has_text="Link not used yet").wait_for()
    doctor.screenshot(path=str(shots / "video-guest-doctor-invite-en-1280.png"), full_page=True)

    # the interpreter: a browser logged in to nothing, a phone, in Vietnamese
    context = media_browser.new_context(viewport={"width": 390, "height": 900}, locale="vi-VN")
    guest = context.new_page()
    guest.on("pageerror", lambda error: errors.append(str(error)))
    try:
        guest.goto(f"{live_server}/clinic/language/vi?next=/clinic/")
        guest.goto(link)
        guest.get_by_text("Bạn được mời vào một buổi khám qua video").wait_for()
        assert GUEST in guest.locator("[data-guest-name]").inner_text()
        guest.screenshot(path=str(shots / "video-guest-landing-vi-390.png"), full_page=True)
        guest.click("button[type=submit]")
        guest.wait_for_url(f"**/video-guest/call/{live_visit}")
        until(guest, "document.querySelector('[data-part=preview]').videoWidth > 0")
        assert guest.locator("#call-recording").count() == 0 and guest.locator("#call-files").count() == 0
        guest.click('[data-action="join"]')
        guest.get_by_text("Bác sĩ sẽ cho bạn vào ngay.").wait_for()
        guest.screenshot(path=str(shots / "video-guest-waiting-vi-390.png"), full_page=True)

        # the doctor sees the name waiting and lets the interpreter in
        waiter = doctor.locator(".video-call-waiter", has_text=GUEST)
        waiter.wait_for()
        waiter.get_by_role("button").click()
        video_flows(doctor)
        video_flows(guest)
        doctor.locator(".video-call-remote figcaption", has_text=GUEST).wait_for()
        guest.locator(".video-call-remote figcaption", has_text="Lê Minh Tâm").wait_for()
        doctor.locator(".call-guest", has_text="Joined with the link").wait_for()
        doctor.screenshot(path=str(shots / "video-guest-doctor-call-en-1280.png"), full_page=True)
        guest.screenshot(path=str(shots / "video-guest-call-vi-390.png"), full_page=True)
        assert guest.evaluate("document.documentElement.scrollWidth") <= 391

        # the link worked once: opened again, it says so
        again = context.new_page()
        again.goto(link)
        again.get_by_text("Đường dẫn mời này đã được dùng").wait_for()
        again.close()
    finally:
        context.close()
    assert errors == []
