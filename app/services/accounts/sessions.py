"""Login sessions that can be ended. Placeholder interface: the real store lands with the sessions work."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def end_user_sessions(session: Session, user_id: int, now: datetime, keep_session_id: str | None = None) -> int:
    """End every session and refresh-token family of ``user_id`` except ``keep_session_id``;
    the number ended. The caller commits."""
    return 0
