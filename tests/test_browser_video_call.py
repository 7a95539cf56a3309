"""A video visit in two real headless Chromium pages with fake camera and microphone
(``--use-fake-device-for-media-stream``): the patient opens the portal's page and waits, the doctor
opens his, sees the patient waiting and admits them; video flows both ways (getStats), mute and
camera toggle, the screen is shared, a chat message crosses the data channel, the patient leaves
and joins again, each page reloads and joins again by itself, and the doctor's "End call" shows
the patient that the visit ended. Screenshots at 1280 and 390 px, in English and Vietnamese, to
``$SCREENSHOT_DIR`` (else /tmp/shots)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.video_call_helpers import (  # noqa: F401 - media_browser, open_as: the fixtures
    language,
    media_browser,
    open_as,
    stats,
    until,
    video_flows,
)

TEXT = {
    "en": {"waiting": "The doctor will let you in shortly.", "ended": "The video visit has ended.",
           "unmute": "Unmute", "camera_on": "Turn camera on"},
    "vi": {"waiting": "Bác sĩ sẽ cho bạn vào ngay.", "ended": "Buổi khám video đã kết thúc.",
           "unmute": "Bật tiếng", "camera_on": "Bật camera"},
}


def test_a_video_visit_between_two_browsers(live_server, live_visit, open_as):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or "/tmp/shots")
    shots.mkdir(parents=True, exist_ok=True)
    doctor_url, patient_url = f"/clinic/video/{live_visit}", f"/portal/appointments/{live_visit}/video"
    doctor, patient = open_as("doctor", 1280), open_as("patient", 390)
    # the doctor's start page (My day) reloads itself on the queue's live updates, and the patient's
    # joining checks them in: away from it, so that no reload cuts short the doctor's next page
    doctor.goto("about:blank")
    errors: list[str] = []
    for page in (doctor, patient):
        page.on("pageerror", lambda error: errors.append(str(error)))

    def shot(page, name: str, lang: str) -> None:
        width = page.viewport_size["width"]
        who = "doctor" if page is doctor else "patient"
        page.screenshot(path=str(shots / f"video-call-{who}-{name}-{lang}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{name} wider than the screen"

    # the patient checks the devices, joins and waits
    language(patient, live_server, "en", patient_url)
    patient.locator('[data-part="camera"] option').first.wait_for(state="attached")
    until(patient, "document.querySelector('[data-part=preview]').videoWidth > 0")
    shot(patient, "check", "en")
    patient.click('[data-action="join"]')
    patient.get_by_text(TEXT["en"]["waiting"]).wait_for()
    shot(patient, "waiting", "en")

    # the doctor joins, sees the patient waiting and admits them
    language(doctor, live_server, "en", doctor_url)
    doctor.click('[data-action="join"]')
    waiter = doctor.locator(".video-call-waiter")
    waiter.wait_for()
    shot(doctor, "lobby", "en")
    waiter.get_by_role("button").click()
    waiter.wait_for(state="detached")

    # video both ways, and growing
    first = {side: video_flows(page) for side, page in (("doctor", doctor), ("patient", patient))}
    time.sleep(1)
    for side, page in (("doctor", doctor), ("patient", patient)):
        later = video_flows(page, above=first[side]["videoBytesReceived"])
        assert later["videoBytesSent"] > first[side]["videoBytesSent"], side
    assert doctor.locator(".video-call-remote video").evaluate("v => v.videoWidth") > 0
    for page in (doctor, patient):  # the partials get the call's streams (window.ClinicCall, call:streams)
        assert page.evaluate("""() => window.ClinicCall.appointmentId === %d && Boolean(window.ClinicCall.socket)
            && window.lastStreams.local.getVideoTracks().length === 1
            && window.lastStreams.local.getAudioTracks().length === 1
            && window.lastStreams.remotes.length === 1
            && window.lastStreams.remotes[0].getVideoTracks().length === 1""" % live_visit)

    # mute and camera off on the patient's side, then back on
    patient.click('[data-action="mute"]')
    patient.click('[data-action="camera"]')
    assert patient.locator('[data-action="mute"]').inner_text() == TEXT["en"]["unmute"]
    assert patient.locator('[data-action="camera"]').get_attribute("aria-pressed") == "true"
    assert patient.evaluate("""() => { const s = document.querySelector('[data-part=self]').srcObject;
        return s.getVideoTracks().every(t => !t.enabled); }""")
    patient.click('[data-action="mute"]')
    patient.click('[data-action="camera"]')
    assert patient.locator('[data-action="camera"]').get_attribute("aria-pressed") == "false"

    # screen sharing replaces the camera on the way out, and the camera comes back after it
    camera_label = patient.evaluate("window.ClinicCall.sending()")[0]
    patient.click('[data-action="share"]')
    patient.wait_for_selector('[data-action="share"][aria-pressed="true"]')
    until(patient, "window.ClinicCall.sending()[0].some(label => label.startsWith('video:screen'))")
    video_flows(doctor, above=stats(doctor)["videoBytesReceived"])
    patient.click('[data-action="share"]')
    until(patient, "labels => JSON.stringify(window.ClinicCall.sending()[0]) === JSON.stringify(labels)",
          arg=camera_label)

    # chat over the data channel, both ways
    doctor.wait_for_selector('[data-part="chat-form"] button:not([disabled])')
    doctor.fill('[data-part="chat-input"]', "Xin chào, anh nghe rõ không?")
    doctor.press('[data-part="chat-input"]', "Enter")
    patient.locator(".video-call-chat-log", has_text="Xin chào, anh nghe rõ không?").wait_for()
    patient.fill('[data-part="chat-input"]', "Rõ ạ")
    patient.press('[data-part="chat-input"]', "Enter")
    doctor.locator(".video-call-chat-log", has_text="Rõ ạ").wait_for()
    shot(doctor, "call", "en")
    shot(patient, "call", "en")

    # the patient leaves and joins again (admitted already: straight into the call)
    patient.click('[data-action="leave"]')
    until(doctor, "window.ClinicCall.peers().length === 0")
    patient.click('[data-action="rejoin"]')
    video_flows(patient)
    video_flows(doctor)

    # each page reloads (in Vietnamese) and joins again by itself
    received = stats(doctor)["videoBytesReceived"]
    language(patient, live_server, "vi", patient_url)
    video_flows(patient)
    video_flows(doctor, above=0)
    language(doctor, live_server, "vi", doctor_url)
    video_flows(doctor)
    video_flows(patient)
    assert stats(doctor)["peers"] == 1 and stats(patient)["peers"] == 1
    assert received > 0
    shot(doctor, "call", "vi")
    shot(patient, "call", "vi")
    doctor.set_viewport_size({"width": 390, "height": 900})
    patient.set_viewport_size({"width": 1280, "height": 900})
    shot(doctor, "call", "vi")
    shot(patient, "call", "vi")

    # the doctor ends the call: the patient sees it ended
    doctor.click('[data-action="end"]')
    patient.get_by_text(TEXT["vi"]["ended"]).wait_for()
    doctor.get_by_text(TEXT["vi"]["ended"]).wait_for()
    shot(patient, "ended", "vi")
    patient.reload()  # still ended after a reload
    patient.get_by_text(TEXT["vi"]["ended"]).wait_for()
    assert patient.locator('[data-part="check"]').is_hidden()
    assert patient.evaluate("window.ClinicCall.peers().length") == 0
    assert errors == []
