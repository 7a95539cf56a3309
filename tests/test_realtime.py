"""Live updates (app/realtime) with real python-socketio clients against the test app served over
HTTP (the ``live_server`` fixture, one process, no Redis): who may connect (a web session, a JWT,
nobody else except the waiting-room screens), which rooms each login may join (refusals logged),
and that each hook of ``app.services.realtime_hooks`` reaches the right rooms and only those.
The Redis message queue (several processes, an RQ worker) is tests/test_realtime_redis.py."""
from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

import pytest
import socketio

from tests.factories import form_login, token_headers

WAIT = 5.0  # seconds an expected event may take
QUIET = 0.6  # seconds in which an unexpected event would have arrived


class Listener:
    """A python-socketio client that records every event it receives."""

    def __init__(self, namespaces: list[str] | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self.seen: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()

        def record(event: str, *args: Any, namespace: str = "/") -> None:
            self.events.put((namespace, event, args[0] if args else None))

        for namespace in namespaces or ["/"]:
            self.client.on("*", lambda event, *args, ns=namespace: record(event, *args, namespace=ns),
                           namespace=namespace)

    def wait_for(self, event: str, namespace: str = "/", timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        for seen in self.seen:
            if seen[:2] == (namespace, event):
                self.seen.remove(seen)
                return seen[2]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event!r} on {namespace} within {timeout} s; saw {self.seen}")
            try:
                got = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got[:2] == (namespace, event):
                return got[2]
            self.seen.append(got)

    def nothing(self, event: str, namespace: str = "/", within: float = QUIET) -> None:
        time.sleep(within)
        while not self.events.empty():
            self.seen.append(self.events.get_nowait())
        hits = [s for s in self.seen if s[:2] == (namespace, event)]
        assert not hits, f"unexpected {event!r}: {hits}"

    def call(self, event: str, data: Any, namespace: str = "/") -> Any:
        return self.client.call(event, data, namespace=namespace, timeout=WAIT)

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def session_cookie(app, username: str) -> str:
    """The ``Cookie`` header of a browser logged in as ``username`` through the login form."""
    browser = app.test_client()
    response = form_login(app, browser, username)
    assert response.status_code in (302, 303)
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    cookie = browser.get_cookie(name)
    assert cookie is not None
    return f"{name}={cookie.value}"


def bearer(app, username: str) -> str:
    return token_headers(app, username)["Authorization"].split(" ", 1)[1]


@contextmanager
def connected(url: str, *, cookie: str | None = None, token: str | None = None,
              namespaces: list[str] | None = None) -> Iterator[Listener]:
    listener = Listener(namespaces)
    listener.client.connect(url, headers={"Cookie": cookie} if cookie else {},
                            auth={"token": token} if token else None, namespaces=namespaces or ["/"],
                            transports=["websocket"], wait_timeout=WAIT)
    try:
        yield listener
    finally:
        listener.close()


def user_id(app, username: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=username).id


def link_doctor(app, doctor_id: int, username: str | None) -> None:
    from app.extensions import db
    from app.models import Doctor

    with app.app_context():
        db.session.get(Doctor, doctor_id).user_id = user_id(app, username) if username else None
        db.session.commit()


def second_doctor(clinic) -> int:
    from app.models import Doctor

    return clinic.save(Doctor(full_name="Lê Văn Cường", department_id=clinic.department))


def denials(app) -> list[dict]:
    import json

    import sqlalchemy as sa

    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "realtime_denied")
                                  .order_by(AuditEvent.id)).scalars().all()
        return [{"user_id": r.user_id, "room": r.entity_id, **json.loads(r.details or "{}")} for r in rows]


@pytest.fixture
def doctor_login(app, clinic):
    """The shared ``doctor`` login is the clinic's test doctor (unlinked afterwards)."""
    link_doctor(app, clinic.doctor, "doctor")
    yield clinic.doctor
    link_doctor(app, clinic.doctor, None)


# --- who may connect -----------------------------------------------------------------------------


def test_nobody_connects_without_a_login(live_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server, transports=["websocket"], wait_timeout=WAIT)
    assert not client.connected


def test_a_forged_or_refresh_token_is_refused(app, live_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server, auth={"token": "not.a.token"}, transports=["websocket"], wait_timeout=WAIT)
    token = bearer(app, "receptionist")
    head, body, signature = token.split(".")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server, auth={"token": f"{head}.{body}.{signature[::-1]}"}, transports=["websocket"],
                       wait_timeout=WAIT)


def test_a_web_session_connects_into_its_own_rooms(app, live_server):
    with connected(live_server, cookie=session_cookie(app, "receptionist")) as me:
        ready = me.wait_for("ready")
    assert ready["user_id"] == user_id(app, "receptionist")
    assert ready["rooms"] == [f"user:{ready['user_id']}", "role:Receptionist"]


def test_a_jwt_connects_and_a_logged_out_token_no_longer_does(app, live_server):
    from tests.factories import login_body

    token = app.test_client().post("/api/v1/security/login", json=login_body(app, "pharmacist")
                                   ).get_json()["access_token"]  # its own session, not the shared token's
    with connected(live_server, token=token) as me:
        assert me.wait_for("ready")["rooms"] == [f"user:{user_id(app, 'pharmacist')}", "role:Pharmacist"]
        assert me.call("join", {"room": "role:Pharmacist"})["ok"] is True
        # "sign out": the token's session ends; the open connection is asked again at its next join
        answer = app.test_client().post("/api/v1/security/logout", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert me.call("join", {"room": "role:Pharmacist"})["reason"] == "login"
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server, auth={"token": token}, transports=["websocket"], wait_timeout=WAIT)


# --- which rooms ---------------------------------------------------------------------------------


def test_a_patient_cannot_join_another_users_or_a_doctors_room_and_each_refusal_is_logged(app, live_server, clinic):
    patient = user_id(app, "patient")
    other = user_id(app, "receptionist")
    with connected(live_server, cookie=session_cookie(app, "patient")) as me:
        me.wait_for("ready")
        for room in (f"user:{other}", f"doctor:{clinic.doctor}", "role:Receptionist", "conversation:7",
                     "display:all", "nonsense"):
            answer = me.call("join", {"room": room})
            assert answer["ok"] is False, room
            assert answer["message"], room  # words for the person, not only a code
            assert me.wait_for("refused")["room"] == room
        assert me.call("join", {"room": f"user:{patient}"}) == {"ok": True, "room": f"user:{patient}"}
    logged = denials(app)
    assert [(d["user_id"], d["room"], d["reason"]) for d in logged] == [
        (patient, f"user:{other}", "not_yours"), (patient, f"doctor:{clinic.doctor}", "not_yours"),
        (patient, "role:Receptionist", "not_yours"), (patient, "conversation:7", "not_yours"),
        (patient, "display:all", "unknown_kind"), (patient, "nonsense", "malformed")]


def test_a_doctor_hears_their_own_waiting_list_not_a_colleagues_reception_hears_both(
        app, live_server, clinic, doctor_login):
    colleague = second_doctor(clinic)
    doctor_token = bearer(app, "doctor")
    with connected(live_server, token=doctor_token) as doctor:
        assert f"doctor:{doctor_login}" in doctor.wait_for("ready")["rooms"]
        assert doctor.call("join", {"room": f"doctor:{colleague}"})["ok"] is False
    with connected(live_server, cookie=session_cookie(app, "receptionist")) as desk:
        desk.wait_for("ready")
        assert desk.call("join", {"room": f"doctor:{colleague}"}) == {"ok": True, "room": f"doctor:{colleague}"}
        assert desk.call("join", {"room": f"doctor:{doctor_login}"})["ok"] is True
    assert [(d["room"], d["reason"]) for d in denials(app)] == [(f"doctor:{colleague}", "not_yours")]
    assert denials(app)[0]["user_id"] == user_id(app, "doctor")


def test_the_waiting_room_screen_needs_no_login_and_hears_only_screen_rooms(app, live_server, clinic):
    with connected(live_server, namespaces=["/display"]) as screen:
        assert screen.call("join", {"room": f"display:{clinic.department}"}, namespace="/display")["ok"] is True
        assert screen.call("join", {"room": "display:all"}, namespace="/display")["ok"] is True
        refused = screen.call("join", {"room": f"user:{user_id(app, 'admin')}"}, namespace="/display")
        assert refused["ok"] is False
    assert [(d["user_id"], d["reason"]) for d in denials(app)] == [(None, "login")]


def test_a_registered_rule_decides_a_new_kind_of_room(app, live_server):
    from app.services import realtime_access

    asked: list[tuple[int, str]] = []

    def rule(session, user, key: str) -> bool:
        asked.append((user.id, key))
        return key == "42"

    chats = realtime_access._rules["conversation"]  # the chat's own rule, put back after
    realtime_access.register_room_rule("conversation", rule)
    try:
        with connected(live_server, token=bearer(app, "patient")) as me:
            assert me.call("join", {"room": "conversation:42"})["ok"] is True
            assert me.call("join", {"room": "conversation:43"})["ok"] is False
    finally:
        realtime_access.register_room_rule("conversation", chats)
    assert asked == [(user_id(app, "patient"), "42"), (user_id(app, "patient"), "43")]
    with pytest.raises(ValueError):
        realtime_access.register_room_rule("doctor", rule)


def test_a_patient_joins_their_own_chat_conversation_only(app, live_server, clinic):
    """The chat's rule for ``conversation:<id>`` rooms: the patient's own conversation, not
    another patient's (refused and logged)."""
    from datetime import datetime, timezone

    from app.extensions import db
    from app.models import Patient
    from app.services import chat

    now = datetime.now(timezone.utc)
    clinic.save(Patient(full_name="Trần Thị Mai", user_id=user_id(app, "patient")))
    other = clinic.save(Patient(full_name="Lê Văn Tám"))
    with app.app_context():
        mine = chat.my_conversation(db.session, app.appbuilder.sm.find_user(username="patient"), now).id
        theirs = chat.patient_conversation(db.session, other, now).id
    with connected(live_server, token=bearer(app, "patient")) as me:
        assert me.call("join", {"room": f"conversation:{mine}"}) == {"ok": True, "room": f"conversation:{mine}"}
        assert me.call("join", {"room": f"conversation:{theirs}"})["ok"] is False
    assert [(d["room"], d["reason"]) for d in denials(app)] == [(f"conversation:{theirs}", "not_yours")]


# --- the hooks reach the right rooms only --------------------------------------------------------


def _call_hook(app, name: str, *args: Any) -> None:
    from app.services import realtime_hooks

    with app.app_context():
        getattr(realtime_hooks, name)(*args)


def test_each_hook_reaches_its_rooms_and_no_other(app, live_server, clinic, doctor_login):
    from app.services import realtime_access

    colleague = second_doctor(clinic)
    chats = realtime_access._rules["conversation"]  # the chat's own rule, put back after
    realtime_access.register_room_rule("conversation", lambda session, user, key: key == "c1")
    try:
        with connected(live_server, cookie=session_cookie(app, "receptionist")) as desk, \
                connected(live_server, token=bearer(app, "doctor")) as doctor, \
                connected(live_server, token=bearer(app, "patient")) as patient, \
                connected(live_server, token=bearer(app, "pharmacist")) as pharmacy, \
                connected(live_server, namespaces=["/display"]) as screen, \
                connected(live_server, namespaces=["/display"]) as other_screen:
            for each in (desk, doctor, patient, pharmacy):
                each.wait_for("ready")
            assert screen.call("join", {"room": f"display:{clinic.department}"}, namespace="/display")["ok"]
            assert other_screen.call("join", {"room": "display:999"}, namespace="/display")["ok"]
            assert patient.call("join", {"room": "conversation:c1"})["ok"]

            _call_hook(app, "queue_changed", doctor_login, date(2026, 12, 2))
            expected = {"doctor_id": doctor_login, "day": "2026-12-02"}
            assert desk.wait_for("queue") == expected
            assert doctor.wait_for("queue") == expected
            assert screen.wait_for("queue", "/display") == expected
            other_screen.nothing("queue", "/display")
            patient.nothing("queue")
            pharmacy.nothing("queue")

            _call_hook(app, "queue_changed", colleague, date(2026, 12, 2))  # same department, not this doctor
            assert desk.wait_for("queue")["doctor_id"] == colleague
            assert screen.wait_for("queue", "/display")["doctor_id"] == colleague
            doctor.nothing("queue")

            _call_hook(app, "appointment_changed", clinic.appointment, "moved")
            for each in (desk, doctor):
                moved = each.wait_for("appointment")
                assert moved["appointment_id"] == clinic.appointment and moved["change"] == "moved"
                assert moved["patient_initials"] == "N.V.A." and moved["doctor_name"] == "Trần Thị Bình"
                assert "Nguyễn" not in str(moved)  # initials only, never the patient's name
            patient.nothing("appointment")
            screen.nothing("appointment", "/display")

            _call_hook(app, "dispensing_queue_changed", 5)
            assert pharmacy.wait_for("dispensing") == {"prescription_id": 5}
            desk.nothing("dispensing")

            _call_hook(app, "chat_message_posted", "c1", "m1")
            assert patient.wait_for("chat") == {"conversation_id": "c1", "message_id": "m1"}
            assert desk.wait_for("inbox") == {"conversation_id": "c1", "message_id": "m1"}
            doctor.nothing("chat")
            desk.nothing("chat")
    finally:
        realtime_access.register_room_rule("conversation", chats)


def test_a_notification_brings_its_owner_the_unread_count_and_a_toast(app, live_server, db):
    from app.services.notifications import notify

    patient_id = user_id(app, "patient")
    with connected(live_server, token=bearer(app, "patient")) as patient, \
            connected(live_server, cookie=session_cookie(app, "receptionist")) as desk:
        patient.wait_for("ready")
        desk.wait_for("ready")
        row = notify(db.session, patient_id, "test", "Your results are ready", link="/clinic/my/visits")
        notify(db.session, patient_id, "test", "Second")
        db.session.commit()  # the notifications' after-commit hook sends the count
        got = patient.wait_for("notification")
        assert got["unread"] == 2 and got["title"] == "Second" and got["id"] == row.id + 1
        desk.nothing("notification")


def test_hooks_never_raise(app, monkeypatch):
    from app.realtime import emit
    from app.services import realtime_hooks

    realtime_hooks.queue_changed(1, date(2026, 1, 1))  # no application: nothing to do
    realtime_hooks.chat_message_posted(1, "x")

    class Broken:
        def emit(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("the message queue is down")

    monkeypatch.setattr(emit, "_server", lambda: Broken())
    with app.app_context():
        realtime_hooks.notification_created(user_id(app, "patient"))
        realtime_hooks.appointment_changed(123456, "booked")  # no such appointment
        realtime_hooks.queue_changed(123456, date(2026, 1, 1))
        realtime_hooks.dispensing_queue_changed(1)
        assert emit.send("queue", {}, ["role:Receptionist"]) == 0


def test_telling_the_next_patient_opens_no_session_and_a_failure_only_logs(app, monkeypatch, caplog):
    """The queue hook's "tell whoever is next" step enqueues a job and reads nothing: it opens no
    database session of its own, and a queue that refuses the job is a log line, never an error
    for the desk that checked the patient in (the queue event itself still goes out)."""
    from contextlib import contextmanager

    from app.jobs import queue as jobs_queue
    from app.services import realtime_hooks

    opened, sent = [], []
    reading = realtime_hooks._reading

    @contextmanager
    def counting() -> Iterator[Any]:
        opened.append(1)
        with reading() as session:
            yield session

    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(realtime_hooks, "_reading", counting)
    monkeypatch.setattr(realtime_hooks, "_send", lambda event, payload, rooms: sent.append(event))
    monkeypatch.setattr(jobs_queue, "enqueue", refused)
    with app.app_context(), caplog.at_level("ERROR", logger=realtime_hooks.__name__):
        realtime_hooks.queue_changed(123456, date(2026, 1, 1))
    assert opened == [1] and sent == ["queue"]
    assert [r.getMessage() for r in caplog.records] == ["live update queue next not sent"]
    assert "Redis is down" in caplog.text


# --- catch-up and health -------------------------------------------------------------------------


def test_the_catch_up_state_gives_what_was_missed(app, client, db, clinic):
    from app.services.notifications import notify

    headers = token_headers(app, "receptionist")
    assert client.get("/api/v1/realtime/state").status_code == 401
    me = user_id(app, "receptionist")
    first = notify(db.session, me, "test", "One")
    db.session.commit()
    state = client.get("/api/v1/realtime/state", headers=headers).get_json()
    assert state["unread"] == 1 and [n["id"] for n in state["notifications"]] == [first.id]
    later = [notify(db.session, me, "test", f"n{i}") for i in range(3)]
    db.session.commit()
    state = client.get(f"/api/v1/realtime/state?since_id={first.id}", headers=headers).get_json()
    assert state["unread"] == 4
    assert [n["title"] for n in state["notifications"]] == ["n0", "n1", "n2"]
    assert state["more"] is False and [n["id"] for n in state["notifications"]] == [n.id for n in later]

    bad = client.get("/api/v1/realtime/state?since_id=abc", headers=headers)
    assert bad.status_code == 422 and "since_id" in str(bad.get_json())
    assert client.get("/api/v1/realtime/state?sinceid=1", headers=headers).status_code == 422


def test_the_catch_up_state_has_the_versions_of_the_waiting_lists_one_may_follow(app, client, db, clinic):
    from datetime import datetime, timedelta

    from app.models import Appointment
    from app.services.settings import ClinicSettings

    settings = ClinicSettings.from_config(app.config)
    now = datetime.now(settings.timezone).replace(hour=10, minute=0, second=0, microsecond=0)
    colleague = second_doctor(clinic)
    db.session.add(Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                               start_at=now, end_at=now + timedelta(minutes=20), status="confirmed"))
    db.session.commit()
    desk = client.get("/api/v1/realtime/state", headers=token_headers(app, "receptionist")).get_json()
    assert list(desk["queue_versions"]) == [str(clinic.doctor)]
    before = desk["queue_versions"][str(clinic.doctor)]
    link_doctor(app, colleague, "doctor")
    try:
        own = client.get("/api/v1/realtime/state", headers=token_headers(app, "doctor")).get_json()
        assert own["queue_versions"] == {}  # the colleague has nobody today; the other list is not theirs
    finally:
        link_doctor(app, colleague, None)
    db.session.add(Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                               start_at=now + timedelta(hours=1), end_at=now + timedelta(hours=1, minutes=20),
                               status="confirmed"))
    db.session.commit()
    desk = client.get("/api/v1/realtime/state", headers=token_headers(app, "receptionist")).get_json()
    assert desk["queue_versions"][str(clinic.doctor)] != before
    patient = client.get("/api/v1/realtime/state", headers=token_headers(app, "patient")).get_json()
    assert patient["queue_versions"] == {}


def test_health_says_the_live_updates_are_in_process_without_redis(client):
    body = client.get("/health").get_json()
    assert body["checks"]["socketio"] == {"status": "embedded", "message_queue": "in-process", "mode": "threading"}


def test_the_socketio_client_is_served_from_the_installed_package(client):
    from app.realtime.vendor import client_path

    answer = client.get("/static-vendor/socket.io.min.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert answer.get_data() == client_path().read_bytes()
    assert "immutable" in answer.headers["Cache-Control"]


def test_the_websocket_declines_compression_a_browser_offers(live_server):
    """Every browser offers permessage-deflate; the events are a few dozen bytes of ids, so the
    server declines it (no zlib state per connection, one cheap frame per broadcast)."""
    import socket as sockets
    from urllib.parse import urlsplit

    address = urlsplit(live_server)
    with sockets.create_connection((address.hostname, address.port), timeout=WAIT) as raw:
        raw.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += raw.recv(4096)
    head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 101")
    assert "sec-websocket-extensions" not in head
