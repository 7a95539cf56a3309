"""The patient chart (issue 9, item 6): one read of a patient's whole clinical history for the
clinical staff, and each doctor's list of the patients they have seen.

``chart`` reads through ``access.open_chart`` (care-team rule, one audit row) and then a fixed
number of queries whatever the length of the history (no query per visit): the patient, the
visits (not discarded) with their doctors, their diagnoses, the prescriptions with their items,
the lab orders with their results, the files. Plain functions with explicit arguments; nothing
here reads the request.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.models import (
    Attachment,
    Diagnosis,
    Doctor,
    Encounter,
    LabOrder,
    LabResult,
    Medicine,
    Patient,
    Prescription,
    PrescriptionItem,
)
from app.services import access
from app.services.lookup import patient_condition

KINDS = ("visit", "prescription", "lab", "file")
VITALS = ("weight", "bmi", "systolic", "diastolic", "temperature")
RECENT_DIAGNOSES = 5
PER_PAGE = 25


@dataclass(frozen=True)
class DiagnosisLine:
    code: str
    text: str
    primary: bool


@dataclass(frozen=True)
class ItemLine:
    medicine: str
    dose: str
    frequency: str
    duration_days: int
    quantity: int


@dataclass(frozen=True)
class ResultLine:
    analyte: str
    value: str
    unit: str | None
    reference_range: str | None
    flag: str | None
    status: str


@dataclass
class Entry:
    """One line of the timeline. ``kind`` is one of ``KINDS``; ``id`` the record's id (the
    encounter's for a visit, whose page is /visit/<id>)."""

    kind: str
    at: datetime
    id: int
    title: str
    status: str | None = None
    doctor: str | None = None
    encounter_id: int | None = None
    diagnoses: list[DiagnosisLine] = field(default_factory=list)
    items: list[ItemLine] = field(default_factory=list)
    results: list[ResultLine] = field(default_factory=list)
    detail: str | None = None


@dataclass
class Series:
    """Points of one measure over time, oldest first."""

    x: list[datetime] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    unit: str | None = None
    reference_range: str | None = None

    def add(self, at: datetime, value: Any) -> None:
        if value is not None:
            self.x.append(at)
            self.y.append(float(value))


@dataclass
class Chart:
    patient: Patient
    allergies: str | None
    problems: str | None
    recent_diagnoses: list[DiagnosisLine]
    entries: list[Entry]  # newest first, only the kinds asked for
    counts: dict[str, int]  # entries of each kind (whatever the filter)
    vitals: dict[str, Series]  # VITALS -> series
    labs: dict[str, Series]  # analyte -> series of its numeric results
    last_visit: datetime | None


def bmi(weight_kg: Decimal | float | None, height_cm: Decimal | float | None) -> float | None:
    """Body-mass index (kg/m²), one decimal; None without both measures."""
    if weight_kg is None or not height_cm:
        return None
    metres = float(height_cm) / 100
    return round(float(weight_kg) / (metres * metres), 1)


def _kinds(kinds: Iterable[str] | None) -> set[str]:
    chosen = {kind for kind in (kinds or ()) if kind in KINDS}
    return chosen or set(KINDS)


def chart(session: Session, patient_id: int, user: Any, now: datetime,
          kinds: Iterable[str] | None = None) -> Chart:
    """The chart of ``patient_id`` as ``user`` reads it at ``now`` (care-team rule, audited:
    ``CareAccessDenied`` outside care, ``NotFound`` for no such patient). ``kinds``: the timeline's
    filter (a subset of ``KINDS``; empty or None: all)."""
    patient = access.open_chart(session, user, patient_id, now)
    shown = _kinds(kinds)

    visits = session.execute(
        select(Encounter.id, Encounter.created_at, Encounter.signed_at, Encounter.chief_complaint,
               Encounter.weight_kg, Encounter.height_cm, Encounter.systolic_bp, Encounter.diastolic_bp,
               Encounter.temperature_c, Doctor.full_name)
        .join(Doctor, Doctor.id == Encounter.doctor_id)
        .where(Encounter.patient_id == patient_id, Encounter.discarded_at.is_(None))
        .order_by(Encounter.created_at.desc(), Encounter.id.desc())
    ).all()
    diagnoses: dict[int, list[DiagnosisLine]] = defaultdict(list)
    for encounter_id, code, text, primary in session.execute(
        select(Diagnosis.encounter_id, Diagnosis.icd10_code, Diagnosis.text, Diagnosis.is_primary)
        .join(Encounter, Encounter.id == Diagnosis.encounter_id)
        .where(Encounter.patient_id == patient_id, Encounter.discarded_at.is_(None))
        .order_by(Diagnosis.is_primary.desc(), Diagnosis.id)
    ):
        diagnoses[encounter_id].append(DiagnosisLine(code, text, primary))

    entries: list[Entry] = []
    vitals = {name: Series() for name in VITALS}
    for row in reversed(visits):  # oldest first for the series
        at = row.created_at
        vitals["weight"].add(at, row.weight_kg)
        vitals["bmi"].add(at, bmi(row.weight_kg, row.height_cm))
        vitals["systolic"].add(at, row.systolic_bp)
        vitals["diastolic"].add(at, row.diastolic_bp)
        vitals["temperature"].add(at, row.temperature_c)
    for name, unit in (("weight", "kg"), ("bmi", "kg/m²"), ("systolic", "mmHg"), ("diastolic", "mmHg"),
                       ("temperature", "°C")):
        vitals[name].unit = unit
    for row in visits:
        entries.append(Entry("visit", row.created_at, row.id, row.chief_complaint or "",
                             status="signed" if row.signed_at else "draft", doctor=row.full_name,
                             encounter_id=row.id, diagnoses=diagnoses.get(row.id, [])))

    # Prescriptions (not of a discarded visit) and their items.
    kept_visit = or_(Prescription.encounter_id.is_(None),
                     Prescription.encounter_id.in_(select(Encounter.id).where(
                         Encounter.patient_id == patient_id, Encounter.discarded_at.is_(None))))
    prescriptions = session.execute(
        select(Prescription.id, Prescription.created_at, Prescription.issued_at, Prescription.status,
               Prescription.encounter_id, Prescription.notes, Doctor.full_name)
        .join(Doctor, Doctor.id == Prescription.doctor_id)
        .where(Prescription.patient_id == patient_id, kept_visit)
    ).all()
    items: dict[int, list[ItemLine]] = defaultdict(list)
    for item_row in session.execute(
        select(PrescriptionItem.prescription_id, Medicine.name, Medicine.strength, PrescriptionItem.dose,
               PrescriptionItem.frequency, PrescriptionItem.duration_days, PrescriptionItem.quantity)
        .join(Medicine, Medicine.id == PrescriptionItem.medicine_id)
        .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
        .where(Prescription.patient_id == patient_id)
        .order_by(PrescriptionItem.id)
    ):
        name = f"{item_row.name} {item_row.strength or ''}".strip()
        items[item_row.prescription_id].append(ItemLine(name, item_row.dose, item_row.frequency,
                                                        item_row.duration_days, item_row.quantity))
    for rx in prescriptions:
        lines = items.get(rx.id, [])
        entries.append(Entry("prescription", rx.issued_at or rx.created_at, rx.id,
                             ", ".join(item.medicine for item in lines), status=rx.status, doctor=rx.full_name,
                             encounter_id=rx.encounter_id, items=lines, detail=rx.notes))

    # Lab orders with their results; the numeric results make the analytes' series.
    orders = session.execute(
        select(LabOrder.id, LabOrder.created_at, LabOrder.test_name, LabOrder.test_code, LabOrder.status,
               LabOrder.encounter_id)
        .where(LabOrder.patient_id == patient_id, LabOrder.status != "cancelled")
    ).all()
    results: dict[int, list[ResultLine]] = defaultdict(list)
    labs: dict[str, Series] = {}
    result_rows = session.execute(
        select(LabResult.lab_order_id, LabResult.analyte, LabResult.value, LabResult.numeric_value, LabResult.unit,
               LabResult.reference_range, LabResult.flag, LabResult.status, LabResult.resulted_at,
               LabResult.created_at)
        .join(LabOrder, LabOrder.id == LabResult.lab_order_id)
        .where(LabOrder.patient_id == patient_id, LabOrder.status != "cancelled")
        .order_by(func.coalesce(LabResult.resulted_at, LabResult.created_at), LabResult.id)
    ).all()
    last_result: dict[int, datetime] = {}
    for result in result_rows:
        results[result.lab_order_id].append(ResultLine(result.analyte, result.value, result.unit,
                                                       result.reference_range, result.flag, result.status))
        at = result.resulted_at or result.created_at
        last_result[result.lab_order_id] = at
        if result.numeric_value is not None:
            series = labs.setdefault(result.analyte, Series())
            series.add(at, result.numeric_value)
            series.unit = result.unit or series.unit
            series.reference_range = result.reference_range or series.reference_range
    for order in orders:
        entries.append(Entry("lab", last_result.get(order.id, order.created_at), order.id, order.test_name,
                             status=order.status, encounter_id=order.encounter_id, results=results.get(order.id, []),
                             detail=order.test_code))

    for file in session.execute(
        select(Attachment.id, Attachment.uploaded_at, Attachment.file_name, Attachment.content_type,
               Attachment.owner_type, Attachment.owner_id)
        .where(Attachment.patient_id == patient_id)
    ):
        entries.append(Entry("file", file.uploaded_at, file.id, file.file_name, detail=file.content_type,
                             encounter_id=file.owner_id if file.owner_type == "encounter" else None))

    entries.sort(key=lambda entry: (entry.at, KINDS.index(entry.kind) * -1, entry.id), reverse=True)
    counts = {kind: 0 for kind in KINDS}
    for entry in entries:
        counts[entry.kind] += 1
    recent: list[DiagnosisLine] = []
    for row in visits:  # newest first: each code once
        for line in diagnoses.get(row.id, []):
            if len(recent) < RECENT_DIAGNOSES and all(seen.code != line.code for seen in recent):
                recent.append(line)
    return Chart(
        patient=patient, allergies=patient.allergies, problems=patient.chronic_conditions,
        recent_diagnoses=recent, entries=[entry for entry in entries if entry.kind in shown], counts=counts,
        vitals=vitals, labs=dict(sorted(labs.items())), last_visit=visits[0].created_at if visits else None,
    )


# --- "Patients I have seen" ----------------------------------------------------------------

@dataclass(frozen=True)
class SeenPatient:
    id: int
    code: str
    full_name: str
    date_of_birth: date | None
    sex: str | None
    phone: str | None
    last_visit: datetime
    visits: int


@dataclass(frozen=True)
class SeenPage:
    patients: list[SeenPatient]
    total: int
    page: int
    pages: int
    has_doctor: bool


def patients_seen(session: Session, user: Any, query: str | None = None, page: int = 1,
                  per_page: int = PER_PAGE, region: str = "VN") -> SeenPage:
    """The patients the doctor of ``user``'s login has had visits with (not discarded), the most
    recent visit first; ``query`` finds them by name or code (accents ignored) or phone; ``page``
    counts from 1. A login that is no doctor's: an empty page (``has_doctor`` False)."""
    doctors = select(Doctor.id).where(Doctor.user_id == getattr(user, "id", None))
    has_doctor = user is not None and session.execute(doctors.limit(1)).first() is not None
    if not has_doctor:
        return SeenPage([], 0, 1, 1, False)
    seen = (select(Encounter.patient_id, func.max(Encounter.created_at).label("last_visit"),
                   func.count(Encounter.id).label("visits"))
            .where(Encounter.doctor_id.in_(doctors), Encounter.discarded_at.is_(None))
            .group_by(Encounter.patient_id).subquery())
    base = select(Patient, seen.c.last_visit, seen.c.visits).join(seen, seen.c.patient_id == Patient.id)
    text = (query or "").strip()
    if text:
        base = base.where(patient_condition(text, region))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(base.order_by(seen.c.last_visit.desc(), Patient.id.desc())
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return SeenPage([SeenPatient(p.id, p.code, p.full_name, p.date_of_birth, p.sex, p.phone, last, count)
                     for p, last, count in rows], total, page, pages, True)
