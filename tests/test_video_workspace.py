"""A video visit's call in the visit workspace (issue 15): when it started and ended and how long
it lasted, and the recordings kept of it with their (audited) play links; refused or requested
recordings are not listed."""
from __future__ import annotations

from datetime import timedelta

from tests.test_video_call_pages import page, started_visit
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture


def test_the_workspace_shows_the_call_and_its_recordings(app, db, login_as, live_visit):  # noqa: F811
    from app.models import RecordingConsent, VideoRecording
    from app.models.types import utcnow
    from app.services import telemedicine

    encounter = started_visit(app, db, live_visit)
    doctor = app.appbuilder.sm.find_user(username="doctor")
    _status, html = page(login_as("doctor"), f"/visit/{encounter.id}")
    assert "The video call has not started." in html

    started = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=20)
    from app.models import Appointment

    telemedicine.ensure_call(db.session, db.session.get(Appointment, live_visit))
    assert telemedicine.mark_started(db.session, live_visit, started)
    db.session.commit()
    _status, html = page(login_as("doctor"), f"/visit/{encounter.id}")
    assert "Video call since" in html
    call = telemedicine._call_of(db.session, live_visit)
    call.ended_at = started + timedelta(minutes=18)
    kept = VideoRecording(video_call_id=call.id, patient_id=encounter.patient_id, state="stopped",
                          requested_by_id=doctor.id, requested_at=started, started_at=started + timedelta(minutes=2),
                          stopped_at=started + timedelta(minutes=9), key_id="k1",
                          retain_until=utcnow() + timedelta(days=30))
    refused = VideoRecording(video_call_id=call.id, patient_id=encounter.patient_id, state="refused",
                             requested_by_id=doctor.id, requested_at=started, stopped_at=started, key_id="k1")
    db.session.add_all([kept, refused])
    db.session.flush()
    db.session.add(RecordingConsent(recording_id=kept.id, user_id=doctor.id, role="doctor", decision="accepted",
                                    decided_at=started))
    db.session.commit()
    _status, html = page(login_as("doctor"), f"/visit/{encounter.id}")
    assert "(18 min)" in html
    assert f'href="/video-call/recordings/{kept.id}/play"' in html
    assert f"/video-call/recordings/{refused.id}/play" not in html
