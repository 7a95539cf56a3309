"""Probes behind ``GET /health``."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping_database(session: Session) -> str:
    """One round trip to the database; raises what the driver raises when it cannot answer."""
    session.execute(text("SELECT 1"))
    return "ok"
