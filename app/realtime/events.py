"""The Socket.IO handlers: authenticate, put the client in its rooms, answer join and leave.
Thin: who may join what is ``app.services.realtime_access``."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_socketio import SocketIO, emit, join_room, leave_room
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.logging_setup import socket_context
from app.services import realtime_access as access
from app.services.realtime_access import RoomRefused

log = logging.getLogger(__name__)

# (namespace, sid) -> (user id, login session id) of this process's clients (None: an anonymous screen)
_users: dict[tuple[str, str], tuple[int, str] | None] = {}
_lock = threading.Lock()


def _token_user(token: str) -> tuple[Any, str] | None:
    """The user of a live access token (its session not ended) and that session's id, else None."""
    import jwt as pyjwt
    from flask_jwt_extended import decode_token

    try:
        data = decode_token(token)
        header = pyjwt.get_unverified_header(token)
    except Exception:  # noqa: BLE001 - forged, expired or malformed: not logged in
        return None
    if data.get("type") != "access":
        return None
    try:
        user = current_app.appbuilder.sm.load_user_jwt(header, data)  # type: ignore[attr-defined]
    except HTTPException:  # a role that needs two-step login not turned on
        return None
    return (user, str(data["sid"])) if user is not None else None


def authenticate(auth: Any) -> tuple[Any, str] | None:
    """The connecting user and their login session: a JWT in ``auth={"token": ...}``, else the web
    session's login. None when neither, or when their role needs two-step login they have not
    turned on."""
    from flask_login import current_user

    from app import web_sessions

    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        return _token_user(token)
    if not getattr(current_user, "is_authenticated", False):
        return None
    user = current_user._get_current_object()
    session_id = web_sessions.current_session_id()
    from app.views.two_factor import must_enrol

    if session_id is None or must_enrol(user):
        return None
    return user, session_id


def _remember(namespace: str, login: tuple[Any, str] | None) -> None:
    with _lock:
        _users[(namespace, request.sid)] = (login[0].id, login[1]) if login else None  # type: ignore[attr-defined]


def _forget(namespace: str) -> None:
    with _lock:
        _users.pop((namespace, request.sid), None)  # type: ignore[attr-defined]


def login_of(namespace: str, sid: str) -> tuple[int, str] | None:
    """The (user id, login session id) a connection logged in with; None for a screen or a
    connection gone."""
    with _lock:
        return _users.get((namespace, sid))


def _current_user(namespace: str) -> Any | None:
    """The connection's user, loaded again for this event while their login session is live
    (``g.user`` set for the audit trail); None for a screen or an ended session."""
    with _lock:
        login = _users.get((namespace, request.sid))  # type: ignore[attr-defined]
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    user = sm._load_session_user(login[0], login[1]) if login else None
    g.user = user
    return user


REASONS = {
    "malformed": lambda: _("That is not a room name."),
    "login": lambda: _("Log in to receive these updates."),
    "not_yours": lambda: _("You may not receive these updates."),
    "unknown_kind": lambda: _("There are no such updates."),
}


def _refuse(namespace: str, user: Any | None, refused: RoomRefused) -> dict[str, Any]:
    try:
        access.record_refusal(db.session, getattr(user, "id", None), refused.room, refused.reason,
                              address=request.remote_addr)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the refusal stands even if its audit row could not be written
        db.session.rollback()
        log.exception("could not record the refused join of %s", refused.room)
    answer = {"ok": False, "room": refused.room, "reason": refused.reason, "message": REASONS[refused.reason]()}
    emit("refused", answer, namespace=namespace)
    return answer


def _join(namespace: str, data: Any, *, public_only: bool) -> dict[str, Any]:
    user = _current_user(namespace)
    name = data.get("room") if isinstance(data, dict) else data
    try:
        room = access.check_join(db.session, user, name)
        if public_only and room.kind not in access.PUBLIC_KINDS:
            raise RoomRefused(room.name, "unknown_kind")
        if not public_only and room.kind in access.PUBLIC_KINDS:
            raise RoomRefused(room.name, "unknown_kind")  # the screens' rooms are on /display
    except RoomRefused as refused:
        with socket_context("join", namespace):
            log.info("socket join refused: %s", refused.reason)
            return _refuse(namespace, user, refused)
    finally:
        db.session.rollback()
    join_room(room.name, namespace=namespace)
    return {"ok": True, "room": room.name}


def _leave(namespace: str, data: Any) -> dict[str, Any]:
    name = data.get("room") if isinstance(data, dict) else data
    if isinstance(name, str) and name:
        leave_room(name, namespace=namespace)
    return {"ok": True, "room": name if isinstance(name, str) else None}


def register(socketio: SocketIO, on_disconnect: Callable[[], None] | None = None) -> None:
    """The handlers; ``on_disconnect`` runs first when a default-namespace client goes (the calls'
    ``call:peer-left``)."""
    @socketio.on("connect")
    def connect(auth: Any = None) -> bool:
        with socket_context("connect"):
            login = authenticate(auth)
            if login is None:
                db.session.rollback()
                log.info("socket refused: not logged in")
                return False  # the client gets connect_error: log in first
            user = g.user = login[0]
            rooms = access.own_rooms(db.session, user)
            db.session.rollback()
            _remember("/", login)
            for room in rooms:
                join_room(room)
            emit("ready", {"user_id": user.id, "rooms": rooms})
            log.info("socket connected", extra={"rooms": len(rooms)})
            return True

    @socketio.on("disconnect")
    def disconnect(*_args: Any) -> None:
        with socket_context("disconnect"):
            if on_disconnect is not None:
                on_disconnect()
            _forget("/")
            log.debug("socket disconnected")

    @socketio.on("join")
    def join(data: Any = None) -> dict[str, Any]:
        return _join("/", data, public_only=False)

    @socketio.on("leave")
    def leave(data: Any = None) -> dict[str, Any]:
        return _leave("/", data)

    @socketio.on("connect", namespace="/display")
    def connect_display(auth: Any = None) -> bool:
        login = authenticate(auth)
        db.session.rollback()
        _remember("/display", login)
        return True

    @socketio.on("disconnect", namespace="/display")
    def disconnect_display(*_args: Any) -> None:
        _forget("/display")

    @socketio.on("join", namespace="/display")
    def join_display(data: Any = None) -> dict[str, Any]:
        return _join("/display", data, public_only=True)

    @socketio.on("leave", namespace="/display")
    def leave_display(data: Any = None) -> dict[str, Any]:
        return _leave("/display", data)
