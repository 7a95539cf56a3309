"""A video visit's signalling over Socket.IO (default namespace). Thin: who may enter a call and
when is ``app.services.telemedicine.call_seat``; admitting, the start and the end of a call are
its ``admit``, ``mark_started`` and ``end_call``.

Rooms, named from the call's random key (``call_seat(...).room``):

- ``call:<key>``       the call room: the doctor, and the patient once admitted; signals go only
                       between two sockets of this room;
- ``call:<key>:wait``  the waiting room: the patient's sockets until the doctor admits them.

Events (each answers an ack; a refusal is ``{"ok": false, "reason", "message"}``, audited as
``call_denied`` unless the message was merely malformed):

- ``call:join {appointment_id}``  the seat: role, admitted or waiting, the ICE servers and the
  sids already in the call room with their ``names`` (the newcomer makes the offers); a waiting
  patient or guest makes the doctor's sockets hear ``call:waiting {sid, name}``; a newcomer in the
  call room makes the others hear ``call:peer-joined {sid, role, name}``;
- ``call:admit {appointment_id, sid}``  the doctor, from a socket in the call room, admits the
  person waiting on socket ``sid`` (as ``call:waiting`` named it): that person's sockets in the
  waiting room (same login and role: a patient may have two tabs) move into the call room and hear
  ``call:admitted {appointment_id, peers, names}``; anyone else waiting stays. A ``sid`` not in the
  call's waiting room is refused (``not_waiting``). Without ``sid``: everyone waiting (the patient
  and an invited guest) at once;
- ``call:signal {appointment_id, to, kind, data}``  ``kind`` one of offer, answer, ice; relayed as
  ``call:signal {from, kind, data}`` to ``to`` only when both are in that call room;
- ``call:leave {appointment_id, end}`` and a disconnect: the others hear ``call:peer-left {sid}``;
  the doctor's ``end: true`` ends the call (everyone in both rooms hears ``call:ended``).

A socket's seat (appointment, role, room, when it was last checked) is kept in its Socket.IO
session, never in module state (the ``Calls`` object only lists which of its sockets have one, for
the background re-check, ``sweep``). Room membership and sessions are each process's own: with
several processes behind the Redis message queue, events and room changes reach every process,
but the lists of sids in an answer and the check that ``to`` is in the call room see this
process's sockets only (see README)."""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_socketio import SocketIO, join_room, leave_room

from app.extensions import db
from app.realtime.events import _current_user, login_of
from app.services import telemedicine, video_recording
from app.services.settings import ClinicSettings
from app.services.telemedicine import CallRefused, JoinWindow

log = logging.getLogger(__name__)

NAMESPACE = "/"
SIGNAL_KINDS = ("offer", "answer", "ice")
MAX_SIGNAL_BYTES = 64 * 1024  # the JSON of a signal's data (an SDP is a few KB)
SEAT = "call"  # the key of the seat in the socket's Socket.IO session
# A signal re-checks its sender's seat (the login session and the user, a guest's invitation: one
# query, ``verdicts``) when its last check (the join, or an
# earlier re-check) is this old; the other events check the login every time. A socket whose login
# ended elsewhere can go on relaying offers and ICE candidates of a call it is already in for at
# most this long. The doctor's end and, in the process that withdrew it, a guest's withdrawn
# invitation take effect at once.
RECHECK_SECONDS = 5.0

MESSAGES = {
    "login": lambda: _("Log in to join the video visit."),
    "malformed": lambda: _("That is not a valid call message."),
    "unknown_kind": lambda: _("A call signal is an offer, an answer or an ICE candidate."),
    "too_large": lambda: _("That call signal is too large."),
    "not_in_call": lambda: _("Join the video visit first."),
    "peer_not_in_call": lambda: _("That person is not in this video visit."),
    "not_doctor": lambda: _("Only the visit's doctor can do this."),
    "withdrawn": lambda: _("The doctor withdrew this invitation."),
    "not_waiting": lambda: _("That person is not waiting to be admitted any more."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _appointment_id(data: Any) -> Any:
    return data.get("appointment_id") if isinstance(data, dict) else None


def wait_room(room: str) -> str:
    return f"{room}:wait"


@dataclass(frozen=True)
class _Sender:
    """The sender of a signal, for the audit row of a refusal (its seat's user)."""

    id: int


class Calls:
    """The handlers over one app's Socket.IO server (``register``)."""

    def __init__(self, socketio: SocketIO) -> None:
        self.socketio = socketio
        self.seated: set[str] = set()  # this process's sockets with a seat, for ``sweep``
        self.lock = threading.Lock()
        self.sweeping = False

    @property
    def server(self) -> Any:
        return self.socketio.server

    # --- the socket's seat (its Socket.IO session) and the rooms ---------------------------------

    def seat(self, sid: str) -> dict[str, Any] | None:
        try:
            seat = self.server.get_session(sid, namespace=NAMESPACE).get(SEAT)
        except KeyError:  # gone
            return None
        return seat if isinstance(seat, dict) else None

    def save_seat(self, sid: str, seat: dict[str, Any] | None) -> None:
        with self.server.session(sid, namespace=NAMESPACE) as session:
            if seat is None:
                session.pop(SEAT, None)
            else:
                session[SEAT] = seat
        with self.lock:
            if seat is None:
                self.seated.discard(sid)
            else:
                self.seated.add(sid)

    def members(self, room: str) -> list[str]:
        """The sids in ``room`` (this process's)."""
        return [sid for sid, _eio in self.server.manager.get_participants(NAMESPACE, room)]

    def in_room(self, sid: str, room: str) -> bool:
        """Whether ``sid`` is in ``room`` (this process's), looked up in the room itself: the
        server's ``rooms(sid)`` walks every room of the namespace (each socket's own, the users',
        the roles', the calls'): with 400 sockets, some 1,600 rooms, twice per signal, which was
        half of a signal's cost on the server."""
        members = self.server.manager.rooms.get(NAMESPACE, {}).get(room)
        return members is not None and sid in members

    def names(self, sids: list[str]) -> dict[str, str]:
        """The display names of ``sids`` (their seats'), for the tiles' captions."""
        return {sid: (self.seat(sid) or {}).get("name", "") for sid in sids}

    def roles_in(self, room: str) -> set[str]:
        roles = set()
        for sid in self.members(room):
            seat = self.seat(sid)
            if seat is not None:
                roles.add(seat["role"])
        return roles

    # --- refusals ------------------------------------------------------------------------------

    def refuse(self, user: Any | None, event: str, appointment_id: Any, reason: str, message: str | None = None,
               *, audit: bool = True, to: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if audit:
            try:
                telemedicine.record_call_refusal(db.session, getattr(user, "id", None), appointment_id, event, reason,
                                                 to=to if isinstance(to, str) else None,
                                                 address=request.remote_addr)
                db.session.commit()
            except Exception:  # noqa: BLE001 - the refusal stands even if its audit row could not be written
                db.session.rollback()
                log.exception("could not record the refused %s of appointment %r", event, appointment_id)
        return {"ok": False, "reason": reason, "message": message or MESSAGES[reason](), **(extra or {})}

    def started_if_both(self, appointment_id: int, room: str) -> None:
        """``started_at`` the first time the doctor and the patient are both in the call room."""
        if self.roles_in(room) >= {"doctor", "patient"}:
            telemedicine.mark_started(db.session, appointment_id, _now())
            db.session.commit()

    # --- the events ----------------------------------------------------------------------------

    def join(self, data: Any) -> dict[str, Any]:
        sid: str = request.sid  # type: ignore[attr-defined]
        user = _current_user(NAMESPACE)
        appointment_id = _appointment_id(data)
        if user is None:
            db.session.rollback()
            return self.refuse(None, "call:join", appointment_id, "login")
        now = _now()
        try:
            seat = telemedicine.call_seat(db.session, user, appointment_id, now,
                                          JoinWindow.from_config(current_app.config))
            ice = telemedicine.ice_servers(current_app.config, user.id, now)
            db.session.commit()  # the call room, made on first need
        except CallRefused as refused:
            db.session.rollback()
            extra = {"opens_at": refused.opens_at.isoformat()} if refused.opens_at else {}
            return self.refuse(user, "call:join", appointment_id, refused.reason, refused.message,
                               extra=extra)
        self.start_sweep(current_app._get_current_object())  # type: ignore[attr-defined]
        if seat.role == "patient":  # in the waiting room (or the call): arrived, like at the desk
            telemedicine.patient_arrived(db.session, seat.appointment_id, user.id, now,
                                         ClinicSettings.from_config(current_app.config))
        previous = self.seat(sid)
        if previous is not None and previous["room"] != seat.room:
            self.leave_seat(sid, previous)
        if seat.admitted:
            leave_room(wait_room(seat.room), sid=sid, namespace=NAMESPACE)
            peers = [other for other in self.members(seat.room) if other != sid]
            join_room(seat.room, sid=sid, namespace=NAMESPACE)
            self.save_seat(sid, {"appointment_id": seat.appointment_id, "room": seat.room, "role": seat.role,
                                 "name": seat.display_name, "user_id": user.id, "checked": time.monotonic()})
            self.server.emit("call:peer-joined", {"sid": sid, "role": seat.role, "name": seat.display_name},
                             to=seat.room, skip_sid=sid, namespace=NAMESPACE)
            self.started_if_both(seat.appointment_id, seat.room)
        else:
            peers = []
            join_room(wait_room(seat.room), sid=sid, namespace=NAMESPACE)
            self.save_seat(sid, {"appointment_id": seat.appointment_id, "room": seat.room, "role": seat.role,
                                 "name": seat.display_name, "user_id": user.id, "checked": time.monotonic()})
            self.server.emit("call:waiting", {"appointment_id": seat.appointment_id, "sid": sid,
                                              "name": seat.display_name}, to=seat.room, namespace=NAMESPACE)
        answer: dict[str, Any] = {
            "ok": True, "appointment_id": seat.appointment_id, "role": seat.role,
            "state": "admitted" if seat.admitted else "waiting", "ice_servers": ice, "peers": peers,
            "names": self.names(peers), "sid": sid,
        }
        if seat.role == "doctor":
            answer["waiting"] = [{"sid": other, "name": (self.seat(other) or {}).get("name", "")}
                                 for other in self.members(wait_room(seat.room))]
        return answer

    def admit(self, data: Any) -> dict[str, Any]:
        sid: str = request.sid  # type: ignore[attr-defined]
        user = _current_user(NAMESPACE)
        appointment_id = _appointment_id(data)
        if user is None:
            db.session.rollback()
            return self.refuse(None, "call:admit", appointment_id, "login")
        seat = self.seat(sid)
        if seat is None or seat["appointment_id"] != appointment_id or not self.in_room(sid, seat["room"]):
            db.session.rollback()
            return self.refuse(user, "call:admit", appointment_id, "not_in_call")
        if seat["role"] != "doctor":
            db.session.rollback()
            return self.refuse(user, "call:admit", appointment_id, "not_doctor")
        room, waiting = seat["room"], wait_room(seat["room"])
        waiting_seats = [(other, found) for other in self.members(waiting) if (found := self.seat(other))]
        chosen = data.get("sid") if isinstance(data, dict) else None
        if chosen is not None:
            person = next((found for other, found in waiting_seats if other == chosen), None)
            if person is None:
                db.session.rollback()
                return self.refuse(user, "call:admit", appointment_id, "not_waiting",
                                   to=chosen if isinstance(chosen, str) else None)
            # that person only: each of their sockets waiting (a patient may have two tabs open)
            waiting_seats = [(other, found) for other, found in waiting_seats
                             if (found["user_id"], found["role"]) == (person["user_id"], person["role"])]
            patient_too = person["role"] == "patient"
        else:  # everyone waiting; the patient also ahead of time when nobody waits yet
            patient_too = not waiting_seats or any(found["role"] == "patient" for _sid, found in waiting_seats)
        guests = tuple(found["user_id"] for _sid, found in waiting_seats if found["role"] == "guest")
        try:
            telemedicine.admit(db.session, appointment_id, user, _now(), guest_user_ids=guests, patient=patient_too)
            db.session.commit()
        except CallRefused as refused:
            db.session.rollback()
            return self.refuse(user, "call:admit", appointment_id, refused.reason, refused.message)
        doctors = self.members(room)
        admitted = {"appointment_id": appointment_id, "peers": doctors, "names": self.names(doctors)}
        if chosen is None:
            self.server.emit("call:admitted", admitted, to=waiting, namespace=NAMESPACE)
            moved = self.members(waiting)
        else:
            moved = [each for each, _found in waiting_seats]
            for each in moved:
                self.server.emit("call:admitted", admitted, to=each, namespace=NAMESPACE)
        for patient in moved:
            self.server.enter_room(patient, room, namespace=NAMESPACE)
            self.server.leave_room(patient, waiting, namespace=NAMESPACE)
        for patient in moved:
            other = self.seat(patient) or {}
            self.server.emit("call:peer-joined", {"sid": patient, "role": other.get("role", "patient"),
                                                  "name": other.get("name", "")},
                             to=room, skip_sid=patient, namespace=NAMESPACE)
        self.started_if_both(appointment_id, room)
        return {"ok": True, "appointment_id": appointment_id, "admitted": moved}

    def signal(self, data: Any) -> dict[str, Any]:
        """Relay one signal. The common case touches no database: the sender's seat (its Socket.IO
        session) and both sockets' membership of the call room, looked up in memory. The seat is
        checked again (``recheck``: the login, a guest's invitation) when its
        last check is ``RECHECK_SECONDS`` old; the doctor's end and a withdrawn invitation also
        take the sockets out of the room at once (``close_call``, ``withdraw``)."""
        sid: str = request.sid  # type: ignore[attr-defined]
        appointment_id = _appointment_id(data)
        shape = self.bad_shape(data)
        if shape is not None:
            return self.refuse(None, "call:signal", appointment_id, shape, audit=False)
        to = data["to"]
        seat = self.seat(sid)
        if seat is None or seat["appointment_id"] != appointment_id or not self.in_room(sid, seat["room"]):
            user = _current_user(NAMESPACE)  # who asks, for the audit row (a refusal is rare)
            if user is None:
                db.session.rollback()
                return self.refuse(None, "call:signal", appointment_id, "login")
            asking = _Sender(user.id)  # read before the rollback expires it
            db.session.rollback()
            return self.refuse(asking, "call:signal", appointment_id, "not_in_call", to=to)
        sender = _Sender(seat["user_id"])
        if time.monotonic() - seat.get("checked", float("-inf")) >= RECHECK_SECONDS:
            reason = self.recheck(sid, seat)
            if reason is not None:
                return self.refuse(None if reason == "login" else sender, "call:signal", appointment_id, reason,
                                   to=to)
        if to == sid or not self.in_room(to, seat["room"]):
            return self.refuse(sender, "call:signal", appointment_id, "peer_not_in_call", to=to)
        self.relay(sid, to, data)
        return {"ok": True}

    def relayed_at_once(self, sid: str, data: Any) -> bool:
        """The signal relayed from memory alone, outside Flask's contexts: its shape, the sender's
        seat (the same appointment, checked less than ``RECHECK_SECONDS`` ago) and both sockets in
        the call room. False, having sent nothing, for anything else (``signal`` then decides:
        refusals, audit rows and the re-check need the app)."""
        if self.bad_shape(data) is not None:
            return False
        seat = self.seat(sid)
        if seat is None or seat["appointment_id"] != data["appointment_id"]:
            return False
        if time.monotonic() - seat.get("checked", float("-inf")) >= RECHECK_SECONDS:
            return False
        to, room = data["to"], seat["room"]
        if to == sid or not self.in_room(sid, room) or not self.in_room(to, room):
            return False
        self.relay(sid, to, data)
        return True

    def relay(self, sid: str, to: str, data: Any) -> None:
        self.server.emit("call:signal", {"from": sid, "kind": data["kind"], "data": data["data"]}, to=to,
                         namespace=NAMESPACE)

    def install_fast_signal(self) -> None:
        """Once the Socket.IO server exists (after ``init_app``): ``call:signal`` goes first to
        ``relayed_at_once``, registered on python-socketio's server itself, and only what that does
        not relay to the handler Flask-SocketIO registered (``signal``). Flask-SocketIO runs every
        event inside a request context made from the socket's WSGI environ (a Werkzeug request, a
        URL match that ends in a NotFound, the cookie session opened, the app context pushed and
        torn down): once a signal's checks are in memory, that was most of its cost on the server,
        and an offer and a dozen ICE candidates per call come in one burst."""
        full = self.server.handlers[NAMESPACE]["call:signal"]

        def on_signal(sid: str, *args: Any) -> Any:
            if args and self.relayed_at_once(sid, args[0]):
                return {"ok": True}
            return full(sid, *args)

        self.server.on("call:signal", on_signal, namespace=NAMESPACE)

    def start_sweep(self, app: Any) -> None:
        """``sweep`` every ``RECHECK_SECONDS / 2`` from now on (one background task per process,
        started by the first seat)."""
        with self.lock:
            if self.sweeping:
                return
            self.sweeping = True
        self.socketio.start_background_task(self._sweep_forever, app)

    def _sweep_forever(self, app: Any) -> None:
        while True:
            self.socketio.sleep(RECHECK_SECONDS / 2 or 0.5)
            try:
                with app.app_context():
                    self.sweep()
            except Exception:  # noqa: BLE001 - the signals' own re-check still stands behind it
                log.exception("the video call seats were not re-checked")

    def sweep(self) -> int:
        """Re-check every seat of this process at once (``telemedicine.seats_hold``: one query for
        all): each that holds counts as checked now, so a signal finds its check fresh and reads
        no database even in a burst; each that does not leaves the call (``call:peer-left`` to the
        others). Returns how many left. A signal whose check is still stale (the sweep late or
        failing) re-checks on its own (``recheck``)."""
        with self.lock:
            sids = list(self.seated)
        due: list[tuple[str, dict[str, Any]]] = []
        for sid in sids:
            seat = self.seat(sid)
            if seat is None:
                with self.lock:
                    self.seated.discard(sid)
                continue
            due.append((sid, seat))
        if not due:
            return 0
        checked = time.monotonic()
        left = 0
        for (sid, seat), reason in zip(due, self.verdicts(due), strict=True):
            current = self.seat(sid)
            if current is None or current["room"] != seat["room"]:
                continue  # it left or moved meanwhile
            if reason is None:
                self.save_seat(sid, {**current, "checked": max(checked, current.get("checked", checked))})
            else:
                self.leave_seat(sid, current)
                left += 1
        return left

    def recheck(self, sid: str, seat: dict[str, Any]) -> str | None:
        """The seat's periodic check (``verdicts``, one query): None and the check's
        time saved when it holds; else why not, and the socket is out of the call (the others hear
        ``call:peer-left``), so it neither sends nor receives its signals any more."""
        checked = time.monotonic()
        [reason] = self.verdicts([(sid, seat)])
        if reason is None:
            self.save_seat(sid, {**seat, "checked": checked})
        else:
            self.leave_seat(sid, seat)
        return reason

    @staticmethod
    def verdicts(seats: list[tuple[str, dict[str, Any]]]) -> list[str | None]:
        """Whether each (sid, seat) still holds (``telemedicine.seats_hold``: one query for all),
        as ``seats_hold`` answers; ``login`` for a socket whose login is gone or another user's.
        Commits: the login sessions' last use, at most once a minute each."""
        logins = [login_of(NAMESPACE, sid) for sid, _seat in seats]
        asked = [telemedicine.SeatLogin(login[0], login[1], seat["appointment_id"], seat["role"])
                 for (_sid, seat), login in zip(seats, logins, strict=True)
                 if login is not None and login[0] == seat["user_id"]]
        try:
            answers = iter(telemedicine.seats_hold(db.session, asked, _now()))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        return [next(answers) if login is not None and login[0] == seat["user_id"] else "login"
                for (_sid, seat), login in zip(seats, logins, strict=True)]

    @staticmethod
    def bad_shape(data: Any) -> str | None:
        """Why a signal's message is malformed (a reason code), or None."""
        if not isinstance(data, dict):
            return "malformed"
        appointment_id, to = data.get("appointment_id"), data.get("to")
        if not isinstance(appointment_id, int) or isinstance(appointment_id, bool):
            return "malformed"
        if not isinstance(to, str) or not 0 < len(to) <= 64 or "data" not in data or data["data"] is None:
            return "malformed"
        if data.get("kind") not in SIGNAL_KINDS:
            return "unknown_kind"
        try:
            size = len(json.dumps(data["data"], ensure_ascii=False).encode())
        except (TypeError, ValueError):
            return "malformed"
        return "too_large" if size > MAX_SIGNAL_BYTES else None

    def leave(self, data: Any) -> dict[str, Any]:
        sid: str = request.sid  # type: ignore[attr-defined]
        seat = self.seat(sid)
        appointment_id = _appointment_id(data)
        if seat is None or (appointment_id is not None and appointment_id != seat["appointment_id"]):
            return {"ok": True, "left": False}
        end = isinstance(data, dict) and data.get("end") is True
        ended = False
        if end and seat["role"] == "doctor":
            user = _current_user(NAMESPACE)
            try:
                telemedicine.end_call(db.session, seat["appointment_id"], user, _now(),
                                      recording_retention_days=video_recording.retention_days(current_app.config))
                db.session.commit()
                ended = True
            except CallRefused as refused:
                db.session.rollback()
                return self.refuse(user, "call:leave", seat["appointment_id"], refused.reason, refused.message)
        self.leave_seat(sid, seat)
        if ended:
            self.close_call(seat["appointment_id"], seat["room"])
        return {"ok": True, "left": True, "ended": ended}

    def close_call(self, appointment_id: int, room: str) -> None:
        """The call ended: everyone in its two rooms hears ``call:ended`` and is out of them (in
        every process: the room's closing goes through the message queue like an event), so no
        signal passes in that call any more until a new ``call:join`` (the doctor may open it again)."""
        for each in (room, wait_room(room)):
            self.server.emit("call:ended", {"appointment_id": appointment_id}, to=each, namespace=NAMESPACE)
            for sid in self.members(each):
                self.save_seat(sid, None)
            self.server.close_room(each, namespace=NAMESPACE)

    def withdraw(self, user_id: int, appointment_id: int) -> int:
        """A guest's invitation was withdrawn: the sockets of that login (this process's) seated in
        the call leave it at once (the others hear ``call:peer-left``, the guest ``call:ended``);
        how many. Elsewhere the seat's next check does it (``RECHECK_SECONDS``)."""
        count = 0
        for sid in self.members(f"user:{user_id}"):
            seat = self.seat(sid)
            if seat is not None and seat["appointment_id"] == appointment_id and seat["user_id"] == user_id:
                self.leave_seat(sid, seat)
                self.server.emit("call:ended", {"appointment_id": appointment_id}, to=sid, namespace=NAMESPACE)
                count += 1
        return count

    def leave_seat(self, sid: str, seat: dict[str, Any]) -> None:
        """``sid`` out of the call's rooms; the others hear ``call:peer-left``."""
        room = seat["room"]
        for each in (room, wait_room(room)):
            self.server.leave_room(sid, each, namespace=NAMESPACE)
        self.server.emit("call:peer-left", {"sid": sid, "role": seat["role"]}, to=room, skip_sid=sid,
                         namespace=NAMESPACE)
        self.save_seat(sid, None)

    def disconnected(self) -> None:
        """Called from the connection's disconnect handler (``events``), while its session lasts."""
        sid: str = request.sid  # type: ignore[attr-defined]
        with self.lock:
            self.seated.discard(sid)
        try:
            seat = self.seat(sid)
            if seat is not None:
                self.server.leave_room(sid, seat["room"], namespace=NAMESPACE)
                self.server.leave_room(sid, wait_room(seat["room"]), namespace=NAMESPACE)
                self.server.emit("call:peer-left", {"sid": sid, "role": seat["role"]}, to=seat["room"],
                                 skip_sid=sid, namespace=NAMESPACE)
        except Exception:  # noqa: BLE001 - a disconnect never fails
            log.exception("call:peer-left of %s not sent", sid)


def withdraw_seats(user_id: int, appointment_id: int) -> int:
    """``Calls.withdraw`` on the current app's Socket.IO server (0 without one)."""
    from flask import has_app_context

    calls = current_app.extensions.get("video_calls") if has_app_context() else None
    return calls.withdraw(user_id, appointment_id) if isinstance(calls, Calls) else 0


def register(socketio: SocketIO) -> Calls:
    from app.logging_setup import socket_context

    calls = Calls(socketio)

    def join(data: Any = None) -> Any:
        with socket_context("call:join"):
            return calls.join(data)

    def admit(data: Any = None) -> Any:
        with socket_context("call:admit"):
            return calls.admit(data)

    def leave(data: Any = None) -> Any:
        with socket_context("call:leave"):
            return calls.leave(data)

    socketio.on_event("call:join", join)
    socketio.on_event("call:admit", admit)
    # The relay's hot path: no context of its own (a refusal it logs names its socket and room).
    socketio.on_event("call:signal", lambda data=None: calls.signal(data))
    socketio.on_event("call:leave", leave)
    return calls
