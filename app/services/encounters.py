"""The encounter (the record of one visit): reading it through the access helper and the one
answer to "may this user change this encounter now?" that every section of the visit
(diagnoses, prescription, lab orders, files) asks before it writes.

A record is a draft until its doctor signs it; only the author (the login of the encounter's
doctor) changes a draft; a signed record is read-only for everyone (corrections are amendments).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Doctor, Encounter
from app.services import access
from app.services.errors import Conflict, Forbidden, NotFound


def load_encounter(session: Session, encounter_id: int) -> Encounter:
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound(_("No such visit."))
    return encounter


def open_encounter(session: Session, encounter_id: int, user: Any, now: datetime) -> Encounter:
    """The encounter, read through the care-team access helper (audited; 403 outside care)."""
    encounter = load_encounter(session, encounter_id)
    access.open_record(session, user, encounter, now)
    return encounter


def is_author(session: Session, encounter: Encounter, user: Any) -> bool:
    doctor = encounter.doctor if encounter.doctor is not None else session.get(Doctor, encounter.doctor_id)
    return user is not None and doctor is not None and doctor.user_id == user.id


def is_editable(session: Session, encounter: Encounter, user: Any) -> bool:
    return encounter.signed_at is None and is_author(session, encounter, user)


def check_editable(session: Session, encounter: Encounter, user: Any) -> None:
    """Refuse a change to ``encounter`` by ``user``: 409 once signed, 403 for anyone but the author."""
    if encounter.signed_at is not None:
        raise Conflict(_("This record is signed and can no longer be changed; add an amendment instead."))
    if not is_author(session, encounter, user):
        raise Forbidden(_("Only the doctor who wrote this record can change it."))


def editable_encounter(session: Session, encounter_id: int, user: Any, now: datetime) -> Encounter:
    """The encounter ``user`` is about to change: readable by them and still theirs to edit."""
    encounter = open_encounter(session, encounter_id, user, now)
    check_editable(session, encounter, user)
    return encounter
