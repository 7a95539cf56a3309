"""Recording a video visit on the real call pages (the doctor's ``/clinic/video/<id>``, the
patient's ``/portal/appointments/<id>/video``), two headless Chromium pages with fake camera and
microphone in a call (tests/test_browser_video_recording.py drives the same partial on a stand-in
page, in both languages and with files).

With both consents: the doctor asks, accepts his own question; the patient's page shows the
question with what is recorded and for how long, the patient accepts; both pages show that it
records; the doctor's browser records the call (MediaRecorder) and uploads chunks, stored sealed
(the stored bytes are not the WebM the browser sent, and open to it with the key); the patient
stops it, which withdraws their consent: both pages say consent was withdrawn, the stored consent
keeps when it was taken back, and the doctor's browser stops uploading without an error while the
call goes on. The doctor's page reloads while it records: it goes on recording, its new pieces
stored after the earlier ones (before, numbered from 0 again, they were refused as duplicates). The
doctor ends the call while it records: his browser uploads its last piece and stops the recording
(before, an ended call went on being recorded, black and silent). The doctor's tab closes while it
records, without ending the call: the server's sweep stops it (nothing came from his browser for
two minutes) and the patient's page says why (before, it stayed "recording"). Refused:
the patient refuses before the doctor has answered; the doctor's question closes, both pages say
nothing was recorded, nothing is stored, and the doctor may ask again."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.video_call_helpers import (  # noqa: F401 - media_browser, open_as: the fixtures
    enter_call,
    media_browser,
    open_as,
    stats,
    video_flows,
)

EBML = b"\x1a\x45\xdf\xa3"  # the first bytes of a WebM file
TEXT = {"record": "Record the call", "accept": "Accept recording", "refuse": "Refuse", "stop": "Stop recording",
        "indicator": "Recording", "stopped": "The recording has stopped.",
        "withdrawn": "Consent was withdrawn: the recording has stopped.",
        "gone": "The recording stopped: the doctor's browser sent nothing more.",
        "refused": "The recording was refused; nothing was recorded.",
        "what": "What is recorded: the sound and the picture of everyone in the call",
        "kept": "It is kept encrypted for 30 days", "ended": "The video visit has ended."}


@pytest.fixture
def call(live_server, live_visit, open_as):  # noqa: F811
    """The doctor's and the patient's real call pages, in the call, video flowing both ways."""
    doctor, patient = open_as("doctor", 1280), open_as("patient", 390)
    errors: list[str] = []
    for page in (doctor, patient):
        page.on("pageerror", lambda error: errors.append(str(error)))
    enter_call(live_server, doctor, patient, live_visit)
    yield doctor, patient
    assert errors == []


def recording_status(page) -> str:
    return page.locator('#call-recording [data-part="status"]').inner_text()


def the_recording(db):
    from app.models import VideoRecording

    db.session.rollback()  # what the live server committed
    return db.session.execute(select(VideoRecording)).scalar_one()


def chunk_count(db, recording_id: int) -> int:
    from app.models import RecordingChunk

    db.session.rollback()
    return db.session.execute(select(func.count(RecordingChunk.id))
                              .where(RecordingChunk.recording_id == recording_id)).scalar_one()


def ask_to_record(doctor):
    """The doctor asks to record: his own question (the locator), not answered yet."""
    doctor.get_by_role("button", name=TEXT["record"], exact=True).click()
    question = doctor.locator('[data-part="consent"]')
    question.wait_for(state="visible")
    return question


def record_with_both_consents(doctor, patient) -> None:
    """The doctor asks and accepts; the patient's page asks them (the server's event), saying what
    is recorded and for how long; they accept; both pages show that it records."""
    ask_to_record(doctor).get_by_role("button", name=TEXT["accept"]).click()
    question = patient.locator('[data-part="consent"]')
    question.wait_for(state="visible")
    assert TEXT["what"] in question.inner_text() and TEXT["kept"] in question.inner_text()
    patient.get_by_role("button", name=TEXT["accept"]).click()
    for page in (patient, doctor):
        page.locator('[data-part="indicator"]').wait_for(state="visible")
        assert TEXT["indicator"] in page.locator('[data-part="indicator"]').inner_text()


def test_recorded_with_both_consents_stored_sealed_and_the_patients_stop_withdraws_consent(
        app, db, call, live_visit):  # noqa: F811
    from app.models import RecordingChunk
    from app.services import video_recording as rec
    from app.services.storage import file_store

    doctor, patient = call
    assert patient.locator('[data-action="request"]').count() == 0  # only the doctor asks
    record_with_both_consents(doctor, patient)
    recording = the_recording(db)
    assert recording.state == "recording"
    assert {c.role: c.decision for c in recording.consents} == {"doctor": "accepted", "patient": "accepted"}

    # the doctor's browser records and uploads a chunk every few seconds; each is stored sealed
    deadline = time.monotonic() + 15
    while chunk_count(db, recording.id) < 1:
        assert time.monotonic() < deadline, f"no chunk uploaded: {recording_status(doctor)!r}"
        time.sleep(0.5)
    setup = rec.RecordingSetup.from_config(app.config, file_store(app.config))
    first = db.session.execute(select(RecordingChunk).where(RecordingChunk.recording_id == recording.id)
                               .order_by(RecordingChunk.seq)).scalars().first()
    stored = setup.store.get(first.storage_key)
    plain = rec.unseal(setup.key, recording.id, first.seq, stored)
    assert plain.startswith(EBML) and len(plain) == first.size_bytes > 1000  # the browser's WebM
    assert not stored.startswith(EBML) and plain[:64] not in stored  # not what is kept

    # the patient stops it: their consent is withdrawn, both pages say so, the doctor's browser stops
    patient.get_by_role("button", name=TEXT["stop"]).click()
    for page in (patient, doctor):
        page.get_by_text(TEXT["withdrawn"]).wait_for()
        page.locator('[data-part="indicator"]').wait_for(state="hidden")
    recording = the_recording(db)
    patient_id = app.appbuilder.sm.find_user(username="patient").id
    assert (recording.state, recording.stop_reason, recording.stopped_by_id) == \
        ("stopped", "consent_withdrawn", patient_id)
    consents = {c.role: c for c in recording.consents}
    assert (consents["patient"].user_id, consents["patient"].decision) == (patient_id, "accepted")
    assert consents["patient"].withdrawn_at == recording.stopped_at is not None  # given, then taken back: when
    assert consents["doctor"].withdrawn_at is None
    kept = chunk_count(db, recording.id)
    assert rec.read_all(db.session, recording, setup=setup).startswith(EBML)
    time.sleep(4.5)  # longer than the recorder's chunks: its last piece, if any, is refused quietly
    assert chunk_count(db, recording.id) == kept
    assert recording_status(doctor) == TEXT["withdrawn"]  # no "could not be saved"
    video_flows(doctor, above=stats(doctor)["videoBytesReceived"])  # the call goes on
    doctor.get_by_role("button", name=TEXT["record"], exact=True).wait_for()  # and may be recorded again


def test_the_patient_refuses_and_nothing_is_recorded(app, db, call, live_visit):  # noqa: F811
    doctor, patient = call
    doctors_question = ask_to_record(doctor)  # not answered yet by the doctor
    question = patient.locator('[data-part="consent"]')
    question.wait_for(state="visible")
    patient.get_by_role("button", name=TEXT["refuse"]).click()

    for page in (patient, doctor):
        page.get_by_text(TEXT["refused"]).wait_for()
        assert page.locator('[data-part="indicator"]').is_hidden()
    doctors_question.wait_for(state="hidden")  # the doctor's own question is closed: nothing to answer
    recording = the_recording(db)
    assert (recording.state, recording.stop_reason, recording.started_at) == ("refused", "refused", None)
    assert {c.role: c.decision for c in recording.consents} == {"patient": "refused"}
    assert chunk_count(db, recording.id) == 0
    doctor.get_by_role("button", name=TEXT["record"], exact=True).wait_for()  # he may ask again later
    video_flows(doctor, above=stats(doctor)["videoBytesReceived"])


def test_the_doctors_page_reloaded_while_recording_goes_on_recording(app, db, call, live_visit):  # noqa: F811
    from app.services import video_recording as rec
    from app.services.storage import file_store

    doctor, patient = call
    record_with_both_consents(doctor, patient)
    recording_id = the_recording(db).id
    deadline = time.monotonic() + 15
    while (before := chunk_count(db, recording_id)) < 1:
        assert time.monotonic() < deadline, "no chunk uploaded"
        time.sleep(0.3)
    doctor.reload()  # joins again by itself; the recording partial finds the recording under way
    doctor.locator('[data-part="indicator"]').wait_for(state="visible")
    deadline = time.monotonic() + 15
    while chunk_count(db, recording_id) <= before:
        assert time.monotonic() < deadline, f"nothing recorded after the reload: {recording_status(doctor)!r}"
        time.sleep(0.3)
    assert "could not be saved" not in recording_status(doctor)
    # the new recorder's first piece (a WebM header of its own) is stored after the earlier ones
    setup = rec.RecordingSetup.from_config(app.config, file_store(app.config))
    assert rec.read_all(db.session, the_recording(db), setup=setup).count(EBML) >= 2


def test_ending_the_call_stops_the_recording(app, db, call, live_visit):  # noqa: F811
    doctor, patient = call
    record_with_both_consents(doctor, patient)
    recording_id = the_recording(db).id
    deadline = time.monotonic() + 15
    while chunk_count(db, recording_id) < 1:  # the first piece (4 s), then a second more
        assert time.monotonic() < deadline, "no chunk uploaded"
        time.sleep(0.3)
    time.sleep(1)
    doctor.click('[data-action="end"]')  # "End the video visit for everyone?" accepted
    patient.get_by_text(TEXT["ended"]).wait_for()
    deadline = time.monotonic() + 10
    while (recording := the_recording(db)).state != "stopped":
        assert time.monotonic() < deadline, f"still {recording.state} after the call ended"
        time.sleep(0.3)
    assert recording.stop_reason == "stopped"
    assert recording.stopped_by_id == app.appbuilder.sm.find_user(username="doctor").id
    kept = chunk_count(db, recording.id)
    assert kept >= 2  # the recorder's last piece, uploaded before the stop
    time.sleep(4.5)  # longer than the recorder's chunks: nothing more is recorded of the ended call
    assert chunk_count(db, recording.id) == kept


def test_the_doctors_tab_closed_while_recording_is_stopped_by_the_server(app, db, call, live_visit):  # noqa: F811
    from app.models.types import utcnow
    from app.services import video_recording as rec
    from app.services.telemedicine import JoinWindow

    doctor, patient = call
    record_with_both_consents(doctor, patient)
    recording_id = the_recording(db).id
    deadline = time.monotonic() + 15
    while chunk_count(db, recording_id) < 1:
        assert time.monotonic() < deadline, "no chunk uploaded"
        time.sleep(0.3)
    doctor.close()  # no End call, no Stop
    time.sleep(1)
    assert the_recording(db).state == "recording"
    # the periodic sweep, its clock moved past two minutes without a piece instead of waiting them
    later = utcnow() + rec.RECORDER_SILENCE + timedelta(seconds=5)
    assert rec.stop_abandoned(db.session, later, window=JoinWindow.from_config(app.config), retention_days=30) == 1
    patient.get_by_text(TEXT["gone"]).wait_for()
    patient.locator('[data-part="indicator"]').wait_for(state="hidden")
    recording = the_recording(db)
    assert (recording.state, recording.stop_reason, recording.stopped_by_id) == ("stopped", "recorder_gone", None)
    assert all(c.withdrawn_at is None for c in recording.consents)
