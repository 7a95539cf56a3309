"""Who may enter a video visit's call room and when (app.services.telemedicine.call_seat), the
room of the appointment, and the TURN credentials coturn checks (use-auth-secret)."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from tests.desk_helpers import login_doctor

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)  # 10:00 in Hà Nội


@pytest.fixture
def video_visit(app, db, clinic):
    """A video appointment of the login "patient" with the login "doctor", 10:00-10:20 UTC+7."""
    from app.models import Appointment, Patient

    doctor = login_doctor(app, db, full_name="Lê Minh Tâm", title="BS.")
    patient = db.session.get(Patient, clinic.patient)
    patient.user_id = app.appbuilder.sm.find_user(username="patient").id
    appointment = Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=clinic.service, mode="video",
                              start_at=NOW, end_at=NOW + timedelta(minutes=20), status="confirmed")
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


def _seat(app, db, username, appointment_id, now=NOW):
    from app.services.telemedicine import JoinWindow, call_seat

    user = app.appbuilder.sm.find_user(username=username)
    return call_seat(db.session, user, appointment_id, now, JoinWindow(15, 30))


def test_the_doctor_and_the_patient_share_one_private_room(app, db, video_visit):
    doctor = _seat(app, db, "doctor", video_visit)
    patient = _seat(app, db, "patient", video_visit)
    db.session.commit()
    assert (doctor.role, doctor.display_name, doctor.admitted) == ("doctor", "BS. Lê Minh Tâm", True)
    assert (patient.role, patient.admitted) == ("patient", False)  # waits until the doctor admits
    assert doctor.room == patient.room and doctor.room.startswith("call:") and len(doctor.room) > 40
    key = doctor.room.split(":", 1)[1]
    assert not key.isdigit() and key != str(video_visit)  # a random key, not the appointment id


@pytest.mark.parametrize("username", ["receptionist", "admin", "pharmacist"])
def test_anyone_else_is_refused(app, db, video_visit, username):
    from app.services.telemedicine import CallRefused

    with pytest.raises(CallRefused) as refused:
        _seat(app, db, username, video_visit)
    assert refused.value.reason == "not_yours"


@pytest.mark.parametrize("appointment_id", [None, "1", 0, -1, True, 2**40])
def test_ids_that_are_not_ids_are_refused(app, db, video_visit, appointment_id):
    from app.services.telemedicine import CallRefused

    with pytest.raises(CallRefused) as refused:
        _seat(app, db, "doctor", appointment_id)
    assert refused.value.reason == "not_found"


def test_an_unknown_appointment_reads_as_not_yours(app, db, video_visit):
    from app.services.telemedicine import CallRefused

    with pytest.raises(CallRefused) as refused:
        _seat(app, db, "patient", video_visit + 1000)
    assert refused.value.reason == "not_yours"


def test_the_room_opens_early_minutes_before_and_closes_late_minutes_after(app, db, video_visit):
    from app.services.telemedicine import CallRefused

    assert _seat(app, db, "patient", video_visit, NOW - timedelta(minutes=15)).role == "patient"
    assert _seat(app, db, "patient", video_visit, NOW + timedelta(minutes=50)).role == "patient"
    with pytest.raises(CallRefused) as early:
        _seat(app, db, "patient", video_visit, NOW - timedelta(minutes=16))
    assert early.value.reason == "too_early" and early.value.opens_at == NOW - timedelta(minutes=15)
    assert "15 minutes" in early.value.message
    with pytest.raises(CallRefused) as late:
        _seat(app, db, "doctor", video_visit, NOW + timedelta(minutes=51))
    assert late.value.reason == "too_late"


def test_in_person_and_cancelled_visits_have_no_call(app, db, video_visit):
    from app.models import Appointment
    from app.services.telemedicine import CallRefused

    appointment = db.session.get(Appointment, video_visit)
    appointment.status = "cancelled"
    db.session.commit()
    with pytest.raises(CallRefused) as cancelled:
        _seat(app, db, "patient", video_visit)
    assert cancelled.value.reason == "cancelled"
    appointment.status, appointment.mode = "confirmed", "in_person"
    db.session.commit()
    with pytest.raises(CallRefused) as in_person:
        _seat(app, db, "doctor", video_visit)
    assert in_person.value.reason == "not_video"


def test_the_database_keeps_one_room_per_appointment(app, db, video_visit):
    import sqlalchemy as sa

    from app.models import VideoCall

    _seat(app, db, "doctor", video_visit)
    db.session.commit()
    db.session.add(VideoCall(appointment_id=video_visit, room_key="x" * 43))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(VideoCall).count() == 1


def test_turn_credentials_are_the_ones_coturn_computes_from_the_shared_secret():
    from app.services.telemedicine import turn_credentials

    username, password = turn_credentials("s3cret", 42, NOW, 3600)
    assert username == f"{int(NOW.timestamp()) + 3600}:42"
    assert password == base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()


def test_ice_servers_come_from_the_settings():
    from app.services.telemedicine import ice_servers

    assert ice_servers({}, 7, NOW) == []
    servers = ice_servers({"VIDEO_STUN_URLS": "stun:stun.clinic.vn:3478", "VIDEO_TURN_URLS": "turn:turn.clinic.vn:3478,"
                           "turns:turn.clinic.vn:5349", "VIDEO_TURN_SECRET": "s3cret", "VIDEO_TURN_TTL_SECONDS": 600},
                          7, NOW)
    assert servers[0] == {"urls": ["stun:stun.clinic.vn:3478"]}
    assert servers[1]["urls"] == ["turn:turn.clinic.vn:3478", "turns:turn.clinic.vn:5349"]
    assert servers[1]["username"] == f"{int(NOW.timestamp()) + 600}:7"
    # A TURN address without the secret gives nothing a browser could use: left out.
    assert ice_servers({"VIDEO_TURN_URLS": "turn:turn.clinic.vn:3478"}, 7, NOW) == []


def _user(app, username):
    return app.appbuilder.sm.find_user(username=username)


def test_the_doctor_admits_once_and_nobody_else_can(app, db, video_visit):
    from app.services.telemedicine import CallRefused, admit

    for username, reason in (("patient", "not_doctor"), ("receptionist", "not_yours")):
        with pytest.raises(CallRefused) as refused:
            admit(db.session, video_visit, _user(app, username), NOW)
        assert refused.value.reason == reason
    call = admit(db.session, video_visit, _user(app, "doctor"), NOW)
    db.session.commit()
    assert (call.admitted_at, call.admitted_by_id) == (NOW, _user(app, "doctor").id)
    assert admit(db.session, video_visit, _user(app, "doctor"), NOW + timedelta(minutes=3)).admitted_at == NOW
    assert _seat(app, db, "patient", video_visit).admitted is True  # the seat now says so


def test_the_call_starts_once_and_the_doctor_ends_it(app, db, video_visit):
    from app.services.telemedicine import CallRefused, end_call, mark_started

    assert mark_started(db.session, video_visit, NOW) is False  # no call room yet
    _seat(app, db, "doctor", video_visit)
    assert mark_started(db.session, video_visit, NOW + timedelta(minutes=1)) is True
    assert mark_started(db.session, video_visit, NOW + timedelta(minutes=2)) is False
    with pytest.raises(CallRefused) as refused:
        end_call(db.session, video_visit, _user(app, "patient"), NOW + timedelta(minutes=9),
                 recording_retention_days=30)
    assert refused.value.reason == "not_doctor"
    call = end_call(db.session, video_visit, _user(app, "doctor"), NOW + timedelta(minutes=10),
                    recording_retention_days=30)
    db.session.commit()
    assert (call.started_at, call.ended_at) == (NOW + timedelta(minutes=1), NOW + timedelta(minutes=10))
    again = end_call(db.session, video_visit, _user(app, "doctor"), NOW + timedelta(minutes=20),
                     recording_retention_days=30)
    assert again.ended_at == NOW + timedelta(minutes=10)


def test_a_call_ended_before_both_came_is_not_started_afterwards(app, db, video_visit):
    from app.services.telemedicine import end_call, mark_started

    _seat(app, db, "doctor", video_visit)
    end_call(db.session, video_visit, _user(app, "doctor"), NOW, recording_retention_days=30)
    assert mark_started(db.session, video_visit, NOW + timedelta(minutes=5)) is False
    db.session.commit()  # the database's own rule (an end never before the start) holds
    call = end_call(db.session, video_visit, _user(app, "doctor"), NOW + timedelta(minutes=6),
                    recording_retention_days=30)
    assert (call.started_at, call.ended_at) == (None, NOW)


def test_a_refused_signal_is_in_the_audit_trail(app, db, video_visit):
    import json

    from app.models import AuditEvent
    from app.services.telemedicine import record_call_refusal

    record_call_refusal(db.session, _user(app, "receptionist").id, video_visit, "call:signal", "not_in_call",
                        to="abc", address="10.0.0.7")
    db.session.commit()
    row = db.session.query(AuditEvent).filter_by(action="call_denied").one()
    assert (row.user_id, row.entity, row.entity_id) == (_user(app, "receptionist").id, "Appointment", str(video_visit))
    assert json.loads(row.details) == {"event": "call:signal", "reason": "not_in_call", "to": "abc",
                                       "address": "10.0.0.7"}


def test_a_seat_holds_while_its_login_is_live_and_a_guests_invitation_stands(app, db, video_visit):
    """``seats_hold``, the signalling's periodic re-check of seats (one query): the login session
    live and its user active; for a guest, the invitation not withdrawn."""
    from app.services.accounts import sessions as login_sessions
    from app.services.telemedicine import (
        JoinWindow,
        SeatLogin,
        invite_guest,
        redeem_guest_link,
        revoke_guest,
        seats_hold,
    )

    policy = login_sessions.Policy(idle=timedelta(minutes=30), lifetime=timedelta(hours=8))
    patient = _user(app, "patient")
    _secret, session_id = login_sessions.start_session(db.session, user_id=patient.id, kind="web", now=NOW,
                                                       policy=policy)
    db.session.commit()

    def holds(user_id, login, role="patient", now=NOW + timedelta(seconds=30)):
        return seats_hold(db.session, [SeatLogin(user_id, login, video_visit, role)], now)[0]

    assert holds(patient.id, session_id) is None
    assert holds(_user(app, "doctor").id, session_id) == "login"  # someone else's session
    assert holds(patient.id, "no-such-session") == "login"
    assert holds(patient.id, session_id, now=NOW + timedelta(minutes=31)) == "login"  # idle too long
    touched = NOW + timedelta(minutes=2)  # a check marks the session used (at most once a minute)
    assert holds(patient.id, session_id, now=touched) is None
    db.session.commit()
    assert login_sessions.session_state(db.session, session_id).last_seen_at == touched
    patient.active = False
    db.session.commit()
    assert holds(patient.id, session_id) == "login"
    patient.active = True
    login_sessions.end_session(db.session, session_id, NOW)
    db.session.commit()
    assert holds(patient.id, session_id) == "login"

    doctor = _user(app, "doctor")
    invitation = invite_guest(db.session, video_visit, doctor, "Nguyễn Thị Mai", NOW, JoinWindow(15, 30))
    _link, guest = redeem_guest_link(db.session, invitation.token, NOW, JoinWindow(15, 30))
    _secret, guest_session = login_sessions.start_session(db.session, user_id=guest.id, kind="web", now=NOW,
                                                          policy=policy)
    db.session.commit()
    assert holds(guest.id, guest_session, role="guest") is None
    revoke_guest(db.session, video_visit, invitation.guest.id, doctor, NOW)
    db.session.commit()
    assert holds(guest.id, guest_session, role="guest") == "withdrawn"


@pytest.mark.parametrize("state", ["requested", "recording", "stopped", "refused", "deleted"])
def test_no_guest_is_invited_while_a_recording_is_open_whatever_its_state(app, db, video_visit, state):
    """The states in which a recording blocks a guest are the recordings' own open states
    (``app.models.video_recording.OPEN_STATES``, one list for both services)."""
    from app.models import Appointment, VideoRecording
    from app.models.video_recording import OPEN_STATES
    from app.services import video_recording
    from app.services.errors import Conflict
    from app.services.telemedicine import JoinWindow, ensure_call, invite_guest

    assert video_recording.OPEN_STATES is OPEN_STATES
    appointment = db.session.get(Appointment, video_visit)
    call = ensure_call(db.session, appointment)
    db.session.add(VideoRecording(video_call_id=call.id, patient_id=appointment.patient_id, state=state,
                                  key_id="0" * 16, started_at=NOW if state != "requested" else None))
    db.session.commit()
    doctor = _user(app, "doctor")
    if state in ("requested", "recording"):
        with pytest.raises(Conflict, match="Stop the recording before inviting a guest."):
            invite_guest(db.session, video_visit, doctor, "Nguyễn Thị Mai", NOW, JoinWindow(15, 30))
    else:
        assert invite_guest(db.session, video_visit, doctor, "Nguyễn Thị Mai", NOW, JoinWindow(15, 30)).token


def test_guest_logins_are_retired_when_the_invitation_is_withdrawn_or_the_window_closes(app, db, video_visit):
    """``retire_guest_logins``: a withdrawn guest's login at once, the other at the end of the
    call's join window (its end and the late minutes), not a second before; the rows stay."""
    from flask_appbuilder.security.sqla.models import User

    from app.services.telemedicine import JoinWindow, invite_guest, redeem_guest_link, retire_guest_logins, revoke_guest

    window = JoinWindow(15, 30)
    doctor = _user(app, "doctor")
    first = invite_guest(db.session, video_visit, doctor, "Nguyễn Thị Mai", NOW, window)
    _link, withdrawn = redeem_guest_link(db.session, first.token, NOW, window)
    db.session.commit()
    assert retire_guest_logins(db.session, NOW, window) == 0
    revoke_guest(db.session, video_visit, first.guest.id, doctor, NOW)
    second = invite_guest(db.session, video_visit, doctor, "Lê Văn Hùng", NOW, window)
    _link, kept = redeem_guest_link(db.session, second.token, NOW, window)
    db.session.commit()
    withdrawn_id, kept_id = withdrawn.id, kept.id

    def active(user_id):
        db.session.expire_all()
        return db.session.get(User, user_id).active

    assert retire_guest_logins(db.session, NOW + timedelta(minutes=1), window) == 1
    assert (active(withdrawn_id), active(kept_id)) == (False, True)
    closes = NOW + timedelta(minutes=20 + 30)
    assert retire_guest_logins(db.session, closes, window) == 0
    assert retire_guest_logins(db.session, closes + timedelta(seconds=1), window) == 1
    assert (active(withdrawn_id), active(kept_id)) == (False, False)
