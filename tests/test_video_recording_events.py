"""The recording's news reaches each participant on their own screen: real python-socketio clients
of the doctor and the patient (their web sessions) hear ``call:recording`` when the doctor asks and
when each answers; someone else's connection hears nothing."""
from __future__ import annotations

from tests.test_realtime import connected, session_cookie
from tests.test_video_call_tools import JSON, live_visit  # noqa: F401 - the fixture


def test_each_participant_hears_the_request_and_the_answers(app, live_server, live_visit, login_as):  # noqa: F811
    base = f"/video-call/{live_visit}"
    doctor, patient = login_as("doctor"), login_as("patient")
    with connected(live_server, cookie=session_cookie(app, "doctor")) as doctor_screen, \
            connected(live_server, cookie=session_cookie(app, "patient")) as patient_screen, \
            connected(live_server, cookie=session_cookie(app, "receptionist")) as outsider:
        recording_id = doctor.post(f"{base}/recordings", json={}, headers=JSON).get_json()["recording_id"]
        for screen in (doctor_screen, patient_screen):
            news = screen.wait_for("call:recording")
            assert (news["recording_id"], news["appointment_id"], news["state"]) == \
                (recording_id, live_visit, "requested")
        patient.post(f"{base}/recordings/{recording_id}/consent", json={"accept": False}, headers=JSON)
        for screen in (doctor_screen, patient_screen):
            news = screen.wait_for("call:recording")
            assert news["state"] == "refused" and news["consents"]["patient"] == "refused"
        outsider.nothing("call:recording")
