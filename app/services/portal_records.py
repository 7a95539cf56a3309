"""The patient's own medical record in the portal (issue 9, item 9): signed visits, released
results and files. Read only.

What a patient sees, and what they never see:

* visits: only *signed* encounters (not drafts, not discarded ones), newest first, with the date,
  the doctor, the chief complaint, the diagnoses (code and title as written at the time), the
  treatment plan, the follow-up date and the issued prescriptions of the visit (signing issues
  them; not drafts, not cancelled ones) with their items. Never the doctor's ``private_notes``
  (kept for that purpose), nor the history, examination and vital signs, which are the doctor's
  working notes: none of them is copied into what these functions return;
* results: only results *released to the patient* whose status is final or corrected, with value,
  unit, reference range and flag;
* files: attachments of the patient's own record, of their signed visits and of lab orders with a
  released result.

Every function takes the portal's patient id *and* the login: a row must belong to that patient
and pass ``app.services.access`` (``readable_condition`` in the query, ``open_record`` for one
record, ``record_list_read`` for lists: each read leaves its audit row). Any other id (another
patient's record, a draft, an unreleased result) is ``NotFound``, never "forbidden", so that the
answer tells nothing about what exists; the attempt leaves a ``denied`` audit row.

Queries are bounded: a page of visits, at most ``MAX_RESULTS`` results and ``MAX_FILES`` files, a
fixed number of statements per page (relationships loaded with ``selectinload``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    Attachment,
    Diagnosis,
    Doctor,
    Encounter,
    LabOrder,
    LabResult,
    Patient,
    Prescription,
    PrescriptionItem,
)
from app.services import access
from app.services.errors import NotFound

PAGE_SIZE = 20
MAX_RESULTS = 200
MAX_FILES = 200
HISTORY_SIZE = 20
SHOWN_RESULT_STATUSES = ("final", "corrected")
HIDDEN_PRESCRIPTION_STATUSES = ("draft", "cancelled")  # a signed visit issues its prescription


# --- what the pages get -----------------------------------------------------------------------

@dataclass(frozen=True)
class DiagnosisLine:
    code: str
    title: str
    primary: bool


@dataclass(frozen=True)
class MedicineLine:
    medicine: str
    strength: str | None
    dose: str
    frequency: str
    days: int
    route: str
    quantity: int
    unit: str | None
    instructions: str | None


@dataclass(frozen=True)
class PrescriptionLines:
    id: int
    issued_at: datetime | None
    items: list[MedicineLine]


@dataclass(frozen=True)
class FileLine:
    id: int
    file_name: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime
    owner_type: str  # patient | encounter | lab_order
    owner_id: int
    visit_at: datetime | None = None  # attached to a visit: its date
    test_name: str | None = None  # attached to a lab order: the test


@dataclass(frozen=True)
class VisitLine:
    """One signed visit in the list."""

    id: int
    at: datetime
    doctor: str
    complaint: str | None
    diagnoses: list[DiagnosisLine]


@dataclass(frozen=True)
class VisitPage:
    visits: list[VisitLine]
    page: int
    has_more: bool


@dataclass(frozen=True)
class VisitDetail:
    """One signed visit as the patient reads it (and as the summary PDF prints it)."""

    id: int
    at: datetime
    signed_at: datetime
    doctor: str
    patient_name: str
    patient_code: str
    patient_birth: date | None
    complaint: str | None
    diagnoses: list[DiagnosisLine]
    plan: str | None
    follow_up: date | None
    prescriptions: list[PrescriptionLines]
    files: list[FileLine]


@dataclass(frozen=True)
class ResultLine:
    id: int
    analyte: str
    value: str
    unit: str | None
    reference_range: str | None
    flag: str | None  # normal | low | high | critical
    status: str  # final | corrected
    resulted_at: datetime | None


@dataclass(frozen=True)
class ResultGroup:
    """The released results of one lab order."""

    order_id: int
    test_name: str
    ordered_at: datetime
    doctor: str | None
    results: list[ResultLine]


@dataclass(frozen=True)
class ResultDetail:
    result: ResultLine
    group: ResultGroup
    earlier: list[ResultLine]  # earlier released values of the same analyte, newest first


@dataclass(frozen=True)
class _Ref:
    """A row's id for the audit (``record_list_read`` reads only ``id``): the audit rows commit,
    which expires loaded rows, and reading ``id`` of an expired row would reload it."""

    id: int


def _refs(rows: Any) -> list[_Ref]:
    return [_Ref(row.id) for row in rows]


# --- what a patient may see -------------------------------------------------------------------

def signed_visit(patient_id: int) -> ColumnElement:
    return and_(Encounter.patient_id == patient_id, Encounter.signed_at.is_not(None), Encounter.discarded_at.is_(None))


def released_result() -> ColumnElement:
    return and_(LabResult.released_to_patient.is_(True), LabResult.status.in_(SHOWN_RESULT_STATUSES))


def _readable(user: Any, model: type, now: datetime) -> ColumnElement:
    condition = access.readable_condition(user, model, now)
    return condition if condition is not None else false()


def _visible_files(user: Any, patient_id: int, now: datetime) -> ColumnElement:
    visits = select(Encounter.id).where(signed_visit(patient_id))
    orders = (select(LabResult.lab_order_id).join(LabOrder, LabOrder.id == LabResult.lab_order_id)
              .where(LabOrder.patient_id == patient_id, released_result()))
    return and_(
        Attachment.patient_id == patient_id,
        _readable(user, Attachment, now),
        or_(
            and_(Attachment.owner_type == "patient", Attachment.owner_id == patient_id),
            and_(Attachment.owner_type == "encounter", Attachment.owner_id.in_(visits)),
            and_(Attachment.owner_type == "lab_order", Attachment.owner_id.in_(orders)),
        ),
    )


def _not_found(session: Session, user: Any, entity: str, entity_id: int, patient_id: int) -> NotFound:
    """The answer to an id the patient may not read: audited as ``denied``, told as "not found"."""
    access.record_denial(session, user, entity, entity_id, {"portal_patient": patient_id})
    return NotFound(_("There is no record with id %(id)s.", id=entity_id))


# --- visits -----------------------------------------------------------------------------------

def _diagnoses(encounter: Encounter) -> list[DiagnosisLine]:
    ordered = sorted(encounter.diagnoses, key=lambda d: (not d.is_primary, d.id))
    return [DiagnosisLine(d.icd10_code, d.text, d.is_primary) for d in ordered]


def signed_visits(session: Session, user: Any, patient_id: int, now: datetime, page: int = 1) -> VisitPage:
    """The patient's signed visits, newest first, ``PAGE_SIZE`` a page (three statements)."""
    page = max(1, page)
    rows = list(session.execute(
        select(Encounter).where(signed_visit(patient_id), _readable(user, Encounter, now))
        .options(selectinload(Encounter.diagnoses), selectinload(Encounter.doctor))
        .order_by(Encounter.created_at.desc(), Encounter.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).scalars())
    shown = rows[:PAGE_SIZE]
    # Plain values first: the audit rows commit, which expires the loaded rows.
    visits = [VisitLine(e.id, e.created_at, str(e.doctor), e.chief_complaint, _diagnoses(e)) for e in shown]
    diagnoses = _refs(d for e in shown for d in e.diagnoses)
    access.record_list_read(session, user, Encounter, _refs(shown))
    access.record_list_read(session, user, Diagnosis, diagnoses)
    return VisitPage(visits, page, len(rows) > PAGE_SIZE)


def visit_detail(session: Session, user: Any, patient_id: int, encounter_id: int, now: datetime) -> VisitDetail:
    """One signed visit of the patient: read through the access helper (audited), with its
    diagnoses, prescriptions and files. Anything else: ``NotFound`` and a ``denied`` row."""
    encounter = session.execute(
        select(Encounter).where(Encounter.id == encounter_id, signed_visit(patient_id))
        .options(selectinload(Encounter.diagnoses), selectinload(Encounter.doctor), selectinload(Encounter.patient))
    ).scalar_one_or_none()
    if encounter is None or not access.may_read(session, user, encounter, now):
        raise _not_found(session, user, "Encounter", encounter_id, patient_id)
    prescriptions = list(session.execute(
        select(Prescription).where(Prescription.encounter_id == encounter.id, Prescription.patient_id == patient_id,
                                   Prescription.status.not_in(HIDDEN_PRESCRIPTION_STATUSES),
                                   _readable(user, Prescription, now))
        .options(selectinload(Prescription.items).selectinload(PrescriptionItem.medicine))
        .order_by(Prescription.id)
    ).scalars())
    attachments = list(session.execute(
        select(Attachment).where(_visible_files(user, patient_id, now), Attachment.owner_type == "encounter",
                                 Attachment.owner_id == encounter.id)
        .order_by(Attachment.uploaded_at, Attachment.id).limit(MAX_FILES)
    ).scalars())
    patient: Patient = encounter.patient
    detail = VisitDetail(
        id=encounter.id, at=encounter.created_at, signed_at=encounter.signed_at or encounter.created_at,
        doctor=str(encounter.doctor), patient_name=patient.full_name, patient_code=patient.code,
        patient_birth=patient.date_of_birth, complaint=encounter.chief_complaint, diagnoses=_diagnoses(encounter),
        plan=encounter.treatment_plan, follow_up=encounter.follow_up_date,
        prescriptions=[PrescriptionLines(p.id, p.issued_at, [_medicine_line(i) for i in sorted(p.items,
                                                                                              key=lambda i: i.id)])
                       for p in prescriptions],
        files=[_file_line(a) for a in attachments],
    )
    # The audit rows last: each commits, which expires the loaded rows (``detail`` holds plain values).
    diagnoses, items = _refs(encounter.diagnoses), _refs(i for p in prescriptions for i in p.items)
    prescription_refs, attachment_refs = _refs(prescriptions), _refs(attachments)
    access.open_record(session, user, encounter, now)
    access.record_list_read(session, user, Diagnosis, diagnoses)
    access.record_list_read(session, user, Prescription, prescription_refs)
    access.record_list_read(session, user, PrescriptionItem, items)
    access.record_list_read(session, user, Attachment, attachment_refs)
    return detail


def _medicine_line(item: PrescriptionItem) -> MedicineLine:
    medicine = item.medicine
    return MedicineLine(medicine=medicine.name, strength=medicine.strength, dose=item.dose, frequency=item.frequency,
                        days=item.duration_days, route=item.route, quantity=item.quantity, unit=medicine.unit,
                        instructions=item.instructions)


# --- results ----------------------------------------------------------------------------------

def _result_line(result: LabResult) -> ResultLine:
    return ResultLine(result.id, result.analyte, result.value, result.unit, result.reference_range, result.flag,
                      result.status, result.resulted_at)


def _released_rows(user: Any, patient_id: int, now: datetime) -> Any:
    return (select(LabResult, LabOrder)
            .join(LabOrder, LabOrder.id == LabResult.lab_order_id)
            .where(LabOrder.patient_id == patient_id, released_result(), _readable(user, LabResult, now)))


def _doctor_names(session: Session, orders: list[LabOrder]) -> dict[int, str]:
    ids = {o.doctor_id for o in orders if o.doctor_id is not None}
    if not ids:
        return {}
    return {d.id: str(d) for d in session.execute(select(Doctor).where(Doctor.id.in_(ids))).scalars()}


def released_results(session: Session, user: Any, patient_id: int, now: datetime) -> list[ResultGroup]:
    """The patient's released final or corrected results, grouped by lab order, newest order
    first (at most ``MAX_RESULTS`` results; two or three statements)."""
    rows = session.execute(
        _released_rows(user, patient_id, now)
        .order_by(LabOrder.created_at.desc(), LabOrder.id.desc(), LabResult.id).limit(MAX_RESULTS)
    ).all()
    by_order: dict[int, list[LabResult]] = defaultdict(list)
    orders: dict[int, LabOrder] = {}
    for result, order in rows:
        by_order[order.id].append(result)
        orders[order.id] = order
    doctors = _doctor_names(session, list(orders.values()))
    groups = [ResultGroup(order.id, order.test_name, order.created_at, doctors.get(order.doctor_id or 0),
                          [_result_line(r) for r in by_order[order.id]])
              for order in orders.values()]
    access.record_list_read(session, user, LabResult, _refs(result for result, _order in rows))
    return groups


def result_detail(session: Session, user: Any, patient_id: int, result_id: int, now: datetime) -> ResultDetail:
    """One released result of the patient (audited) and the earlier released values of the same
    analyte. Anything else: ``NotFound`` and a ``denied`` row."""
    row = session.execute(_released_rows(user, patient_id, now).where(LabResult.id == result_id)).first()
    if row is None:
        raise _not_found(session, user, "LabResult", result_id, patient_id)
    result, order = row
    earlier_rows = session.execute(
        _released_rows(user, patient_id, now)
        .where(LabResult.analyte == result.analyte, LabResult.id != result.id,
               LabOrder.created_at <= order.created_at)
        .order_by(LabOrder.created_at.desc(), LabResult.id.desc()).limit(HISTORY_SIZE)
    ).all()
    doctors = _doctor_names(session, [order])
    group = ResultGroup(order.id, order.test_name, order.created_at, doctors.get(order.doctor_id or 0),
                        [_result_line(result)])
    detail = ResultDetail(_result_line(result), group, [_result_line(r) for r, _o in earlier_rows])
    earlier = _refs(r for r, _o in earlier_rows)
    access.open_record(session, user, result, now)
    access.record_list_read(session, user, LabResult, earlier)
    return detail


# --- files ------------------------------------------------------------------------------------

def _file_line(attachment: Attachment, visit_at: datetime | None = None, test_name: str | None = None) -> FileLine:
    return FileLine(attachment.id, attachment.file_name, attachment.content_type, attachment.size_bytes,
                    attachment.uploaded_at, attachment.owner_type, attachment.owner_id, visit_at, test_name)


def patient_files(session: Session, user: Any, patient_id: int, now: datetime) -> list[FileLine]:
    """The files the patient may download, newest first (at most ``MAX_FILES``), each saying what
    it belongs to: a visit (its date), a test (its name), or the patient's own record."""
    attachments = list(session.execute(
        select(Attachment).where(_visible_files(user, patient_id, now))
        .order_by(Attachment.uploaded_at.desc(), Attachment.id.desc()).limit(MAX_FILES)
    ).scalars())
    visit_ids = {a.owner_id for a in attachments if a.owner_type == "encounter"}
    order_ids = {a.owner_id for a in attachments if a.owner_type == "lab_order"}
    visits = dict(session.execute(select(Encounter.id, Encounter.created_at)
                                  .where(Encounter.id.in_(visit_ids))).all()) if visit_ids else {}
    tests = dict(session.execute(select(LabOrder.id, LabOrder.test_name)
                                 .where(LabOrder.id.in_(order_ids))).all()) if order_ids else {}
    lines = [_file_line(a, visits.get(a.owner_id) if a.owner_type == "encounter" else None,
                        tests.get(a.owner_id) if a.owner_type == "lab_order" else None) for a in attachments]
    access.record_list_read(session, user, Attachment, _refs(attachments))
    return lines


def open_file(session: Session, user: Any, patient_id: int, attachment_id: int, now: datetime) -> Attachment:
    """The attachment the patient asked to download, after the access check (its ``read`` row);
    any other id: ``NotFound`` and a ``denied`` row."""
    attachment = session.execute(
        select(Attachment).where(Attachment.id == attachment_id, _visible_files(user, patient_id, now))
    ).scalar_one_or_none()
    if attachment is None:
        raise _not_found(session, user, "Attachment", attachment_id, patient_id)
    access.open_record(session, user, attachment, now)
    return attachment
