"""The video call's browser tests' shared parts: a Chromium with fake camera and microphone
(``--use-fake-device-for-media-stream``), logged-in pages of it, and waits polled from Python (the
call page's CSP forbids the in-page evaluation of strings that ``wait_for_function`` polls with).

The fixtures are imported by the test modules that use them (``media_browser``, ``open_as``)."""
from __future__ import annotations

import time

import pytest

from tests.conftest import logged_in_page
from tests.system_parts import chromium_path

MEDIA_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="module")
def media_browser(browser_engine):
    """A second Chromium, with fake media devices (the shared one has none)."""
    browser = browser_engine.browser_type.launch(executable_path=chromium_path(), args=MEDIA_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def open_as(app, media_browser, live_server, browser_logins):
    contexts = []

    def open_page(username: str, width: int):
        page = logged_in_page(media_browser, app, live_server, browser_logins, username, width)
        contexts.append(page.context)
        page.on("dialog", lambda dialog: dialog.accept())  # "End the video visit for everyone?"
        # what the recording and file partials hear: the last "call:streams"
        page.add_init_script("document.addEventListener('call:streams', e => { window.lastStreams = e.detail; })")
        return page

    yield open_page
    for context in contexts:
        context.close()


def until(page, expression: str, timeout: float = 10, arg=None) -> None:
    """Wait for ``expression`` (or a function of ``arg``) to hold in ``page``, polled from here: the
    page's CSP forbids the in-page evaluation of strings that ``wait_for_function`` polls with."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.2)


def stats(page) -> dict:
    return page.evaluate("window.ClinicCall.stats()")


def video_flows(page, above: int = 0, timeout: float = 15) -> dict:
    """Wait until ``page`` receives video (more than ``above`` bytes) and sends it too."""
    deadline = time.monotonic() + timeout
    found: dict = {}
    while time.monotonic() < deadline:
        found = stats(page)
        if found["videoBytesReceived"] > above and found["videoBytesSent"] > 0 and found["connected"] >= 1:
            return found
        time.sleep(0.3)
    pytest.fail(f"no video flowing: {found}")


def language(page, live_server: str, lang: str, back: str) -> None:
    page.goto(f"{live_server}/clinic/language/{lang}?next={back}")
    page.wait_for_load_state()


def doctor_url(appointment_id: int) -> str:
    return f"/clinic/video/{appointment_id}"


def patient_url(appointment_id: int) -> str:
    return f"/portal/appointments/{appointment_id}/video"


def enter_call(live_server: str, doctor, patient, appointment_id: int, lang: str = "en") -> None:
    """The two real call pages in a call: the patient joins and waits, the doctor joins and admits
    them, video flows both ways. The doctor's page opens last: his start page (My day) reloads
    itself on the check-in that the patient's joining makes."""
    doctor.goto("about:blank")
    language(patient, live_server, lang, patient_url(appointment_id))
    until(patient, "document.querySelector('[data-part=preview]').videoWidth > 0")  # the device check
    patient.click('[data-action="join"]')
    patient.wait_for_selector('[data-part="waiting"]:not([hidden])')
    language(doctor, live_server, lang, doctor_url(appointment_id))
    until(doctor, "document.querySelector('[data-part=preview]').videoWidth > 0")
    doctor.click('[data-action="join"]')
    waiter = doctor.locator(".video-call-waiter")
    waiter.get_by_role("button").click()
    waiter.wait_for(state="detached")
    video_flows(doctor)
    video_flows(patient)
