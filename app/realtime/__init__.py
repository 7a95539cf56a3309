"""Live updates over Socket.IO (Flask-SocketIO: threading mode, or gevent mode under an event-loop
server such as ``gunicorn -k gevent``; ``async_mode`` below).

- ``events``: the handlers, thin. ``connect`` accepts a logged-in browser (the web session
  cookie) or a JWT (``auth={"token": ...}``) and puts the login in its own rooms
  (``app.services.realtime_access.own_rooms``); ``join``/``leave`` ask for more rooms, each checked
  by ``realtime_access.check_join`` (a refusal answers an ``refused`` event and leaves an audit row).
  The ``/display`` namespace is the waiting-room screens': no login, ``display:<department>`` rooms only.
- ``calls``: a video visit's signalling (``call:join``, ``call:admit``, ``call:signal``,
  ``call:leave``), each entry asked of ``app.services.telemedicine``.
- ``emit``: the one place events are sent from (``app.services.realtime_hooks`` calls it). With
  ``REDIS_URL`` every web process and RQ worker shares the Redis message queue, so an event sent
  anywhere reaches every client; without it, this process's clients only.

Events carry ids and display fields (times, a doctor's name, a patient's initials, a notification's
title for its own recipient), never clinical text."""
from __future__ import annotations

from typing import Any

from flask import Flask


def _register_rules() -> None:
    """The room rules of other modules (idempotent: a later registration replaces the same rule)."""
    from app.services import chat, log_events, realtime_access

    realtime_access.register_room_rule("conversation", chat.conversation_room_rule)
    realtime_access.register_room_rule("logtail", log_events.tail_room_rule)


ASYNC_MODES = ("auto", "threading", "gevent")


def async_mode(config: Any) -> str:
    """Flask-SocketIO's mode: ``SOCKETIO_ASYNC_MODE``; ``auto`` (the default) is ``gevent`` when
    this process runs on gevent's event loop (its sockets monkey-patched, as ``gunicorn -k gevent``
    does before loading the app), else ``threading`` (one thread per connection: Werkzeug's
    server, ``run.py``, gunicorn's ``gthread``, the tests)."""
    import sys

    wanted = str(config.get("SOCKETIO_ASYNC_MODE") or "auto").strip().lower()
    if wanted not in ASYNC_MODES:
        raise ValueError(f"SOCKETIO_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {wanted!r}")
    if wanted != "auto":
        return wanted
    monkey = sys.modules.get("gevent.monkey")  # never imported here: only a gevent server has it
    return "gevent" if monkey is not None and monkey.is_module_patched("socket") else "threading"


def socketio_options(config: Any) -> dict[str, Any]:
    """``socketio.init_app``'s options from the configuration."""
    return {
        "async_mode": async_mode(config),
        "message_queue": config.get("REDIS_URL") or None,
        "channel": config.get("SOCKETIO_CHANNEL") or "flask-socketio",
        "cors_allowed_origins": config.get("SOCKETIO_CORS_ORIGINS") or [],
        "ping_interval": int(config.get("SOCKETIO_PING_INTERVAL", 25)),
        "max_http_buffer_size": int(config.get("SOCKETIO_MAX_MESSAGE_BYTES", 72 * 1024)),
    }


class WithoutDeflate:
    """WSGI middleware: the Socket.IO WebSocket declines permessage-deflate (RFC 7692 lets a server
    ignore the offer, which every browser makes). Our events are ids of a few dozen bytes, which
    deflate cannot shrink, while each compressed connection keeps its own zlib state (about 90 KB)
    and compresses every broadcast once per client; uncompressed, a broadcast's frame is the same
    cheap bytes for every client."""

    def __init__(self, wsgi_app: Any, path: str = "/socket.io") -> None:
        self.wsgi_app = wsgi_app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "HTTP_SEC_WEBSOCKET_EXTENSIONS" in environ and environ.get("PATH_INFO", "").startswith(self.path):
            del environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"]
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Give this app its own Socket.IO server with the handlers (``app.extensions["socketio"]``;
    its server also as ``app.extensions["realtime_server"]``, which ``emit`` sends through)."""
    from flask_socketio import SocketIO

    from app.realtime import calls, events, vendor

    socketio = SocketIO()
    video_calls = calls.register(socketio)
    events.register(socketio, on_disconnect=video_calls.disconnected)
    socketio.init_app(app, **socketio_options(app.config))
    video_calls.install_fast_signal()
    app.wsgi_app = WithoutDeflate(app.wsgi_app)  # type: ignore[method-assign]
    _register_rules()
    app.extensions["realtime_server"] = socketio.server
    app.extensions["video_calls"] = video_calls  # a withdrawn guest leaves the call (calls.withdraw_seats)
    vendor.register(app)  # /static-vendor/socket.io.min.js
    app.context_processor(lambda: {"realtime_on": realtime_on, "realtime_last_id": realtime_last_id})


def realtime_last_id() -> int:
    """The newest notification the page is rendered with: later ones get a toast, once."""
    from flask_login import current_user

    from app.extensions import db
    from app.services.notifications import latest_id

    return latest_id(db.session, current_user.id)


def realtime_on() -> bool:
    """Whether a page loads the live-update client: a logged-in user, except one who must still
    turn on two-step login (the socket and the catch-up API refuse them until then)."""
    from flask_login import current_user

    from app.views.two_factor import must_enrol

    return bool(getattr(current_user, "is_authenticated", False)) and not must_enrol(current_user)
