"""The Socket.IO handlers: authenticate, put the client in its rooms, answer join and leave.
Thin: who may join what is ``app.services.realtime_access``."""
from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_socketio import SocketIO, emit, join_room, leave_room

from app.extensions import db
from app.services import realtime_access as access
from app.services.realtime_access import RoomRefused

log = logging.getLogger(__name__)

# sid -> user id of the clients of this process (None: an anonymous display screen)
_users: dict[tuple[str, str], int | None] = {}
_lock = threading.Lock()


def _token_user(token: str) -> Any | None:
    """The user of a live access token (its session not ended), else None."""
    import jwt as pyjwt
    from flask_jwt_extended import decode_token

    try:
        data = decode_token(token)
        header = pyjwt.get_unverified_header(token)
    except Exception:  # noqa: BLE001 - forged, expired or malformed: not logged in
        return None
    if data.get("type") != "access":
        return None
    return current_app.appbuilder.sm.load_user_jwt(header, data)


def authenticate(auth: Any) -> Any | None:
    """The connecting user: a JWT in ``auth={"token": ...}``, else the web session's login.
    None when neither, or when their role needs two-step login they have not turned on."""
    from flask_login import current_user

    user = None
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        user = _token_user(token)
    elif getattr(current_user, "is_authenticated", False):
        user = current_user._get_current_object()
        from app.views.two_factor import must_enrol

        if must_enrol(user):
            user = None
    return user


def _remember(namespace: str, user_id: int | None) -> None:
    with _lock:
        _users[(namespace, request.sid)] = user_id  # type: ignore[attr-defined]


def _forget(namespace: str) -> None:
    with _lock:
        _users.pop((namespace, request.sid), None)  # type: ignore[attr-defined]


def _current_user(namespace: str) -> Any | None:
    """The connection's user, loaded again for this event (``g.user`` set for the audit trail)."""
    from flask_appbuilder.security.sqla.models import User

    with _lock:
        user_id = _users.get((namespace, request.sid))  # type: ignore[attr-defined]
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is not None and not user.active:
        user = None
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


def register(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def connect(auth: Any = None) -> bool:
        user = authenticate(auth)
        if user is None:
            db.session.rollback()
            return False  # the client gets connect_error: log in first
        g.user = user
        rooms = access.own_rooms(db.session, user)
        db.session.rollback()
        _remember("/", user.id)
        for room in rooms:
            join_room(room)
        emit("ready", {"user_id": user.id, "rooms": rooms})
        return True

    @socketio.on("disconnect")
    def disconnect(*_args: Any) -> None:
        _forget("/")

    @socketio.on("join")
    def join(data: Any = None) -> dict[str, Any]:
        return _join("/", data, public_only=False)

    @socketio.on("leave")
    def leave(data: Any = None) -> dict[str, Any]:
        return _leave("/", data)

    @socketio.on("connect", namespace="/display")
    def connect_display(auth: Any = None) -> bool:
        user = authenticate(auth)
        db.session.rollback()
        _remember("/display", getattr(user, "id", None))
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
