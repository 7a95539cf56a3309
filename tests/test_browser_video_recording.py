"""The recording and file partials of the call page in real headless Chromium (two pages: the
doctor's and the patient's). The call page is stood in for by a small page holding only the two
partials, as the call page includes them: ``window.ClinicCall`` and the ``call:streams`` event with
streams drawn on a canvas and a tone (no camera needed); the recording on the real call pages, in a
call, is tests/test_browser_video_call_recording.py.

The doctor asks, each accepts on their own page (the dialog says what is recorded and for how
long), the doctor's browser records with MediaRecorder and uploads chunks, the patient stops it (which
withdraws their consent: both pages say so);
the stored recording decrypts to WebM. Files: the patient sends a PDF, both lists show it. On a
desktop and a phone's width, in English and in Vietnamese; screenshots to ``$SCREENSHOT_DIR``."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = {
    "en": {"record": "Record the call", "kept": "30 days", "accept": "Accept recording", "stop": "Stop recording",
           "indicator": "Recording", "stopped": "The recording has stopped.",
           "withdrawn": "Consent was withdrawn: the recording has stopped.", "send": "Send"},
    "vi": {"record": "Ghi hình cuộc gọi", "kept": "30 ngày", "accept": "Đồng ý ghi hình", "stop": "Dừng ghi hình",
           "indicator": "Đang ghi hình", "stopped": "Đã dừng ghi hình.",
           "withdrawn": "Sự đồng ý đã bị rút lại: đã dừng ghi hình.", "send": "Gửi"},
}

# What the call page does for these partials: window.ClinicCall, then the streams.
STAND_IN = """
<script>
window.ClinicCall = {appointmentId: %(appointment)d, role: "%(role)s", socket: null, room: ""};
(function () {
  var canvas = document.createElement("canvas"); canvas.width = 320; canvas.height = 240;
  var ctx = canvas.getContext("2d"); var n = 0;
  setInterval(function () { n += 1; ctx.fillStyle = "hsl(" + (n * 7 %% 360) + ",70%%,50%%)";
    ctx.fillRect(0, 0, 320, 240); }, 66);
  var video = canvas.captureStream(15);
  var audio = new AudioContext(); var tone = audio.createOscillator(); var out = audio.createMediaStreamDestination();
  tone.connect(out); tone.start();
  var local = new MediaStream([video.getVideoTracks()[0], out.stream.getAudioTracks()[0]]);
  var remote = new MediaStream([canvas.captureStream(15).getVideoTracks()[0]]);
  function tell() {
    document.dispatchEvent(new CustomEvent("call:streams", {detail: {local: local, remotes: [remote]}}));
  }
  document.addEventListener("DOMContentLoaded", tell); setTimeout(tell, 300);
}());
</script>
"""


def stand_in_page(app, page, appointment_id: int, role: str, lang: str) -> None:
    """Open the stand-in call page in ``page`` (logged in), with the session's own CSRF token."""
    from flask import render_template_string
    from flask_babel import force_locale

    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/notifications/")
    page.wait_for_load_state()
    token = page.evaluate("""() => fetch('/notifications/').then(r => r.text()).then(html => {
        const m = html.match(/name="csrf_token"[^>]*value="([^"]+)"/); return m ? m[1] : ""; })""")
    assert token, "no CSRF token for the session"
    with app.test_request_context(), force_locale(lang):
        body = render_template_string('{% include "video/_recording.html" %}{% include "video/_files.html" %}',
                                      appointment_id=appointment_id, role=role)
    body = re.sub(r'data-csrf="[^"]*"', f'data-csrf="{token}"', body)
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/static/appbuilder/css/bootstrap.min.css"></head>'
            f'<body><main class="container">{STAND_IN % {"appointment": appointment_id, "role": role}}'
            f'{body}</main></body></html>')
    url = f"{page.base_url}/stand-in-call/{role}"
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(url)
    page.wait_for_selector("#call-recording", state="attached")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_record_with_both_consents_then_stop_and_send_a_file(app, db, page_as, live_visit, tmp_path, width,  # noqa: F811
                                                             lang):
    from app.models import RecordingChunk, VideoRecording
    from app.services import video_recording as rec
    from app.services.storage import file_store

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    doctor, patient = page_as("doctor", width=width), page_as("patient", width=width)
    errors: list[str] = []
    for page in (doctor, patient):
        page.on("pageerror", lambda error: errors.append(str(error)))
        stand_in_page(app, page, live_visit, "doctor" if page is doctor else "patient", lang)

    def shot(page, name):
        page.screenshot(path=str(shots / f"video-recording-{name}-{lang}-{width}.png"), full_page=True)

    assert patient.locator('[data-action="request"]').count() == 0  # only the doctor asks
    doctor.get_by_role("button", name=text["record"], exact=True).click()
    doctor.wait_for_selector('[data-part="consent"]:not([hidden])')
    doctor.get_by_role("button", name=text["accept"]).click()
    patient.evaluate("window.ClinicRecording.refresh()")  # the event's stand-in: no socket on this page
    dialog = patient.locator('[data-part="consent"]')
    dialog.wait_for(state="visible")
    assert text["kept"] in dialog.inner_text()
    shot(patient, "consent")
    patient.get_by_role("button", name=text["accept"]).click()
    patient.locator('[data-part="indicator"]').wait_for(state="visible")
    doctor.evaluate("window.ClinicRecording.refresh()")
    doctor.locator('[data-part="indicator"]').wait_for(state="visible")
    assert text["indicator"] in doctor.locator('[data-part="indicator"]').inner_text()
    shot(doctor, "recording")

    recording_id = db.session.execute(select(VideoRecording.id)).scalar_one()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # a chunk every 4 seconds from the doctor's browser
        db.session.rollback()
        if db.session.execute(select(RecordingChunk.id).where(RecordingChunk.recording_id == recording_id)).first():
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no chunk uploaded; page errors: {errors}")

    patient.get_by_role("button", name=text["stop"]).click()
    patient.get_by_text(text["withdrawn"]).wait_for()
    doctor.evaluate("window.ClinicRecording.refresh()")  # the doctor's browser hears it and stops recording
    doctor.get_by_text(text["withdrawn"]).wait_for()
    doctor.locator('[data-part="indicator"]').wait_for(state="hidden")
    db.session.rollback()
    recording = db.session.get(VideoRecording, recording_id)
    assert (recording.state, recording.stop_reason) == ("stopped", "consent_withdrawn")
    setup = rec.RecordingSetup.from_config(app.config, file_store(app.config))
    assert rec.read_all(db.session, recording, setup=setup).startswith(b"\x1a\x45\xdf\xa3")  # WebM (EBML)

    # a file from the patient, in both lists
    pdf = tmp_path / "ket-qua.pdf"
    pdf.write_bytes(PDF)
    patient.set_input_files("#call-files-input", str(pdf))
    patient.get_by_role("button", name=text["send"], exact=True).click()
    patient.locator(".call-file", has_text="ket-qua.pdf").wait_for()
    doctor.evaluate("window.ClinicCallFiles.refresh()")
    doctor.locator(".call-file", has_text="ket-qua.pdf").wait_for()
    shot(doctor, "files")
    assert doctor.evaluate("document.documentElement.scrollWidth") <= width + 1  # nothing wider than the screen
    assert errors == []
