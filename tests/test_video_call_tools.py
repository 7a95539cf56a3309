"""The call page's JSON endpoints (app/views/video_call_tools.py): recording with consent and files
sent in the call, as the two participants' browsers call them (session, CSRF token). Every refusal
is a 4xx JSON naming its reason, never a 500."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.desk_helpers import login_doctor

WEBM = b"\x1a\x45\xdf\xa3" + b"recorded consultation " * 100
JSON = {"Accept": "application/json"}


def png(size=(8, 8)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def live_visit(app, db, clinic):
    """A video appointment of the login "patient" with the login "doctor", under way now."""
    from app.models import Appointment, Patient
    from app.models.types import utcnow

    doctor = login_doctor(app, db, full_name="Lê Minh Tâm", title="BS.")
    patient = db.session.get(Patient, clinic.patient)
    patient.user_id = app.appbuilder.sm.find_user(username="patient").id
    start = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    appointment = Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=clinic.service, mode="video",
                              start_at=start, end_at=start + timedelta(minutes=20), status="confirmed")
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


@pytest.fixture
def sent(monkeypatch):
    events: list[tuple[str, dict, list[str]]] = []

    def capture(event, payload, rooms):
        events.append((event, payload, list(rooms)))
        return 1

    monkeypatch.setattr("app.services.video_recording.send", capture)
    monkeypatch.setattr("app.services.video_files.send", capture)
    return events


def post_json(client, url, body=None, **kwargs):
    return client.post(url, json=body if body is not None else {}, headers=JSON, **kwargs)


def chunk(client, base, recording_id, seq, data=WEBM):
    return client.post(f"{base}/recordings/{recording_id}/chunks?seq={seq}", data=data, headers=JSON,
                       content_type="application/octet-stream")


def refused(response, status, reason):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["reason"] == reason and body["message"], body
    return body


def test_the_consent_flow_over_http(app, db, live_visit, login_as, sent):
    doctor, patient = login_as("doctor"), login_as("patient")
    base = f"/video-call/{live_visit}"
    refused(post_json(patient, f"{base}/recordings"), 403, "not_doctor")
    asked = post_json(doctor, f"{base}/recordings")
    assert asked.status_code == 201
    recording_id = asked.get_json()["recording_id"]
    listed = patient.get(f"{base}/recordings", headers=JSON).get_json()
    assert listed["role"] == "patient" and listed["retention_days"] == 30
    assert [(r["recording_id"], r["state"]) for r in listed["recordings"]] == [(recording_id, "requested")]
    refused(chunk(doctor, base, recording_id, 0), 409, "not_recording")

    assert post_json(doctor, f"{base}/recordings/{recording_id}/consent", {"accept": True}).status_code == 200
    refused(chunk(doctor, base, recording_id, 0), 409, "not_recording")  # the patient has not answered
    started = post_json(patient, f"{base}/recordings/{recording_id}/consent", {"accept": True}).get_json()
    assert started["state"] == "recording" and started["consents"] == {"doctor": "accepted", "patient": "accepted"}

    assert chunk(doctor, base, recording_id, 0, WEBM[:700]).status_code == 201
    assert chunk(doctor, base, recording_id, 1, WEBM[700:]).status_code == 201
    refused(chunk(patient, base, recording_id, 2), 403, "not_doctor")
    refused(chunk(doctor, base, recording_id, 1), 409, "duplicate_chunk")
    stopped = post_json(patient, f"{base}/recordings/{recording_id}/stop").get_json()  # withdraws their consent
    assert (stopped["state"], stopped["stop_reason"]) == ("stopped", "consent_withdrawn")
    assert stopped["consents"] == {"doctor": "accepted", "patient": "withdrawn"}
    refused(chunk(doctor, base, recording_id, 2), 409, "not_recording")

    played = doctor.get(f"/video-call/recordings/{recording_id}/play")
    assert played.status_code == 200 and played.mimetype == "video/webm" and played.get_data() == WEBM
    assert "no-store" in played.headers["Cache-Control"]
    user_rooms = {room for event, _p, rooms in sent if event == "call:recording" for room in rooms}
    users = {app.appbuilder.sm.find_user(username=name).id for name in ("doctor", "patient")}
    assert user_rooms == {f"user:{uid}" for uid in users}


def test_refused_requests_answer_json_naming_the_reason(app, db, live_visit, login_as, sent):
    doctor = login_as("doctor")
    base = f"/video-call/{live_visit}"
    recording_id = post_json(doctor, f"{base}/recordings").get_json()["recording_id"]
    refused(post_json(doctor, f"{base}/recordings"), 409, "already_open")
    body = refused(post_json(doctor, f"{base}/recordings/{recording_id}/consent", {"accept": "yes"}), 422, "invalid")
    assert body["field"] == "accept"
    refused(doctor.post(f"{base}/recordings/{recording_id}/consent", data="not json", headers=JSON), 422, "invalid")
    refused(post_json(doctor, f"{base}/recordings/999999/consent", {"accept": True}), 404, "not_found")
    post_json(doctor, f"{base}/recordings/{recording_id}/consent", {"accept": True})
    post_json(login_as("patient"), f"{base}/recordings/{recording_id}/consent", {"accept": True})
    assert refused(chunk(doctor, base, recording_id, "abc"), 422, "bad_seq")["field"] == "seq"
    refused(chunk(doctor, base, recording_id, 0, b""), 422, "empty_chunk")
    refused(post_json(login_as("receptionist"), f"{base}/recordings"), 403, "not_yours")
    refused(post_json(app.test_client(), f"{base}/recordings"), 401, "login")
    refused(app.test_client().get(f"/video-call/recordings/{recording_id}/play", headers=JSON), 401, "login")
    refused(post_json(doctor, f"/video-call/{live_visit + 100}/recordings"), 403, "not_yours")
    no_token = doctor.post(f"{base}/recordings/{recording_id}/stop", json={}, headers=JSON, csrf=False)
    assert no_token.status_code == 400 and no_token.is_json  # CSRF: the page's token is required
    refused(doctor.get("/video-call/recordings/999999/play", headers=JSON), 404, "not_found")


def test_playback_outside_the_care_team_is_refused_and_logged(app, db, live_visit, login_as, sent):
    from app.models import AuditEvent

    doctor, patient = login_as("doctor"), login_as("patient")
    base = f"/video-call/{live_visit}"
    recording_id = post_json(doctor, f"{base}/recordings").get_json()["recording_id"]
    for client in (doctor, patient):
        post_json(client, f"{base}/recordings/{recording_id}/consent", {"accept": True})
    chunk(doctor, base, recording_id, 0)
    post_json(doctor, f"{base}/recordings/{recording_id}/stop")
    admin = login_as("admin")
    body = refused(admin.get(f"/video-call/recordings/{recording_id}/play", headers=JSON), 403, "care_access")
    assert "WebM" not in str(body)
    admin_id = app.appbuilder.sm.find_user(username="admin").id
    db.session.rollback()
    assert db.session.execute(select(AuditEvent.id).where(
        AuditEvent.action == "denied", AuditEvent.entity == "VideoRecording", AuditEvent.user_id == admin_id)).first()


def test_a_wrong_key_answers_409_not_500(app, db, live_visit, login_as, sent, monkeypatch):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    doctor, patient = login_as("doctor"), login_as("patient")
    base = f"/video-call/{live_visit}"
    recording_id = post_json(doctor, f"{base}/recordings").get_json()["recording_id"]
    for client in (doctor, patient):
        post_json(client, f"{base}/recordings/{recording_id}/consent", {"accept": True})
    chunk(doctor, base, recording_id, 0)
    monkeypatch.setitem(app.config, "VIDEO_RECORDING_KEY", "a key put in by mistake")
    refused(doctor.get(f"/video-call/recordings/{recording_id}/play", headers=JSON), 409, "other_key")
    recording = db.session.get(VideoRecording, recording_id)
    recording.key_id = rec.key_fingerprint(rec.derive_key("a key put in by mistake"))
    db.session.commit()
    refused(doctor.get(f"/video-call/recordings/{recording_id}/play", headers=JSON), 409, "undecryptable")


def test_a_file_sent_in_the_call_lands_in_the_record(app, db, live_visit, login_as, sent):
    from app.models import Appointment, Attachment, VideoCallFile

    doctor, patient = login_as("doctor"), login_as("patient")
    base = f"/video-call/{live_visit}"
    from_doctor = doctor.post(f"{base}/files", data={"file": (io.BytesIO(png()), "phim-xquang.png")},
                              headers=JSON, content_type="multipart/form-data")
    assert from_doctor.status_code == 201, from_doctor.get_data(as_text=True)
    from_patient = patient.post(f"{base}/files", data={"file": (io.BytesIO(PDF), "kết quả xét nghiệm.pdf")},
                                headers=JSON, content_type="multipart/form-data")
    assert from_patient.status_code == 201, from_patient.get_data(as_text=True)
    patient_id = db.session.get(Appointment, live_visit).patient_id
    rows = {a.file_name: (a.patient_id, a.owner_type, a.content_type) for a in
            db.session.execute(select(Attachment)).scalars()}
    assert rows == {"phim-xquang.png": (patient_id, "patient", "image/png"),
                    "kết quả xét nghiệm.pdf": (patient_id, "patient", "application/pdf")}
    assert len(db.session.execute(select(VideoCallFile)).all()) == 2

    listed = patient.get(f"{base}/files", headers=JSON).get_json()["files"]
    assert [(f["name"], f["mine"]) for f in listed] == [("phim-xquang.png", False), ("kết quả xét nghiệm.pdf", True)]
    download = patient.get(listed[0]["url"])
    assert download.status_code == 200 and download.get_data() == png()
    # announced to the call's room: ids and the name only
    files = [payload for event, payload, _rooms in sent if event == "call:file"]
    assert [f["name"] for f in files] == ["phim-xquang.png", "kết quả xét nghiệm.pdf"]
    assert set(files[0]) == {"appointment_id", "attachment_id", "name"}
    # and in the chart afterwards
    chart = doctor.get(f"/chart/{patient_id}")
    assert chart.status_code == 200 and "phim-xquang.png" in chart.get_data(as_text=True)


def test_a_file_goes_to_the_visit_record_when_the_doctor_has_opened_it(app, db, live_visit, login_as, sent):
    from app.models import Appointment, Attachment, Encounter

    appointment = db.session.get(Appointment, live_visit)
    encounter = Encounter(appointment_id=live_visit, patient_id=appointment.patient_id,
                          doctor_id=appointment.doctor_id)
    db.session.add(encounter)
    db.session.commit()
    answer = login_as("patient").post(f"/video-call/{live_visit}/files",
                                      data={"file": (io.BytesIO(PDF), "don-thuoc-cu.pdf")}, headers=JSON,
                                      content_type="multipart/form-data")
    assert answer.status_code == 201
    attachment = db.session.get(Attachment, answer.get_json()["attachment_id"])
    assert (attachment.owner_type, attachment.owner_id) == ("encounter", encounter.id)


def test_wrong_files_are_refused_as_everywhere_else(app, db, live_visit, login_as, sent, monkeypatch):
    from app.models import Attachment, VideoCallFile

    patient = login_as("patient")
    base = f"/video-call/{live_visit}"

    def send(data, name):
        return patient.post(f"{base}/files", data={"file": (io.BytesIO(data), name)}, headers=JSON,
                            content_type="multipart/form-data")

    assert refused(send(b"MZ\x90\x00 not a pdf at all", "virus.pdf"), 422, "invalid")["field"] == "file"
    assert refused(send(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "broken.png"), 422, "invalid")["field"] == "file"
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1000)
    refused(send(PDF + b"0" * 2000, "big.pdf"), 413, "too_large")
    refused(patient.post(f"{base}/files", data={}, headers=JSON, content_type="multipart/form-data"), 422, "invalid")
    refused(login_as("receptionist").post(f"{base}/files", data={"file": (io.BytesIO(PDF), "x.pdf")}, headers=JSON,
                                          content_type="multipart/form-data"), 403, "not_yours")
    refused(patient.get(f"{base}/files/999999", headers=JSON), 404, "not_found")
    assert db.session.execute(select(Attachment)).all() == [] and db.session.execute(select(VideoCallFile)).all() == []
    assert not [event for event, _p, _r in sent if event == "call:file"]
