"""A video visit between the real call page in headless Chromium (fake camera and microphone) and a
Python WebRTC peer (aiortc, tests/webrtc_peer.py) that joins through the app's own Socket.IO
signalling with a login's session cookie, as a second browser would. Both ways round: the Python
peer as the patient (it waits, the doctor admits it on his page, it makes the offer, the page
answers) and as the doctor (it admits the patient's page, the page makes the offer, it answers).

Media must flow both ways: the page's getStats shows video received and sent on a connected
connection and its tile shows the Python peer's 320x240 picture; the Python peer decodes frames
of the page's video. A chat line crosses the data channel each way. When the Python peer leaves,
the page drops it."""
from __future__ import annotations

import time

import pytest

from tests.test_realtime import session_cookie
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.video_call_helpers import (  # noqa: F401 - media_browser, open_as: the fixtures
    doctor_url,
    language,
    media_browser,
    open_as,
    patient_url,
    until,
    video_flows,
)

pytestmark = pytest.mark.needs_aiortc


@pytest.fixture
def loopback_only(monkeypatch):
    """aiortc offers its candidates on 127.0.0.1 only (aioice leaves loopback out): the call works
    on a machine whose only network is loopback, as Chromium's does (--allow-loopback-in-peer-connection)."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def until_true(check, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize("python_side", ["patient", "doctor"])
def test_video_flows_between_the_call_page_and_a_python_peer(app, live_server, live_visit, open_as,  # noqa: F811
                                                            loopback_only, python_side):
    from tests.webrtc_peer import HEIGHT, WIDTH, PythonPeer

    browser_side = "doctor" if python_side == "patient" else "patient"
    page = open_as(browser_side, 1280)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    peer = PythonPeer(live_server, session_cookie(app, python_side), live_visit, name="Python")
    try:
        if python_side == "patient":
            page.goto("about:blank")  # not My day: it reloads itself on the check-in the patient's joining makes
            seat = peer.join()
            assert (seat["ok"], seat["role"], seat["state"]) == (True, "patient", "waiting")
            language(page, live_server, "en", doctor_url(live_visit))
            until(page, "document.querySelector('[data-part=preview]').videoWidth > 0")
            page.click('[data-action="join"]')
            waiter = page.locator(".video-call-waiter")
            waiter.get_by_role("button").click()  # admit the Python patient: it offers, the page answers
            waiter.wait_for(state="detached")
        else:
            seat = peer.join()
            assert (seat["ok"], seat["role"], seat["state"]) == (True, "doctor", "admitted")
            language(page, live_server, "en", patient_url(live_visit))
            until(page, "document.querySelector('[data-part=preview]').videoWidth > 0")
            page.click('[data-action="join"]')  # the Python doctor admits; the page offers, it answers
            until_true(lambda: peer.admitted, "the Python doctor never admitted the patient")

        # the page: video in and out on a connected connection, the Python peer's picture in its tile
        video_flows(page)
        until(page, "size => { const v = document.querySelector('.video-call-remote video');"
                    " return Boolean(v) && v.videoWidth === size[0] && v.videoHeight === size[1]; }",
              arg=[WIDTH, HEIGHT])
        # the Python peer: decoded frames of the page's camera
        until_true(lambda: peer.frames > 0, f"the Python peer decoded no frame; failures: {peer.failures}")
        assert peer.frame_size is not None and peer.frame_size[0] > 0 and peer.frame_size[1] > 0

        # chat over the data channel, both ways, in the page's format
        peer.say("Xin chào từ Python")
        page.locator(".video-call-chat-log", has_text="Python: Xin chào từ Python").wait_for()
        page.wait_for_selector('[data-part="chat-form"] button:not([disabled])')
        page.fill('[data-part="chat-input"]', "Nghe rõ")
        page.press('[data-part="chat-input"]', "Enter")
        until_true(lambda: any(line.get("text") == "Nghe rõ" for line in peer.chat), f"no chat line: {peer.chat}")
        assert peer.refusals == [] and peer.failures == []
    finally:
        peer.close()
    # the Python peer has left: the page drops it
    until(page, "window.ClinicCall.peers().length === 0")
    assert errors == []
