"""The diagnoses of a visit (issue 9, items 2 and 3): ICD-10 codes from the code table, each with
its title as written at the time (the title in the doctor's language, or the doctor's own wording),
primary or secondary.

Rules, whatever the entry point (the visit page, the REST API):
- only on an encounter the user may change now (``encounters.editable_encounter``: a draft, by its
  author);
- the code must be in the ICD-10 table (422 naming ``icd10_code``);
- one code once per visit (409), at most one primary diagnosis: making one primary makes the
  other secondary. The database holds both rules too (``uq_diagnosis_encounter_code`` and the
  partial unique index ``uq_diagnosis_one_primary``), so two tabs saving at once cannot break them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Diagnosis
from app.services import encounters, icd10, validation as v
from app.services.errors import Conflict, NotFound, ValidationFailed, committing

TEXT_MAX = 300


def list_diagnoses(session: Session, encounter_id: int, user: Any, now: datetime) -> list[Diagnosis]:
    """The visit's diagnoses, primary first, then in the order they were added (read audited)."""
    encounters.open_encounter(session, encounter_id, user, now)
    return diagnoses_of(session, encounter_id)


def diagnoses_of(session: Session, encounter_id: int) -> list[Diagnosis]:
    """The diagnoses of an encounter already opened by the caller, primary first."""
    return list(session.execute(
        select(Diagnosis).where(Diagnosis.encounter_id == encounter_id)
        .order_by(Diagnosis.is_primary.desc(), Diagnosis.id)).scalars())


def _known_code(session: Session, code: str | None) -> icd10.Icd10Code:
    if not icd10.normalize_code(code):
        raise ValidationFailed(_("This field is required."), "icd10_code")
    entry = icd10.get(session, code)
    if entry is None:
        raise ValidationFailed(_("Unknown ICD-10 code: it is not in the code table."), "icd10_code")
    return entry


def _demote_others(session: Session, encounter_id: int, keep_id: int | None) -> None:
    """Make every other primary diagnosis of the visit secondary, written before the new primary
    (the partial unique index checks each statement)."""
    others = session.execute(select(Diagnosis).where(
        Diagnosis.encounter_id == encounter_id, Diagnosis.is_primary.is_(True))).scalars()
    changed = False
    for other in others:
        if other.id != keep_id:
            other.is_primary = False
            changed = True
    if changed:
        session.flush()


def add_diagnosis(session: Session, encounter_id: int, code: str | None, is_primary: bool, user: Any,
                  now: datetime, *, text: str | None = None, language: str | None = None) -> Diagnosis:
    """Add a diagnosis to a draft visit and commit. ``text`` is the doctor's wording; without it,
    the code's title in ``language`` (the doctor's) is kept as written now."""
    encounter = encounters.editable_encounter(session, encounter_id, user, now)
    entry = _known_code(session, code)
    wording = v.require_text("text", text, TEXT_MAX) if text is not None and text.strip() else \
        icd10.title(entry, language)[:TEXT_MAX]
    with committing(session):
        duplicate = session.execute(select(Diagnosis.id).where(
            Diagnosis.encounter_id == encounter.id, Diagnosis.icd10_code == entry.code)).first()
        if duplicate is not None:
            raise Conflict(_("%(code)s is already a diagnosis of this visit.", code=entry.code), "icd10_code")
        if is_primary:
            _demote_others(session, encounter.id, None)
        diagnosis = Diagnosis(encounter_id=encounter.id, icd10_code=entry.code, text=wording,
                              is_primary=bool(is_primary))
        session.add(diagnosis)
    return diagnosis


def _diagnosis_of(session: Session, encounter_id: int, diagnosis_id: int) -> Diagnosis:
    diagnosis = session.get(Diagnosis, diagnosis_id)
    if diagnosis is None or diagnosis.encounter_id != encounter_id:
        raise NotFound(_("This visit has no such diagnosis."))
    return diagnosis


def update_diagnosis(session: Session, encounter_id: int, diagnosis_id: int, user: Any, now: datetime, *,
                     is_primary: bool | None = None, text: str | None = None) -> Diagnosis:
    """Make a diagnosis of a draft visit primary or secondary, or change its wording; commit."""
    encounters.editable_encounter(session, encounter_id, user, now)
    diagnosis = _diagnosis_of(session, encounter_id, diagnosis_id)
    with committing(session):
        if text is not None:
            diagnosis.text = v.require_text("text", text, TEXT_MAX)
        if is_primary is not None and is_primary != diagnosis.is_primary:
            if is_primary:
                _demote_others(session, encounter_id, diagnosis.id)
            diagnosis.is_primary = is_primary
    return diagnosis


def remove_diagnosis(session: Session, encounter_id: int, diagnosis_id: int, user: Any, now: datetime) -> None:
    """Take a diagnosis off a draft visit (the audit trail keeps the row's removal); commit."""
    encounters.editable_encounter(session, encounter_id, user, now)
    diagnosis = _diagnosis_of(session, encounter_id, diagnosis_id)
    with committing(session):
        session.delete(diagnosis)


def validate_generic_diagnosis(session: Session, diagnosis: Diagnosis) -> None:
    """The rules of a diagnosis written through the generic screen or REST resource (``records.
    validate_diagnosis``): a code from the table, once per visit, one primary. Does not commit."""
    entry = _known_code(session, diagnosis.icd10_code)
    diagnosis.icd10_code = entry.code
    encounter_id = diagnosis.encounter_id if diagnosis.encounter_id is not None else \
        getattr(diagnosis.encounter, "id", None)
    if encounter_id is None:
        return
    with session.no_autoflush:
        same = select(Diagnosis.id).where(Diagnosis.encounter_id == encounter_id)
        if diagnosis.id is not None:
            same = same.where(Diagnosis.id != diagnosis.id)
        if session.execute(same.where(Diagnosis.icd10_code == entry.code)).first() is not None:
            raise ValidationFailed(_("%(code)s is already a diagnosis of this visit.", code=entry.code),
                                   "icd10_code")
        if diagnosis.is_primary and session.execute(same.where(Diagnosis.is_primary.is_(True))).first():
            raise ValidationFailed(_("This visit already has a primary diagnosis: make that one secondary "
                                     "first."), "is_primary")
