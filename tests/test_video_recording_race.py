"""Consent answers and chunks racing each other on PostgreSQL with real threads: two acceptances at
the same moment start the recording (neither misses the other's), two "Record" clicks at once make
one request, and chunks racing a stop are either stored before it or refused after it."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.test_video_recording import NOW, WEBM, seat, setup, video_visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.needs_postgres


def run_together(app, *calls):
    from app.extensions import db as database

    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call):
        with app.app_context(), Session(database.engine) as session:
            barrier.wait()
            try:
                call(session)
                outcomes.append("done")
            except Exception as exc:  # noqa: BLE001 - reported in the outcomes
                outcomes.append(getattr(exc, "reason", repr(exc)))

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_acceptances_at_once_start_the_recording(app, db, video_visit, setup, monkeypatch):  # noqa: F811
    from app.models import VideoRecording
    from app.services import video_recording as rec

    monkeypatch.setattr("app.services.video_recording.send", lambda *args: 0)
    for _round in range(5):
        doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
        recording_id = rec.request_recording(db.session, doctor, NOW, setup=setup).id
        outcomes = run_together(app, *(lambda session, who=who, rid=recording_id: rec.decide(
            session, who, rid, True, NOW, setup=setup) for who in (doctor, patient)))
        assert outcomes == ["done", "done"]
        db.session.expire_all()
        assert db.session.get(VideoRecording, recording_id).state == "recording"
        rec.stop(db.session, doctor, recording_id, NOW, setup=setup)


def test_two_record_clicks_at_once_make_one_request(app, db, video_visit, setup, monkeypatch):  # noqa: F811
    from app.models import VideoRecording
    from app.services import video_recording as rec

    monkeypatch.setattr("app.services.video_recording.send", lambda *args: 0)
    doctor = seat(app, db, "doctor", video_visit)
    db.session.commit()
    outcomes = run_together(app, *(lambda session: rec.request_recording(session, doctor, NOW, setup=setup)
                                   for _ in range(4)))
    assert outcomes == ["already_open"] * 3 + ["done"]
    assert len(db.session.execute(select(VideoRecording)).all()) == 1


def test_chunks_racing_a_stop(app, db, video_visit, setup, monkeypatch):  # noqa: F811
    from app.models import RecordingChunk, VideoRecording
    from app.services import video_recording as rec

    monkeypatch.setattr("app.services.video_recording.send", lambda *args: 0)
    doctor, patient = seat(app, db, "doctor", video_visit), seat(app, db, "patient", video_visit)
    recording_id = rec.request_recording(db.session, doctor, NOW, setup=setup).id
    rec.decide(db.session, doctor, recording_id, True, NOW, setup=setup)
    rec.decide(db.session, patient, recording_id, True, NOW, setup=setup)
    later = NOW + timedelta(minutes=1)
    calls = [lambda session, n=n: rec.add_chunk(session, doctor, recording_id, n, WEBM, later, setup=setup)
             for n in range(8)]
    calls.append(lambda session: rec.stop(session, patient, recording_id, later, setup=setup))
    outcomes = run_together(app, *calls)
    assert set(outcomes) <= {"done", "not_recording"}
    db.session.expire_all()
    stored = db.session.execute(select(RecordingChunk)).scalars().all()
    assert outcomes.count("done") == len(stored) + 1  # the stop, and every chunk that got in before it
    assert all(chunk.created_at == later for chunk in stored)
    assert db.session.get(VideoRecording, recording_id).state == "stopped"
