"""The one place live events are sent from. Each send is logged and swallowed on failure: a push
that cannot go out never fails the change that caused it."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

MAIN = "/"
DISPLAY = "/display"  # the waiting-room screens (no login)


def _server() -> Any | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.extensions.get("realtime_server")


def send(event: str, payload: dict[str, Any], rooms: Iterable[str]) -> int:
    """Send ``event`` to each room (``display:*`` rooms on the display namespace); how many rooms
    it went to. Never raises."""
    sent = 0
    try:
        server = _server()
        if server is None:
            return 0
        for room in dict.fromkeys(rooms):
            namespace = DISPLAY if room.startswith("display:") else MAIN
            try:
                server.emit(event, payload, to=room, namespace=namespace)
                sent += 1
            except Exception:  # noqa: BLE001 - one room failing does not stop the others
                log.exception("live event %s to %s not sent", event, room)
    except Exception:  # noqa: BLE001
        log.exception("live event %s not sent", event)
    return sent
