"""Recording a video call only with both participants' consent (app.services.video_recording): the
consent flow (one side refusing, consent withdrawn mid-call), chunks refused unless recording and
only from the doctor's browser, encryption at rest, deletion after the retention period, and
playback as an audited read under the care-team rule."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.desk_helpers import login_doctor

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
WEBM = b"\x1a\x45\xdf\xa3" + "lời bác sĩ dặn: uống thuốc sau ăn".encode() * 40  # a WebM header and a plain marker


@pytest.fixture
def video_visit(app, db, clinic):
    from app.models import Appointment, Patient

    doctor = login_doctor(app, db, full_name="Lê Minh Tâm", title="BS.")
    patient = db.session.get(Patient, clinic.patient)
    patient.user_id = app.appbuilder.sm.find_user(username="patient").id
    appointment = Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=clinic.service, mode="video",
                              start_at=NOW, end_at=NOW + timedelta(minutes=20), status="confirmed")
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


@pytest.fixture
def setup(tmp_path):
    from app.services.storage import LocalFileStore
    from app.services.video_recording import RecordingSetup, derive_key

    return RecordingSetup(store=LocalFileStore(str(tmp_path / "files")), key=derive_key("test recording secret"),
                          retention_days=30, chunk_max_bytes=64 * 1024)


@pytest.fixture
def events(monkeypatch):
    sent: list[tuple[str, dict, list[str]]] = []
    monkeypatch.setattr("app.services.video_recording.send",
                        lambda event, payload, rooms: sent.append((event, payload, list(rooms))) or len(sent))
    return sent


def seat(app, db, username, appointment_id, now=NOW):
    from app.services.telemedicine import JoinWindow, call_seat

    return call_seat(db.session, app.appbuilder.sm.find_user(username=username), appointment_id, now,
                     JoinWindow(15, 30))


def refused(reason, call, *args, **kwargs):
    from app.services.video_recording import RecordingRefused

    with pytest.raises(RecordingRefused) as error:
        call(*args, **kwargs)
    assert error.value.reason == reason, error.value.message
    return error.value


def recording_with_both_consents(app, db, video_visit, setup):
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, doctor, recording.id, True, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, True, NOW + timedelta(seconds=5), setup=setup)
    return recording.id, doctor, patient


def test_recording_starts_only_when_both_have_accepted(app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    assert recording.state == "requested"
    refused("not_recording", rec.add_chunk, db.session, doctor, recording.id, 0, WEBM, NOW, setup=setup)
    rec.decide(db.session, doctor, recording.id, True, NOW, setup=setup)
    assert db.session.get(VideoRecording, recording.id).state == "requested"  # the patient has not answered
    refused("not_recording", rec.add_chunk, db.session, doctor, recording.id, 0, WEBM, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, True, NOW + timedelta(seconds=7), setup=setup)
    recording = db.session.get(VideoRecording, recording.id)
    assert recording.state == "recording" and recording.started_at == NOW + timedelta(seconds=7)
    consents = {c.role: (c.user_id, c.decision, c.decided_at) for c in recording.consents}
    assert consents == {"doctor": (doctor.user_id, "accepted", NOW),
                        "patient": (patient.user_id, "accepted", NOW + timedelta(seconds=7))}
    assert rec.add_chunk(db.session, doctor, recording.id, 0, WEBM, NOW, setup=setup).size_bytes == len(WEBM)
    # each participant's own room hears of every step, with ids and states only
    rooms = {room for _event, _payload, sent_to in events for room in sent_to}
    assert rooms == {f"user:{doctor.user_id}", f"user:{patient.user_id}"}
    assert [payload["state"] for _e, payload, _r in events] == ["requested", "requested", "recording"]
    assert all(set(payload) <= {"recording_id", "appointment_id", "state", "consents", "requested_at", "started_at",
                                "stopped_at", "stop_reason", "chunks", "retain_until"} for _e, payload, _r in events)


def test_one_side_refusing_refuses_the_recording_for_good(app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, doctor, recording.id, True, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, False, NOW, setup=setup)
    assert db.session.get(VideoRecording, recording.id).state == "refused"
    refused("not_requested", rec.decide, db.session, patient, recording.id, True, NOW, setup=setup)
    refused("not_recording", rec.add_chunk, db.session, doctor, recording.id, 0, WEBM, NOW, setup=setup)
    assert events[-1][1]["consents"] == {"doctor": "accepted", "patient": "refused"}
    # the doctor may ask again: a new request, again waiting for both
    again = rec.request_recording(db.session, doctor, NOW + timedelta(minutes=1), setup=setup)
    assert again.id != recording.id and again.state == "requested"


def test_the_doctor_refusing_too(app, db, video_visit, setup, events):
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, True, NOW, setup=setup)
    assert rec.decide(db.session, doctor, recording.id, False, NOW, setup=setup).state == "refused"


def test_consent_withdrawn_mid_call_stops_the_recording(app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    later = NOW + timedelta(minutes=3)
    rec.decide(db.session, patient, recording_id, False, later, setup=setup)
    recording = db.session.get(VideoRecording, recording_id)
    assert (recording.state, recording.stop_reason, recording.stopped_by_id) == \
        ("stopped", "consent_withdrawn", patient.user_id)
    withdrawn = next(c for c in recording.consents if c.role == "patient")
    assert withdrawn.decision == "accepted" and withdrawn.withdrawn_at == later  # given, then taken back
    assert events[-1][1]["consents"]["patient"] == "withdrawn"
    refused("not_recording", rec.add_chunk, db.session, doctor, recording_id, 1, WEBM, later, setup=setup)


@pytest.mark.parametrize("who", ["doctor", "patient"])
def test_either_participant_stops_it_and_a_chunk_after_stop_is_refused(app, db, video_visit, setup, events, who):
    """The doctor's stop is a stop; the patient's stop withdraws their consent (who, when)."""
    from app.models import RecordingChunk
    from app.services import video_recording as rec

    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    by = doctor if who == "doctor" else patient
    stopped = rec.stop(db.session, by, recording_id, NOW + timedelta(minutes=2), setup=setup)
    assert stopped.state == "stopped" and stopped.retain_until == NOW + timedelta(minutes=2, days=30)
    assert stopped.stopped_by_id == by.user_id and stopped.stopped_at == NOW + timedelta(minutes=2)
    consents = {c.role: c for c in stopped.consents}
    if who == "doctor":
        assert stopped.stop_reason == "stopped"
        assert all(c.withdrawn_at is None for c in consents.values())
        assert events[-1][1]["consents"] == {"doctor": "accepted", "patient": "accepted"}
    else:
        assert stopped.stop_reason == "consent_withdrawn"
        assert (consents["patient"].decision, consents["patient"].withdrawn_at) == \
            ("accepted", NOW + timedelta(minutes=2))  # given, then taken back
        assert consents["doctor"].withdrawn_at is None
        assert events[-1][1]["consents"] == {"doctor": "accepted", "patient": "withdrawn"}
        assert events[-1][1]["stop_reason"] == "consent_withdrawn"
    refused("not_recording", rec.add_chunk, db.session, doctor, recording_id, 1, WEBM, NOW, setup=setup)
    again = rec.stop(db.session, patient, recording_id, NOW + timedelta(minutes=5), setup=setup)  # twice: no change
    assert (again.state, again.stopped_at, again.stopped_by_id) == ("stopped", NOW + timedelta(minutes=2), by.user_id)
    assert len(db.session.execute(select(RecordingChunk)).all()) == 1


def test_the_patient_cancelling_a_request_is_a_plain_stop(app, db, video_visit, setup, events):
    """Nothing records yet: the request is withdrawn, no consent is marked taken back."""
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, True, NOW, setup=setup)
    stopped = rec.stop(db.session, patient, recording.id, NOW + timedelta(seconds=9), setup=setup)
    assert (stopped.state, stopped.stop_reason, stopped.started_at) == ("stopped", "stopped", None)
    assert [c.withdrawn_at for c in stopped.consents] == [None]


def end_the_call(app, db, video_visit, at):
    from app.services import telemedicine

    call = telemedicine.end_call(db.session, video_visit, app.appbuilder.sm.find_user(username="doctor"), at,
                                 recording_retention_days=30)
    db.session.commit()
    return call


def test_ending_the_call_stops_its_recording_in_the_same_transaction(app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    ended = NOW + timedelta(minutes=12)
    before = len(events)

    # ended and rolled back: nothing stopped, nobody told
    from app.services import telemedicine

    telemedicine.end_call(db.session, video_visit, app.appbuilder.sm.find_user(username="doctor"), ended,
                          recording_retention_days=30)
    db.session.rollback()
    assert db.session.get(VideoRecording, recording_id).state == "recording" and len(events) == before

    end_the_call(app, db, video_visit, ended)
    db.session.expire_all()
    recording = db.session.get(VideoRecording, recording_id)
    assert (recording.state, recording.stop_reason, recording.stopped_at, recording.stopped_by_id) == \
        ("stopped", "call_ended", ended, doctor.user_id)
    assert recording.retain_until == ended + timedelta(days=30)
    assert all(c.withdrawn_at is None for c in recording.consents)  # nobody took their consent back
    # both pages hear it once the end is committed
    assert [(p["state"], p["stop_reason"]) for _e, p, _r in events[before:]] == [("stopped", "call_ended")]
    assert set(events[-1][2]) == {f"user:{doctor.user_id}", f"user:{patient.user_id}"}
    # the doctor's browser's late piece is refused as after any stop; the recording keeps what it had
    refused("not_recording", rec.add_chunk, db.session, doctor, recording_id, 1, WEBM, ended, setup=setup)
    assert rec.read_all(db.session, recording, setup=setup) == WEBM


def test_ending_the_call_withdraws_an_open_request_and_a_second_end_stops_a_later_recording(
        app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec

    doctor = seat(app, db, "doctor", video_visit)
    request = rec.request_recording(db.session, doctor, NOW, setup=setup)
    end_the_call(app, db, video_visit, NOW + timedelta(minutes=1))
    assert (db.session.get(VideoRecording, request.id).state,
            db.session.get(VideoRecording, request.id).stop_reason) == ("stopped", "call_ended")
    # the doctor joins the ended call again and records: ending it again stops that one too
    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    end_the_call(app, db, video_visit, NOW + timedelta(minutes=8))
    db.session.expire_all()
    again = db.session.get(VideoRecording, recording_id)
    assert (again.state, again.stop_reason, again.stopped_at) == ("stopped", "call_ended", NOW + timedelta(minutes=8))


def test_the_sweep_stops_recordings_of_calls_over_and_without_a_recorder(app, db, video_visit, setup, events):
    """Nothing else stops them: the doctor closed his tab without ending (no piece for two
    minutes), or the visit was finished or its join window closed while one was open."""
    from app.models import Appointment, VideoRecording
    from app.services import video_recording as rec
    from app.services.telemedicine import JoinWindow

    window = JoinWindow(15, 30)
    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW + timedelta(minutes=1), setup=setup)

    def sweep(at):
        count = rec.stop_abandoned(db.session, at, window=window, retention_days=30)
        db.session.expire_all()
        return count, db.session.get(VideoRecording, recording_id)

    # pieces arriving: left alone
    assert sweep(NOW + timedelta(minutes=2))[0] == 0
    assert sweep(NOW + timedelta(minutes=3))[1].state == "recording"
    # no piece for two minutes: the doctor's browser is gone
    count, recording = sweep(NOW + timedelta(minutes=3, seconds=1))
    assert count == 1
    assert (recording.state, recording.stop_reason, recording.stopped_by_id, recording.stopped_at) == \
        ("stopped", "recorder_gone", None, NOW + timedelta(minutes=3, seconds=1))
    assert events[-1][1]["stop_reason"] == "recorder_gone"
    refused("not_recording", rec.add_chunk, db.session, doctor, recording_id, 1, WEBM, NOW, setup=setup)
    assert sweep(NOW + timedelta(minutes=9))[0] == 0  # once

    # a request left open when the visit is finished: stopped as the call's end
    request = rec.request_recording(db.session, doctor, NOW + timedelta(minutes=10), setup=setup)
    assert rec.stop_abandoned(db.session, NOW + timedelta(minutes=11), window=window, retention_days=30) == 0
    db.session.get(Appointment, video_visit).status = "completed"
    db.session.commit()
    assert rec.stop_abandoned(db.session, NOW + timedelta(minutes=12), window=window, retention_days=30) == 1
    db.session.expire_all()
    assert db.session.get(VideoRecording, request.id).stop_reason == "call_ended"


def test_the_sweep_stops_a_recording_when_the_join_window_closes(app, db, video_visit, setup, events):
    from app.models import VideoRecording
    from app.services import video_recording as rec
    from app.services.telemedicine import JoinWindow

    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    closes = NOW + timedelta(minutes=20 + 30)  # the visit's end and the late minutes
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, closes - timedelta(seconds=30), setup=setup)
    window = JoinWindow(15, 30)
    assert rec.stop_abandoned(db.session, closes, window=window, retention_days=30) == 0
    assert rec.stop_abandoned(db.session, closes + timedelta(seconds=1), window=window, retention_days=30) == 1
    db.session.expire_all()
    recording = db.session.get(VideoRecording, recording_id)
    assert (recording.state, recording.stop_reason) == ("stopped", "call_ended")


def test_the_sweep_is_a_periodic_job(app, db, video_visit, setup, events, monkeypatch):
    from app.jobs.maintenance import stop_abandoned_recordings
    from app.jobs.periodic import PERIODIC_JOBS
    from app.models import VideoRecording

    job = next(p for p in PERIODIC_JOBS if p.func == "app.jobs.maintenance.stop_abandoned_recordings")
    assert job.every_seconds <= 60
    recording_id, _doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    monkeypatch.setattr("app.models.types.utcnow", lambda: NOW + timedelta(minutes=5))
    assert stop_abandoned_recordings() == 1
    db.session.expire_all()
    assert db.session.get(VideoRecording, recording_id).stop_reason == "recorder_gone"


def test_only_the_doctor_asks_and_only_the_doctors_browser_uploads(app, db, video_visit, setup, events):
    from app.services import video_recording as rec

    patient = seat(app, db, "patient", video_visit)
    assert refused("not_doctor", rec.request_recording, db.session, patient, NOW, setup=setup).status == 403
    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    assert refused("not_doctor", rec.add_chunk, db.session, patient, recording_id, 0, WEBM, NOW,
                   setup=setup).status == 403
    refused("already_open", rec.request_recording, db.session, doctor, NOW, setup=setup)


def test_no_path_records_without_both_consents(app, db, video_visit, setup, events):
    """Even a recording row forced into ``recording`` (a bug, a hand edit) takes no chunk while a
    consent is missing or withdrawn."""
    from app.models import VideoRecording
    from app.services import video_recording as rec

    doctor = seat(app, db, "doctor", video_visit)
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, doctor, recording.id, True, NOW, setup=setup)
    forced = db.session.get(VideoRecording, recording.id)
    forced.state, forced.started_at = "recording", NOW
    db.session.commit()
    error = refused("no_consent", rec.add_chunk, db.session, doctor, recording.id, 0, WEBM, NOW, setup=setup)
    assert error.status == 409


def test_chunks_of_another_call_and_bad_chunks_are_refused(app, db, video_visit, setup, events, clinic):
    from app.models import Appointment
    from app.services import video_recording as rec

    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    other = db.session.get(Appointment, video_visit)
    second = Appointment(patient_id=other.patient_id, doctor_id=other.doctor_id, service_id=clinic.service,
                         mode="video", start_at=NOW + timedelta(minutes=20), end_at=NOW + timedelta(minutes=40),
                         status="confirmed")
    db.session.add(second)
    db.session.commit()
    other_seat = seat(app, db, "doctor", second.id, NOW + timedelta(minutes=10))
    assert refused("not_found", rec.add_chunk, db.session, other_seat, recording_id, 0, WEBM, NOW,
                   setup=setup).status == 404
    assert refused("bad_seq", rec.add_chunk, db.session, doctor, recording_id, -1, WEBM, NOW, setup=setup).status == 422
    assert refused("empty_chunk", rec.add_chunk, db.session, doctor, recording_id, 0, b"", NOW,
                   setup=setup).status == 422
    assert refused("chunk_too_large", rec.add_chunk, db.session, doctor, recording_id, 0, b"x" * (64 * 1024 + 1), NOW,
                   setup=setup).status == 413
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    refused("duplicate_chunk", rec.add_chunk, db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)


def test_chunks_are_encrypted_at_rest_and_a_wrong_key_fails(app, db, video_visit, setup, events, tmp_path):
    from cryptography.exceptions import InvalidTag

    from app.models import RecordingChunk, VideoRecording
    from app.services import video_recording as rec

    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM[:500], NOW, setup=setup)
    rec.add_chunk(db.session, doctor, recording_id, 1, WEBM[500:], NOW, setup=setup)
    stored = [setup.store.get(c.storage_key) for c in db.session.execute(
        select(RecordingChunk).order_by(RecordingChunk.seq)).scalars()]
    assert all(b"\x1a\x45\xdf\xa3" not in blob and "bác sĩ".encode() not in blob for blob in stored)
    assert not any(blob in WEBM for blob in stored)
    recording = db.session.get(VideoRecording, recording_id)
    assert rec.read_all(db.session, recording, setup=setup) == WEBM  # in order, whole

    from dataclasses import replace

    other_key = replace(setup, key=rec.derive_key("another secret"))
    refused("other_key", rec.play, db.session, recording, setup=other_key)
    recording.key_id = rec.key_fingerprint(other_key.key)  # even past the fingerprint, the seal holds
    with pytest.raises(InvalidTag):
        rec.read_all(db.session, recording, setup=other_key)
    recording.key_id = rec.key_fingerprint(setup.key)
    # a chunk moved to another place (another number) no longer opens
    with pytest.raises(InvalidTag):
        rec.unseal(setup.key, recording_id, 1, stored[0])
    db.session.rollback()


def test_retention_deletes_the_chunks_and_marks_the_recording_deleted(app, db, video_visit, setup, events):
    from app.models import RecordingChunk, VideoRecording
    from app.services import video_recording as rec

    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    key = db.session.execute(select(RecordingChunk.storage_key)).scalar_one()
    rec.stop(db.session, patient, recording_id, NOW + timedelta(minutes=10), setup=setup)
    deadline = NOW + timedelta(days=30, minutes=10)
    assert rec.delete_expired(db.session, deadline - timedelta(seconds=1), store=setup.store) == 0
    assert setup.store.get(key)
    assert rec.delete_expired(db.session, deadline, store=setup.store) == 1
    recording = db.session.get(VideoRecording, recording_id)
    assert (recording.state, recording.deleted_at) == ("deleted", deadline)
    assert db.session.execute(select(RecordingChunk)).all() == []
    with pytest.raises(FileNotFoundError):
        setup.store.get(key)
    assert rec.delete_expired(db.session, deadline + timedelta(days=1), store=setup.store) == 0


def test_the_retention_job_is_periodic_and_uses_the_setting(app, db, video_visit, events, monkeypatch):
    from app.jobs.maintenance import delete_expired_recordings
    from app.jobs.periodic import PERIODIC_JOBS
    from app.models import VideoRecording
    from app.services import video_recording as rec
    from app.services.storage import file_store

    assert any(p.func == "app.jobs.maintenance.delete_expired_recordings" for p in PERIODIC_JOBS)
    setup = rec.RecordingSetup.from_config(app.config, file_store(app.config))
    assert setup.retention_days == app.config["VIDEO_RECORDING_RETENTION_DAYS"] == 30
    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.stop(db.session, doctor, recording_id, NOW, setup=setup)
    monkeypatch.setattr("app.models.types.utcnow", lambda: NOW + timedelta(days=31))
    assert delete_expired_recordings() == 1
    db.session.expire_all()
    assert db.session.get(VideoRecording, recording_id).state == "deleted"


def test_playback_is_an_audited_read_under_the_care_team_rule(app, db, video_visit, setup, events):
    from app.models import AuditEvent, VideoRecording
    from app.services import video_recording as rec
    from app.services.access import CareAccessDenied

    recording_id, doctor, _patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.add_chunk(db.session, doctor, recording_id, 0, WEBM, NOW, setup=setup)
    rec.stop(db.session, doctor, recording_id, NOW, setup=setup)
    sm = app.appbuilder.sm
    opened = rec.open_recording(db.session, sm.find_user(username="doctor"), recording_id, NOW)
    assert rec.read_all(db.session, opened, setup=setup) == WEBM
    for outsider in ("admin", "receptionist"):
        with pytest.raises(CareAccessDenied):
            rec.open_recording(db.session, sm.find_user(username=outsider), recording_id, NOW)
    rows = {(row.action, row.user_id) for row in db.session.execute(
        select(AuditEvent).where(AuditEvent.entity == "VideoRecording", AuditEvent.action.in_(("read", "denied"))))
        .scalars()}
    assert rows == {("read", sm.find_user(username="doctor").id), ("denied", sm.find_user(username="admin").id),
                    ("denied", sm.find_user(username="receptionist").id)}
    details = db.session.execute(select(AuditEvent.details).where(AuditEvent.entity == "VideoRecording",
                                                                  AuditEvent.action == "read")).scalar_one()
    assert json.loads(details)["patient_id"] == db.session.get(VideoRecording, recording_id).patient_id


def test_a_refused_or_deleted_recording_does_not_play(app, db, video_visit, setup, events):
    from app.services import video_recording as rec

    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    user = app.appbuilder.sm.find_user(username="doctor")
    recording = rec.request_recording(db.session, doctor, NOW, setup=setup)
    rec.decide(db.session, patient, recording.id, False, NOW, setup=setup)
    assert refused("not_recorded", rec.open_recording, db.session, user, recording.id, NOW).status == 409
    recording_id, doctor, patient = recording_with_both_consents(app, db, video_visit, setup)
    rec.stop(db.session, doctor, recording_id, NOW, setup=setup)
    rec.delete_expired(db.session, NOW + timedelta(days=31), store=setup.store)
    assert refused("deleted", rec.open_recording, db.session, user, recording_id, NOW).status == 410
    assert refused("not_found", rec.open_recording, db.session, user, 10**6, NOW).status == 404
