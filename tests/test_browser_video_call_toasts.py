"""A notification's toast on the patient's video call page on a phone (390 px): a "You are next"
toast arrives during the call and must leave the call's buttons (mute, camera, share, leave) free,
wherever the page is scrolled. Before, the toasts sat at the top of the screen, over the control
bar once the patient had scrolled down (to the chat, the files). Now the buttons are a bar at the
bottom of the screen during the call and the toasts stack just above it. A screenshot to ``$SCREENSHOT_DIR`` (else
/tmp/shots)."""
from __future__ import annotations

import os
from pathlib import Path

from tests.test_notifications_bell import _notify
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.video_call_helpers import (  # noqa: F401 - media_browser, open_as: the fixtures
    enter_call,
    media_browser,
    open_as,
    until,
)

BOXES = """() => {
    const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
    return {
        controls: [...document.querySelectorAll('.video-call-controls button')]
            .filter(b => b.offsetParent !== null).map(b => ({name: b.textContent.trim(), ...box(b)})),
        toasts: [...document.querySelectorAll('#realtime-toasts .realtime-toast')].map(box),
        viewport: {w: window.innerWidth, h: window.innerHeight},
        side: box(document.querySelector('.video-call-side')),
    };
}"""


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def test_a_toast_leaves_the_call_buttons_free_on_a_phone(app, db, live_server, live_visit, open_as):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or "/tmp/shots")
    shots.mkdir(parents=True, exist_ok=True)
    doctor, patient = open_as("doctor", 1280), open_as("patient", 390)
    errors: list[str] = []
    patient.on("pageerror", lambda error: errors.append(str(error)))
    enter_call(live_server, doctor, patient, live_visit)
    patient.set_viewport_size({"width": 390, "height": 664})  # a phone's screen below the browser's bars
    for number in (7, 8, 9):  # the most toasts the page keeps at once
        _notify(app, db, "patient", f"You are next: number {number}", link=f"/portal/appointments/{live_visit}/video")
    patient.locator(".realtime-toast", has_text="You are next: number 9").wait_for(state="visible", timeout=10000)
    until(patient, "document.querySelectorAll('#realtime-toasts .realtime-toast').length === 3")

    # the page as it opens, scrolled to the picture, to the chat, and to its end: no toast over any
    # button in any of them, and the buttons on the screen
    for where, script in (("top", "window.scrollTo(0, 0)"),
                          ("picture", "document.querySelector('.video-call-tiles').scrollIntoView()"),
                          ("chat", "document.querySelector('.video-call-chat').scrollIntoView()"),
                          ("end", "window.scrollTo(0, document.body.scrollHeight)")):
        patient.evaluate(f"() => {{ {script}; }}")
        boxes = patient.evaluate(BOXES)
        patient.screenshot(path=str(shots / f"video-call-toast-patient-{where}-390.png"))
        assert len(boxes["controls"]) >= 4, boxes
        assert len(boxes["toasts"]) == 3, boxes
        for button in boxes["controls"]:
            inside = button["y"] >= 0 and button["y"] + button["h"] <= boxes["viewport"]["h"]
            for toast in boxes["toasts"]:
                assert not overlaps(button, toast), (where, button, toast)
            assert inside, (where, button)
        for toast in boxes["toasts"]:  # and the toasts are on the screen, readable
            assert 0 <= toast["x"] and toast["x"] + toast["w"] <= boxes["viewport"]["w"], toast
            assert 0 <= toast["y"] and toast["y"] + toast["h"] <= boxes["viewport"]["h"], toast
    # at the page's end its last part (the files) is above the buttons, not under them
    assert boxes["side"]["y"] + boxes["side"]["h"] <= min(button["y"] for button in boxes["controls"]), boxes
    assert patient.evaluate("document.documentElement.scrollWidth") <= 391
    # the toast's own buttons still work: "Close" takes one away
    patient.locator(".realtime-toast", has_text="number 9").get_by_role("button").click()
    until(patient, "document.querySelectorAll('#realtime-toasts .realtime-toast').length === 2")
    assert errors == []
