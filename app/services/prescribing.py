"""Prescribing in the visit (issue 9, item 5)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Encounter


def issue_for_encounter(session: Session, encounter: Encounter, actor_id: int | None, now: datetime) -> None:
    """Called by signing (``app.services.encounters``) in the signing transaction, no commit: the
    encounter's draft prescription, if any, is issued to the pharmacy queue."""
