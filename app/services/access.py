"""Who may read a patient's records: the one access helper every entry point goes through (the
generated screens and REST API through ``app.fab.interface.ClinicInterface``, the pickers through
``app.services.lookup``, attachment files, the patient portal).

The rules (issue 8, "care-team access"):

* a patient reaches only their own records (the login linked to the patient record);
* a doctor (the login linked to a ``Doctor``) reads the clinical record of a patient they have an
  appointment (not cancelled) or an encounter with, past, today or upcoming;
* a pharmacist reads prescriptions once they are issued to the pharmacy (not drafts): dispensing
  is their part of the patient's care;
* lab staff (role ``Lab``) read lab orders that were ordered and not cancelled, and their results:
  collecting the sample and entering results is their part of the care;
* anyone else whose role reads clinical records (an admin, a doctor outside the care team) must
  *break the glass*: state a reason and get that patient's record for ``BREAK_GLASS_MINUTES``;
  every such grant is listed for managers (``break_glass_log``) and in the audit trail;
* invoices: staff whose role reads invoices read them all, as before; a patient only their own.

Every read of one record, every list of patient-owned records and every refusal leaves an audit
row (``read``, ``denied``, ``break_glass``) through ``app.audit.record_event``.

Plain functions with explicit arguments (session, user, patient id, now); nothing here reads the
request. ``user`` is the login (anything with ``id`` and ``roles``, each role with a ``name``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import CompoundSelect, Select, false, or_, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.audit import record_event
from app.models import (
    Appointment,
    Attachment,
    CareAccessGrant,
    Diagnosis,
    Doctor,
    Encounter,
    EncounterAmendment,
    Invoice,
    InvoiceLine,
    LabOrder,
    LabResult,
    Patient,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    VideoRecording,
)
from app.services.errors import Forbidden, NotFound, ValidationFailed
from app.services.roles import is_staff, role_names

# The clinical record: read by the care team, by others only after breaking the glass.
# A video visit's recording (issue 15) is played back under the same rule.
CLINICAL_MODELS: tuple[type, ...] = (Encounter, Diagnosis, LabOrder, LabResult, Attachment, Prescription,
                                     PrescriptionItem, EncounterAmendment, VideoRecording)
# Every model whose reads are checked and audited here (a later issue adds its own: see tests/test_access.py).
# Money: staff whose role reads billing read it all; a patient only their own.
# Reviews (issue 14) follow the same rule: staff whose role reads them (moderation), a patient their own.
BILLING_MODELS: tuple[type, ...] = (Invoice, InvoiceLine, Payment, Refund, Review)
PATIENT_OWNED: tuple[type, ...] = (*CLINICAL_MODELS, *BILLING_MODELS)
# Records that reach their patient through a parent record: (foreign key to the parent, parent model).
PARENTS: dict[type, tuple[Any, type]] = {
    Diagnosis: (Diagnosis.encounter_id, Encounter),
    LabResult: (LabResult.lab_order_id, LabOrder),
    PrescriptionItem: (PrescriptionItem.prescription_id, Prescription),
    EncounterAmendment: (EncounterAmendment.encounter_id, Encounter),
    InvoiceLine: (InvoiceLine.invoice_id, Invoice),
    Payment: (Payment.invoice_id, Invoice),
    Refund: (Refund.invoice_id, Invoice),
}
REASON_MAX = 500
REASON_MIN = 5


class CareAccessDenied(Forbidden):
    """A record of a patient outside the reader's care: 403, with the way to break the glass."""

    def __init__(self, message: str, patient_id: int | None):
        super().__init__(message)
        self.patient_id = patient_id


def _doctor_ids(user_id: int) -> Select:
    return select(Doctor.id).where(Doctor.user_id == user_id)


def care_patients(user: Any, now: datetime) -> CompoundSelect:
    """The ids of the patients whose clinical record ``user`` reads at ``now`` (a SELECT to use
    as a subquery): their own patient record, the patients of their appointments and encounters
    as a doctor, and the patients of their unexpired break-the-glass grants."""
    user_id = user.id
    doctors = _doctor_ids(user_id)
    return union(
        select(Patient.id).where(Patient.user_id == user_id),
        select(Appointment.patient_id).where(Appointment.doctor_id.in_(doctors), Appointment.status != "cancelled"),
        select(Encounter.patient_id).where(Encounter.doctor_id.in_(doctors)),
        select(CareAccessGrant.patient_id).where(CareAccessGrant.user_id == user_id,
                                                 CareAccessGrant.expires_at > now),
    )


def own_patients(user: Any) -> Select:
    return select(Patient.id).where(Patient.user_id == user.id)


def _of_patients(model: type, patients: Any) -> ColumnElement:
    """Rows of ``model`` whose patient is among ``patients`` (a subquery of ids)."""
    parent = PARENTS.get(model)
    if parent is None:
        return model.patient_id.in_(patients)  # type: ignore[attr-defined]
    key, parent_model = parent
    return key.in_(select(parent_model.id).where(parent_model.patient_id.in_(patients)))  # type: ignore[attr-defined]


def _issued_prescriptions(model: type) -> ColumnElement:
    issued = Prescription.status != "draft"
    if model is Prescription:
        return issued
    return PrescriptionItem.prescription_id.in_(select(Prescription.id).where(issued))


LAB_ROLE = "Lab"


def _active_lab_orders(model: type) -> ColumnElement:
    active = LabOrder.status != "cancelled"
    if model is LabOrder:
        return active
    return LabResult.lab_order_id.in_(select(LabOrder.id).where(active))


def readable_condition(user: Any, model: type, now: datetime) -> ColumnElement | None:
    """The SQL condition limiting ``model``'s rows to those ``user`` may read, or None when the
    rows are not limited (a model that is not patient-owned, or staff reading invoices).
    Nobody at all (no user): nothing."""
    if model not in PATIENT_OWNED:
        return None
    if user is None:
        return false()
    if model in BILLING_MODELS:
        return None if is_staff(role_names(user)) else _of_patients(model, own_patients(user))
    condition = _of_patients(model, care_patients(user, now))
    if "Pharmacist" in role_names(user) and model in (Prescription, PrescriptionItem):
        condition = or_(condition, _issued_prescriptions(model))
    if LAB_ROLE in role_names(user) and model in (LabOrder, LabResult):
        condition = or_(condition, _active_lab_orders(model))
    return condition


def patient_id_of(session: Session, record: Any) -> int | None:
    """The patient a patient-owned record belongs to."""
    parent = PARENTS.get(type(record))
    if parent is None:
        return getattr(record, "patient_id", None)
    key, parent_model = parent
    owner: Any = parent_model
    return session.execute(select(owner.patient_id).where(owner.id == getattr(record, key.key))).scalar_one_or_none()


def in_care(session: Session, user: Any, patient_id: int, now: datetime) -> bool:
    """Whether ``user`` reads ``patient_id``'s clinical record at ``now`` (care team, own record,
    or an unexpired grant)."""
    if user is None:
        return False
    found = session.execute(select(Patient.id).where(Patient.id == patient_id,
                                                     Patient.id.in_(care_patients(user, now)))).first()
    return found is not None


def may_read(session: Session, user: Any, record: Any, now: datetime) -> bool:
    model = type(record)
    if model not in PATIENT_OWNED:
        return True
    if user is None:
        return False
    if model in BILLING_MODELS:
        return is_staff(role_names(user)) or patient_id_of(session, record) in set(
            session.execute(own_patients(user)).scalars())
    if "Pharmacist" in role_names(user) and model in (Prescription, PrescriptionItem):
        prescription = record if model is Prescription else session.get(Prescription, record.prescription_id)
        if prescription is not None and prescription.status != "draft":
            return True
    if LAB_ROLE in role_names(user) and model in (LabOrder, LabResult):
        order = record if model is LabOrder else session.get(LabOrder, record.lab_order_id)
        if order is not None and order.status != "cancelled":
            return True
    patient_id = patient_id_of(session, record)
    return patient_id is not None and in_care(session, user, patient_id, now)


def open_record(session: Session, user: Any, record: Any, now: datetime) -> None:
    """Check that ``user`` may read ``record`` and leave the audit row: ``read`` when allowed,
    ``denied`` (then ``CareAccessDenied``) when not. Commits the row itself: a refusal's row must
    outlive the error answer, which rolls the request's session back."""
    model = type(record)
    if model not in PATIENT_OWNED:
        return
    patient_id = patient_id_of(session, record)
    details = {"patient_id": patient_id}
    if not may_read(session, user, record, now):
        record_event(session, "denied", model.__name__, record.id, details, getattr(user, "id", None))
        session.commit()
        raise CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)
    record_event(session, "read", model.__name__, record.id, details, getattr(user, "id", None))
    session.commit()


def open_chart(session: Session, user: Any, patient_id: int, now: datetime) -> Patient:
    """The patient whose chart (their whole clinical record on one page) ``user`` opens at ``now``:
    the care-team rule as for one record (``in_care``), and one audit row: ``read`` (entity
    ``Patient``, ``{"patient_id", "view": "chart"}``) or ``denied`` and then ``CareAccessDenied``.
    ``NotFound`` when there is no such patient. Commits the row (see ``open_record``)."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(_("There is no record with id %(id)s.", id=patient_id))
    details = {"patient_id": patient_id, "view": "chart"}
    if not in_care(session, user, patient_id, now):
        record_event(session, "denied", "Patient", patient_id, details, getattr(user, "id", None))
        session.commit()
        raise CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)
    record_event(session, "read", "Patient", patient_id, details, getattr(user, "id", None))
    session.commit()
    return patient


def _new_patient_id(session: Session, record: Any) -> int | None:
    """The patient of a record being written (its keys may not be set yet, only its relationships)."""
    parent = PARENTS.get(type(record))
    if parent is None:
        patient = getattr(record, "patient", None)
        return patient.id if patient is not None else getattr(record, "patient_id", None)
    key, parent_model = parent
    owner = getattr(record, key.key.removesuffix("_id"), None)
    if owner is None and getattr(record, key.key, None) is not None:
        owner = session.get(parent_model, getattr(record, key.key))
    return getattr(owner, "patient_id", None) if owner is not None else None


def check_write(session: Session, user: Any, record: Any, now: datetime, new: bool) -> None:
    """Writing a clinical record needs the same access as reading the patient's record, with one
    exception: a doctor opening a new encounter of their own (a visit starts the care relationship,
    as booking an appointment does; both are audited as the creation of a record). A refusal
    rolls the session back, leaves a ``denied`` row and raises ``CareAccessDenied``."""
    model = type(record)
    if model not in CLINICAL_MODELS or user is None:
        return
    if model is Encounter and new:
        doctor = getattr(record, "doctor", None)
        doctor_user = doctor.user_id if doctor is not None else session.execute(
            select(Doctor.user_id).where(Doctor.id == record.doctor_id)).scalar_one_or_none()
        if doctor_user is not None and doctor_user == user.id:
            return
    patient_id = _new_patient_id(session, record)
    if patient_id is None or in_care(session, user, patient_id, now):
        return  # no patient yet: the record's own validation refuses it
    session.rollback()
    record_denial(session, user, model.__name__, getattr(record, "id", None), {"patient_id": patient_id,
                                                                             "write": True})
    raise CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)


def record_list_read(session: Session, user: Any, model: type, records: Iterable[Any]) -> None:
    """One audit row for a list of patient-owned records: the ids shown and their patients."""
    ids = [record.id for record in records]
    if model not in PATIENT_OWNED or not ids:
        return
    patients = sorted({patient for patient in session.execute(_patient_ids(model, ids)).scalars()})
    record_event(session, "read", model.__name__, None, {"ids": ids, "patients": patients},
                 getattr(user, "id", None))
    session.commit()


def _patient_ids(model: type, ids: list[int]) -> Select:
    parent = PARENTS.get(model)
    if parent is None:
        return select(model.patient_id).where(model.id.in_(ids))  # type: ignore[attr-defined]
    key, parent_model = parent
    return (select(parent_model.patient_id).join(model, key == parent_model.id)  # type: ignore[attr-defined]
            .where(model.id.in_(ids)))  # type: ignore[attr-defined]


def record_denial(session: Session, user: Any, entity: str, entity_id: Any, details: dict | None = None) -> None:
    """A refused read outside the generated screens (a portal URL, a file): the audit row, committed."""
    record_event(session, "denied", entity, entity_id, details, getattr(user, "id", None))
    session.commit()


# --- break the glass ------------------------------------------------------------------------

def break_glass(session: Session, user: Any, patient_id: int, reason: str | None, now: datetime,
                minutes: int) -> CareAccessGrant:
    """Give ``user`` the clinical record of ``patient_id`` for ``minutes``, for the stated
    ``reason`` (required). Audited as ``break_glass`` and listed for managers. Commits."""
    text = " ".join((reason or "").split())
    if len(text) < REASON_MIN:
        raise ValidationFailed(_("State why you need this record (at least %(n)s characters).", n=REASON_MIN),
                               "reason")
    if len(text) > REASON_MAX:
        raise ValidationFailed(_("At most %(n)s characters.", n=REASON_MAX), "reason")
    if session.get(Patient, patient_id) is None:
        raise NotFound(_("There is no record with id %(id)s.", id=patient_id))
    grant = CareAccessGrant(user_id=user.id, patient_id=patient_id, reason=text, granted_at=now,
                            expires_at=now + timedelta(minutes=minutes))
    session.add(grant)
    session.flush()
    record_event(session, "break_glass", "Patient", patient_id,
                 {"reason": text, "grant_id": grant.id, "expires_at": grant.expires_at.isoformat()}, user.id)
    session.commit()
    return grant


@dataclass(frozen=True)
class GlassBreak:
    """One line of the managers' list."""

    id: int
    user: str
    patient: str
    patient_id: int
    reason: str
    granted_at: datetime
    expires_at: datetime
    active: bool


def break_glass_log(session: Session, now: datetime, limit: int = 200) -> list[GlassBreak]:
    """Break-the-glass grants, newest first: who, which patient, why, when, until when."""
    rows = session.execute(
        select(CareAccessGrant, Patient).join(Patient, Patient.id == CareAccessGrant.patient_id)
        .order_by(CareAccessGrant.granted_at.desc(), CareAccessGrant.id.desc()).limit(limit)
    ).all()
    result = []
    for grant, patient in rows:
        user = grant.user
        name = " ".join(part for part in (user.first_name, user.last_name) if part) if user else ""
        result.append(GlassBreak(
            id=grant.id, user=f"{name} ({user.username})" if user else "", patient=str(patient),
            patient_id=patient.id, reason=grant.reason, granted_at=grant.granted_at,
            expires_at=grant.expires_at, active=grant.expires_at > now,
        ))
    return result


def patient_for_glass(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(_("There is no record with id %(id)s.", id=patient_id))
    return patient
