"""A video visit's signalling (app/realtime/calls.py) with real python-socketio clients against the
live test server: who may join the call and when, the waiting room and the doctor's admit, the
offer/answer/ICE relay between the two sides only, malformed messages, leaving, dropping and
rejoining, and the call's start and end in the database. Each refusal the user could not have
caused by a typo is in the audit trail (``call_denied``)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import socketio

from tests.test_realtime import WAIT, connected, session_cookie, user_id
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture


def call_denials(app) -> list[dict]:
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "call_denied")
                                  .order_by(AuditEvent.id)).scalars().all()
        return [{"user_id": r.user_id, "appointment": r.entity_id, **json.loads(r.details or "{}")} for r in rows]


def the_call(app, appointment_id: int):
    from app.extensions import db
    from app.services.telemedicine import _call_of

    with app.app_context():
        call = _call_of(db.session, appointment_id)
        db.session.expunge_all()
        return call


def move(app, appointment_id: int, **fields) -> None:
    from app.extensions import db
    from app.models import Appointment

    with app.app_context():
        appointment = db.session.get(Appointment, appointment_id)
        for name, value in fields.items():
            setattr(appointment, name, value)
        db.session.commit()


@pytest.fixture
def cookies(app):
    made: dict[str, str] = {}

    def cookie(username: str) -> str:
        if username not in made:
            made[username] = session_cookie(app, username)
        return made[username]

    return cookie


def test_nobody_connects_to_signal_without_a_login(live_server, live_visit):  # noqa: F811
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server, transports=["websocket"], wait_timeout=WAIT)


def test_someone_else_is_refused_and_the_refusal_is_audited(app, live_server, live_visit, cookies,  # noqa: F811
                                                            clinic):
    from app.extensions import db
    from app.models import Appointment, Patient

    # the login "receptionist" is also the patient of another video visit at that time
    other = clinic.save(Patient(full_name="Trần Văn Khác", user_id=user_id(app, "receptionist")))
    with app.app_context():
        theirs = db.session.get(Appointment, live_visit)
        assert clinic.doctor != theirs.doctor_id  # another doctor: one doctor's visits never overlap
        mine = Appointment(patient_id=other, doctor_id=clinic.doctor, service_id=theirs.service_id, mode="video",
                           start_at=theirs.start_at, end_at=theirs.end_at, status="confirmed")
        db.session.add(mine)
        db.session.commit()
        mine_id = mine.id
    with connected(live_server, cookie=cookies("receptionist")) as outsider:
        assert outsider.call("call:join", {"appointment_id": mine_id})["state"] == "waiting"  # their own
        answer = outsider.call("call:join", {"appointment_id": live_visit})
    assert answer["ok"] is False and answer["reason"] == "not_yours"
    assert answer["message"] == "This video visit is not yours."
    assert "peers" not in answer and "ice_servers" not in answer
    assert [(d["user_id"], d["appointment"], d["event"], d["reason"]) for d in call_denials(app)] == [
        (user_id(app, "receptionist"), str(live_visit), "call:join", "not_yours")]


def test_too_early_says_when_it_opens_and_an_in_person_visit_has_no_call(app, live_server, live_visit,  # noqa: F811
                                                                         cookies):
    from app.models.types import utcnow

    start = utcnow().replace(microsecond=0) + timedelta(hours=2)
    move(app, live_visit, start_at=start, end_at=start + timedelta(minutes=20))
    with connected(live_server, cookie=cookies("patient")) as patient:
        early = patient.call("call:join", {"appointment_id": live_visit})
        assert early["ok"] is False and early["reason"] == "too_early"
        assert early["opens_at"] == (start - timedelta(minutes=15)).isoformat()
        assert "15 minutes" in early["message"]
        move(app, live_visit, mode="in_person")
        in_person = patient.call("call:join", {"appointment_id": live_visit})
        assert in_person["ok"] is False and in_person["reason"] == "not_video"
    assert [d["reason"] for d in call_denials(app)] == ["too_early", "not_video"]


def test_the_patient_waits_until_the_doctor_admits_then_both_signal(app, live_server, live_visit,  # noqa: F811
                                                                     cookies):
    app.config.update(VIDEO_STUN_URLS="stun:stun.clinic.vn:3478")
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=cookies("patient")) as patient:
        seated = doctor.call("call:join", {"appointment_id": live_visit})
        assert (seated["ok"], seated["role"], seated["state"], seated["peers"]) == (True, "doctor", "admitted", [])
        assert seated["ice_servers"] == [{"urls": ["stun:stun.clinic.vn:3478"]}]
        waiting = patient.call("call:join", {"appointment_id": live_visit})
        assert (waiting["role"], waiting["state"], waiting["peers"]) == ("patient", "waiting", [])
        knock = doctor.wait_for("call:waiting")
        assert knock == {"appointment_id": live_visit, "sid": waiting["sid"], "name": "Nguyễn Văn An"}
        # a waiting patient cannot signal to the doctor yet
        early = patient.call("call:signal", {"appointment_id": live_visit, "to": seated["sid"], "kind": "offer",
                                             "data": {"sdp": "v=0"}})
        assert early == {"ok": False, "reason": "not_in_call", "message": "Join the video visit first."}
        doctor.nothing("call:signal")
        # the patient cannot admit themselves
        assert patient.call("call:admit", {"appointment_id": live_visit})["reason"] == "not_in_call"
        assert the_call(app, live_visit).admitted_at is None

        admitted = doctor.call("call:admit", {"appointment_id": live_visit})
        assert admitted == {"ok": True, "appointment_id": live_visit, "admitted": [waiting["sid"]]}
        news = patient.wait_for("call:admitted")
        assert news == {"appointment_id": live_visit, "peers": [seated["sid"]],
                        "names": {seated["sid"]: "BS. Lê Minh Tâm"}}  # the tiles' captions
        assert doctor.wait_for("call:peer-joined") == {"sid": waiting["sid"], "role": "patient",
                                                       "name": "Nguyễn Văn An"}
        call = the_call(app, live_visit)
        assert call.admitted_at is not None and call.admitted_by_id == user_id(app, "doctor")
        assert call.started_at is not None and call.ended_at is None  # both are in the call room

        # the newcomer (the patient) offers, the doctor answers, both trade ICE candidates
        offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
        assert patient.call("call:signal", {"appointment_id": live_visit, "to": seated["sid"], "kind": "offer",
                                            "data": offer}) == {"ok": True}
        assert doctor.wait_for("call:signal") == {"from": waiting["sid"], "kind": "offer", "data": offer}
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        assert doctor.call("call:signal", {"appointment_id": live_visit, "to": waiting["sid"], "kind": "answer",
                                           "data": answer}) == {"ok": True}
        assert patient.wait_for("call:signal") == {"from": seated["sid"], "kind": "answer", "data": answer}
        candidate = {"candidate": "candidate:1 1 udp 2122260223 192.168.1.5 54321 typ host", "sdpMid": "0"}
        for sender, receiver, to, sid in ((patient, doctor, seated["sid"], waiting["sid"]),
                                          (doctor, patient, waiting["sid"], seated["sid"])):
            assert sender.call("call:signal", {"appointment_id": live_visit, "to": to, "kind": "ice",
                                               "data": candidate})["ok"] is True
            assert receiver.wait_for("call:signal") == {"from": sid, "kind": "ice", "data": candidate}
        # a second admit changes nothing
        again = doctor.call("call:admit", {"appointment_id": live_visit})
        assert again["ok"] is True and again["admitted"] == []
        assert the_call(app, live_visit).admitted_at == call.admitted_at
        # in the call room now, the patient still cannot admit
        assert patient.call("call:admit", {"appointment_id": live_visit})["reason"] == "not_doctor"
    assert [(d["event"], d["reason"]) for d in call_denials(app)] == [
        ("call:signal", "not_in_call"), ("call:admit", "not_in_call"), ("call:admit", "not_doctor")]


def test_outsiders_cannot_signal_into_the_room_nor_members_out_of_it(app, live_server, live_visit,  # noqa: F811
                                                                     cookies):
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=cookies("patient")) as patient, \
            connected(live_server, cookie=cookies("receptionist")) as outsider:
        doctor_sid = doctor.call("call:join", {"appointment_id": live_visit})["sid"]
        patient_sid = patient.call("call:join", {"appointment_id": live_visit})["sid"]
        doctor.call("call:admit", {"appointment_id": live_visit})
        patient.wait_for("call:admitted")
        outsider_sid = outsider.client.get_sid()
        # a logged-in user who never joined, with the right ids
        into = outsider.call("call:signal", {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer",
                                             "data": {"sdp": "v=0"}})
        assert into["ok"] is False and into["reason"] == "not_in_call"
        # a member, to a socket outside the room
        out = doctor.call("call:signal", {"appointment_id": live_visit, "to": outsider_sid, "kind": "offer",
                                          "data": {"sdp": "v=0"}})
        assert out["ok"] is False and out["reason"] == "peer_not_in_call"
        assert out["message"] == "That person is not in this video visit."
        # a member naming another appointment
        other = patient.call("call:signal", {"appointment_id": live_visit + 1, "to": doctor_sid, "kind": "ice",
                                             "data": {"candidate": ""}})
        assert other["reason"] == "not_in_call"
        for listener in (doctor, outsider):
            listener.nothing("call:signal")
        # the same member to the doctor still goes through
        assert patient.call("call:signal", {"appointment_id": live_visit, "to": doctor_sid, "kind": "ice",
                                            "data": {"candidate": ""}})["ok"] is True
        assert doctor.wait_for("call:signal")["from"] == patient_sid
    assert [(d["user_id"], d["event"], d["reason"], d.get("to")) for d in call_denials(app)] == [
        (user_id(app, "receptionist"), "call:signal", "not_in_call", doctor_sid),
        (user_id(app, "doctor"), "call:signal", "peer_not_in_call", outsider_sid),
        (user_id(app, "patient"), "call:signal", "not_in_call", doctor_sid)]


@pytest.mark.parametrize("message, reason", [
    (None, "malformed"),
    ("offer", "malformed"),
    ({"to": "x", "kind": "offer", "data": {}}, "malformed"),  # no appointment
    ({"appointment_id": "1", "to": "x", "kind": "offer", "data": {}}, "malformed"),
    ({"appointment_id": 1, "kind": "offer", "data": {}}, "malformed"),  # no addressee
    ({"appointment_id": 1, "to": "x" * 65, "kind": "offer", "data": {}}, "malformed"),
    ({"appointment_id": 1, "to": "x", "kind": "offer"}, "malformed"),  # no data
    ({"appointment_id": 1, "to": "x", "kind": "hangup", "data": {}}, "unknown_kind"),
    ({"appointment_id": 1, "to": "x", "data": {}}, "unknown_kind"),
    ({"appointment_id": 1, "to": "x", "kind": "offer", "data": {"sdp": "a" * (64 * 1024)}}, "too_large"),
])
def test_malformed_signals_are_refused_with_a_reason(app, live_server, live_visit, cookies,  # noqa: F811
                                                     message, reason):
    with connected(live_server, cookie=cookies("doctor")) as doctor:
        doctor.call("call:join", {"appointment_id": live_visit})
        answer = doctor.call("call:signal", message)
        assert answer["ok"] is False and answer["reason"] == reason and answer["message"]
        assert doctor.client.connected  # no server error, the connection stays
        assert doctor.call("call:join", {"appointment_id": live_visit})["ok"] is True


def test_leaving_dropping_and_rejoining_and_the_doctor_ends_the_call(app, live_server, live_visit,  # noqa: F811
                                                                     cookies):
    with connected(live_server, cookie=cookies("doctor")) as doctor:
        doctor_sid = doctor.call("call:join", {"appointment_id": live_visit})["sid"]
        with connected(live_server, cookie=cookies("patient")) as patient:
            first = patient.call("call:join", {"appointment_id": live_visit})["sid"]
            doctor.call("call:admit", {"appointment_id": live_visit})
            patient.wait_for("call:admitted")
            assert doctor.wait_for("call:peer-joined")["sid"] == first
            assert patient.call("call:leave", {"appointment_id": live_visit}) == {"ok": True, "left": True,
                                                                                  "ended": False}
            assert doctor.wait_for("call:peer-left") == {"sid": first, "role": "patient"}
            # out of the room: no more signals either way
            assert doctor.call("call:signal", {"appointment_id": live_visit, "to": first, "kind": "ice",
                                               "data": {}})["reason"] == "peer_not_in_call"
            # back in: admitted already, straight into the call room; the doctor is the peer to offer to
            back = patient.call("call:join", {"appointment_id": live_visit})
            assert (back["state"], back["peers"]) == ("admitted", [doctor_sid])
            doctor.wait_for("call:peer-joined")
        # the patient's connection drops
        assert doctor.wait_for("call:peer-left") == {"sid": first, "role": "patient"}
        with connected(live_server, cookie=cookies("patient")) as patient:
            again = patient.call("call:join", {"appointment_id": live_visit})
            assert (again["state"], again["peers"]) == ("admitted", [doctor_sid])
            assert doctor.wait_for("call:peer-joined")["sid"] == again["sid"]
            assert patient.call("call:signal", {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer",
                                                "data": {"sdp": "v=0"}})["ok"] is True
            assert doctor.wait_for("call:signal")["from"] == again["sid"]
            started = the_call(app, live_visit).started_at
            assert started is not None
            # only the doctor's leave ends the call
            assert patient.call("call:leave", {"appointment_id": live_visit, "end": True})["ended"] is False
            assert the_call(app, live_visit).ended_at is None
            patient.call("call:join", {"appointment_id": live_visit})
            ended = doctor.call("call:leave", {"appointment_id": live_visit, "end": True})
            assert ended == {"ok": True, "left": True, "ended": True}
            assert patient.wait_for("call:peer-left") == {"sid": doctor_sid, "role": "doctor"}
            assert patient.wait_for("call:ended") == {"appointment_id": live_visit}
    call = the_call(app, live_visit)
    assert call.started_at == started and call.ended_at is not None and call.ended_at >= started


def test_a_doctor_who_comes_second_sees_who_waits_and_the_plain_join_cannot_skip_the_wait(
        app, live_server, live_visit, cookies):  # noqa: F811
    with connected(live_server, cookie=cookies("patient")) as patient, \
            connected(live_server, cookie=cookies("doctor")) as doctor:
        waiting = patient.call("call:join", {"appointment_id": live_visit})
        assert waiting["state"] == "waiting" and "room" not in waiting  # the room's key is never handed out
        room = f"call:{the_call(app, live_visit).room_key}"
        # the live-updates join does not open call rooms, whoever asks
        assert patient.call("join", {"room": room})["reason"] == "unknown_kind"
        seated = doctor.call("call:join", {"appointment_id": live_visit})
        assert seated["waiting"] == [{"sid": waiting["sid"], "name": "Nguyễn Văn An"}]
        assert seated["peers"] == []  # the waiting patient is not in the call room
        assert doctor.call("call:signal", {"appointment_id": live_visit, "to": waiting["sid"], "kind": "offer",
                                           "data": {"sdp": "v=0"}})["reason"] == "peer_not_in_call"
        patient.nothing("call:signal")


def test_a_doctor_who_logged_out_can_no_longer_signal(app, live_server, live_visit, cookies,  # noqa: F811
                                                      monkeypatch):
    from app.realtime import calls
    from tests.factories import login_body

    monkeypatch.setattr(calls, "RECHECK_SECONDS", 0.0)  # else a signal re-checks the login every 5 s only
    token = app.test_client().post("/api/v1/security/login", json=login_body(app, "doctor")
                                   ).get_json()["access_token"]
    with connected(live_server, token=token) as doctor, \
            connected(live_server, cookie=cookies("patient")) as patient:
        doctor_sid = doctor.call("call:join", {"appointment_id": live_visit})["sid"]
        waiting = patient.call("call:join", {"appointment_id": live_visit})
        assert doctor.call("call:admit", {"appointment_id": live_visit})["ok"] is True
        patient.wait_for("call:admitted")
        offer = {"appointment_id": live_visit, "to": waiting["sid"], "kind": "offer", "data": {"sdp": "v=0"}}
        assert doctor.call("call:signal", offer) == {"ok": True}
        assert patient.wait_for("call:signal")["kind"] == "offer"
        answer = app.test_client().post("/api/v1/security/logout", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert doctor.call("call:signal", offer)["reason"] == "login"
        # and out of the call: he neither sends nor receives its signals any more
        assert patient.wait_for("call:peer-left")["role"] == "doctor"
        back = {"appointment_id": live_visit, "to": doctor_sid, "kind": "answer", "data": {"sdp": "v=0"}}
        assert patient.call("call:signal", back)["reason"] == "peer_not_in_call"
        patient.nothing("call:signal")


def test_a_patient_in_the_waiting_room_is_checked_in_like_at_the_desk(app, live_server, live_visit,  # noqa: F811
                                                                      cookies):
    """The desk's board and the doctor's My day show the video patient waiting, with a number."""
    from app.extensions import db
    from app.models import Appointment
    from app.services import front_desk
    from app.services.settings import ClinicSettings

    with connected(live_server, cookie=cookies("patient")) as patient:
        assert patient.call("call:join", {"appointment_id": live_visit})["state"] == "waiting"
        again = patient.call("call:join", {"appointment_id": live_visit})  # a reload: still one check-in
        assert again["state"] == "waiting"
    with app.app_context():
        appointment = db.session.get(Appointment, live_visit)
        assert (appointment.status, appointment.queue_number) == ("checked_in", 1)
        assert appointment.checked_in_at is not None
        settings = ClinicSettings.from_config(app.config)
        day = front_desk.clinic_day(appointment.start_at, settings)
        rows = [row for queue in front_desk.queue_board(db.session, day, appointment.start_at, settings=settings)
                for row in queue.rows if row.appointment_id == live_visit]
        assert [(row.state, row.mode) for row in rows] == [("waiting", "video")]


def test_the_doctors_end_takes_everyone_out_of_the_call(app, live_server, live_visit, cookies):  # noqa: F811
    """After the doctor's end nobody is left in the call's rooms: the patient still connected can
    signal no one (refused as not in the call, not merely for a missing peer) until a new join."""
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=cookies("patient")) as patient:
        doctor_sid = doctor.call("call:join", {"appointment_id": live_visit})["sid"]
        patient_sid = patient.call("call:join", {"appointment_id": live_visit})["sid"]
        doctor.call("call:admit", {"appointment_id": live_visit})
        patient.wait_for("call:admitted")
        offer = {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer", "data": {"sdp": "v=0"}}
        assert patient.call("call:signal", offer) == {"ok": True}
        assert doctor.call("call:leave", {"appointment_id": live_visit, "end": True})["ended"] is True
        patient.wait_for("call:ended")
        assert patient.call("call:signal", offer)["reason"] == "not_in_call"
        assert patient.call("call:signal", {**offer, "to": patient_sid})["reason"] == "not_in_call"
        # the doctor may open the call again: a new join, and the patient's rejoin, signal as before
        again = doctor.call("call:join", {"appointment_id": live_visit})
        assert again["ok"] is True and again["peers"] == []
        assert patient.call("call:join", {"appointment_id": live_visit})["peers"] == [doctor_sid]
        assert patient.call("call:signal", offer) == {"ok": True}
        assert doctor.wait_for("call:signal")["from"] == patient_sid


def test_a_signal_re_checks_the_seat_at_most_every_few_seconds_and_with_one_query(
        app, live_server, live_visit, cookies, monkeypatch):  # noqa: F811
    """Within RECHECK_SECONDS of the last check a signal reads no database; the check itself is
    one statement (the login session, the user, a guest's invitation)."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.realtime import calls

    monkeypatch.setattr(calls.Calls, "sweep", lambda self: 0)  # the background check would count too
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=cookies("patient")) as patient:
        doctor.call("call:join", {"appointment_id": live_visit})
        patient_sid = patient.call("call:join", {"appointment_id": live_visit})["sid"]
        doctor.call("call:admit", {"appointment_id": live_visit})
        patient.wait_for("call:admitted")
        offer = {"appointment_id": live_visit, "to": patient_sid, "kind": "offer", "data": {"sdp": "v=0"}}
        with app.app_context():
            engine = db.engine
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert doctor.call("call:signal", offer) == {"ok": True}
            assert statements == []
            monkeypatch.setattr(calls, "RECHECK_SECONDS", 0.0)
            assert doctor.call("call:signal", offer) == {"ok": True}
            assert len(statements) == 1
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert [patient.wait_for("call:signal")["kind"] for _ in range(2)] == ["offer", "offer"]
