"""The kinds of record the search finds, as data: one ``Kind`` per kind, in one registry.

A kind says how its documents are built from the database (``build``), which writes change them
(``watches``: model -> the kind's ids a new, changed or deleted row touches), which of its records a
user may read (``readable``: the care-team rule of ``app.services.access`` for visits and
prescriptions, so a hit a user may not read is dropped before anything of it is shown), how a hit
is shown in the back office (``show``) and on the portal (``show_own``, None: not on the portal),
and the permission a staff role needs to search it at all (``permission``, a FAB resource name:
the view checks it, services never touch FAB).

The extension point: ``register(Kind(...))``; ``admin_only=True`` for a kind only admins search.
Log events are not a kind of the index: the box asks their own store (``log_hits``)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.models import (
    Appointment,
    Diagnosis,
    Encounter,
    Invoice,
    Medicine,
    Patient,
    Prescription,
    PrescriptionItem,
)
from app.services import access
from app.services.portal_billing import shown_invoice
from app.services.portal_records import signed_visit
from app.services.search.base import Document
from app.services.search.query import compact, phone_keys
from app.services.text import fold


@dataclass(frozen=True)
class Result:
    """One line of the results: what it is, a second line, where it opens."""

    kind: str
    id: int
    title: str
    detail: str
    url: str


# (session, ids) -> documents; (session, user, ids, now) -> readable ids; (session, ids, zone) -> results
Builder = Callable[[Session, Sequence[int]], list[Document]]
Reader = Callable[[Session, Any, Sequence[int], datetime], set[int]]
Shower = Callable[[Session, Sequence[int], tzinfo], dict[int, Result]]
OwnShower = Callable[[Session, int, Sequence[int], tzinfo], dict[int, Result]]


@dataclass(frozen=True)
class Kind:
    name: str
    label: Any  # lazy string: the group's heading
    permission: str | None  # FAB resource whose can_read lets a staff role search this kind
    build: Builder
    all_ids: Callable[[], Select]  # every id to index (reindex)
    readable: Reader
    show: Shower
    show_own: OwnShower | None = None
    watches: dict[type, Callable[[Any], Iterable[int | None]]] = field(default_factory=dict)
    audited_model: type | None = None  # a patient-owned model: a list of its hits is an audited read
    admin_only: bool = False


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


# --- helpers -------------------------------------------------------------------------------------

def _words(*parts: Any) -> str:
    return " ".join(fold(str(part)) for part in parts if part not in (None, ""))


def _when(moment: datetime | None, zone: tzinfo, with_time: bool = True) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _line(*parts: Any) -> str:
    return " · ".join(str(part) for part in parts if part not in (None, ""))


def _patient_name(patient: Patient | None) -> str:
    return f"{patient.full_name} ({patient.code})" if patient is not None else ""


def _all(session: Session, user: Any, ids: Sequence[int], now: datetime) -> set[int]:
    return set(ids)


def _readable_by(model: type, extra: Any = None) -> Reader:
    """The ids among ``ids`` whose rows ``user`` may read (``access.readable_condition``)."""

    def readable(session: Session, user: Any, ids: Sequence[int], now: datetime) -> set[int]:
        if not ids:
            return set()
        query = select(model.id).where(model.id.in_(list(ids)))  # type: ignore[attr-defined]
        condition = access.readable_condition(user, model, now)
        if condition is not None:
            query = query.where(condition)
        if extra is not None:
            query = query.where(extra)
        return set(session.execute(query).scalars())

    return readable


def _rows(session: Session, model: Any, ids: Sequence[int], *load: Any) -> list[Any]:
    """The rows of ``ids`` with these relations loaded: a many-to-one (a patient, a doctor) joined
    into the same query, a collection (a prescription's items) in one more query."""
    if not ids:
        return []
    query = select(model).where(model.id.in_(list(ids)))
    if load:
        query = query.options(*(selectinload(relation) if relation.property.uselist else joinedload(relation)
                                for relation in load))
    return list(session.execute(query).unique().scalars())


def _patient_keys(patient: Patient | None) -> tuple[str, ...]:
    return (compact(patient.code),) if patient is not None else ()


# --- patients ------------------------------------------------------------------------------------

def _patient_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    docs = []
    for p in _rows(session, Patient, ids):
        keys = [compact(p.code), *phone_keys(p.phone), compact(p.national_id), compact(p.insurance_number)]
        docs.append(Document("patients", p.id, names=_words(p.full_name),
                             body=_words(p.date_of_birth.isoformat() if p.date_of_birth else None),
                             keys=tuple(dict.fromkeys(k for k in keys if k)), patient_id=p.id))
    return docs


def _patient_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    return {p.id: Result("patients", p.id, _patient_name(p),
                         _line(p.date_of_birth.isoformat() if p.date_of_birth else "", p.phone, p.national_id),
                         f"/patientview/show/{p.id}") for p in _rows(session, Patient, ids)}


# --- appointments --------------------------------------------------------------------------------

def _appointment_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    return [Document("appointments", a.id, names=_words(a.patient.full_name),
                     body=_words(a.doctor.full_name, a.service.name),
                     keys=_patient_keys(a.patient), patient_id=a.patient_id)
            for a in _rows(session, Appointment, ids, Appointment.patient, Appointment.doctor, Appointment.service)]


def _appointment_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    from flask_babel import gettext as _

    return {a.id: Result("appointments", a.id, _patient_name(a.patient),
                         _line(_when(a.start_at, zone), a.doctor.full_name, a.service.name, _(a.status)),
                         f"/appointmentview/show/{a.id}")
            for a in _rows(session, Appointment, ids, Appointment.patient, Appointment.doctor, Appointment.service)}


def _own_appointments(session: Session, patient_id: int, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    from flask_babel import gettext as _

    rows = [a for a in _rows(session, Appointment, ids, Appointment.doctor, Appointment.service)
            if a.patient_id == patient_id]
    return {a.id: Result("appointments", a.id, _line(_when(a.start_at, zone), a.service.name),
                         _line(a.doctor.full_name, _(a.status)), "/clinic/me/appointments") for a in rows}


# --- visits (encounters) -------------------------------------------------------------------------

def _visit_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    docs = []
    for e in _rows(session, Encounter, ids, Encounter.patient, Encounter.doctor):
        if e.discarded_at is not None:
            continue
        diagnoses = list(session.execute(select(Diagnosis).where(Diagnosis.encounter_id == e.id)).scalars())
        docs.append(Document("visits", e.id, names=_words(e.patient.full_name),
                             body=_words(e.chief_complaint, *(d.text for d in diagnoses), e.doctor.full_name),
                             keys=(*_patient_keys(e.patient), *(compact(d.icd10_code) for d in diagnoses)),
                             patient_id=e.patient_id))
    return docs


def _diagnosis_text(session: Session, encounter_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for d in session.execute(select(Diagnosis).where(Diagnosis.encounter_id.in_(list(encounter_ids)))
                             .order_by(Diagnosis.is_primary.desc(), Diagnosis.id)).scalars():
        found.setdefault(d.encounter_id, []).append(f"{d.icd10_code} {d.text}")
    return {key: ", ".join(value) for key, value in found.items()}


def _visit_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    diagnoses = _diagnosis_text(session, ids) if ids else {}
    return {e.id: Result("visits", e.id, _patient_name(e.patient),
                         _line(_when(e.created_at, zone), e.doctor.full_name, e.chief_complaint, diagnoses.get(e.id)),
                         f"/encounterview/show/{e.id}")
            for e in _rows(session, Encounter, ids, Encounter.patient, Encounter.doctor)}


def _own_visits(session: Session, patient_id: int, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    if not ids:
        return {}
    rows = session.execute(select(Encounter).where(Encounter.id.in_(list(ids)), signed_visit(patient_id))
                           .options(selectinload(Encounter.doctor))).scalars().all()
    diagnoses = _diagnosis_text(session, [e.id for e in rows]) if rows else {}
    return {e.id: Result("visits", e.id, _line(_when(e.signed_at or e.created_at, zone, False), e.doctor.full_name),
                         _line(e.chief_complaint, diagnoses.get(e.id)), f"/clinic/me/visits/{e.id}") for e in rows}


# --- prescriptions -------------------------------------------------------------------------------

def _prescription_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    rows = _rows(session, Prescription, ids, Prescription.patient, Prescription.doctor, Prescription.items)
    medicines = {m.id: m for m in _rows(session, Medicine, sorted({i.medicine_id for r in rows for i in r.items}))}
    docs = []
    for r in rows:
        names = [medicines[i.medicine_id].name for i in r.items if i.medicine_id in medicines]
        ingredients = [medicines[i.medicine_id].active_ingredient for i in r.items if i.medicine_id in medicines]
        docs.append(Document("prescriptions", r.id, names=_words(r.patient.full_name, *names),
                             body=_words(r.doctor.full_name, *ingredients), keys=_patient_keys(r.patient),
                             patient_id=r.patient_id))
    return docs


def _medicine_names(session: Session, rows: list[Prescription]) -> dict[int, str]:
    medicines = {m.id: m.name for m in _rows(session, Medicine, sorted({i.medicine_id for r in rows for i in r.items}))}
    return {r.id: ", ".join(medicines.get(i.medicine_id, "") for i in r.items) for r in rows}


def _prescription_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    rows = _rows(session, Prescription, ids, Prescription.patient, Prescription.doctor, Prescription.items)
    medicines = _medicine_names(session, rows)
    return {r.id: Result("prescriptions", r.id, _patient_name(r.patient),
                         _line(_when(r.created_at, zone, False), r.doctor.full_name, medicines.get(r.id)),
                         f"/prescriptionview/show/{r.id}") for r in rows}


def _own_prescriptions(session: Session, patient_id: int, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    """Issued prescriptions of the patient's signed visits, opening that visit's page (where the
    portal shows them)."""
    if not ids:
        return {}
    rows = list(session.execute(
        select(Prescription).join(Encounter, Prescription.encounter_id == Encounter.id)
        .where(Prescription.id.in_(list(ids)), Prescription.status != "draft", signed_visit(patient_id))
        .options(selectinload(Prescription.items), selectinload(Prescription.doctor))).scalars())
    medicines = _medicine_names(session, rows)
    return {r.id: Result("prescriptions", r.id, _line(_when(r.issued_at or r.created_at, zone, False),
                                                      r.doctor.full_name),
                         medicines.get(r.id, ""), f"/clinic/me/visits/{r.encounter_id}") for r in rows}


# --- medicines -----------------------------------------------------------------------------------

def _medicine_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    return [Document("medicines", m.id, names=_words(m.name), body=_words(m.active_ingredient, m.strength,
                                                                          m.dosage_form),
                     keys=(compact(m.code),)) for m in _rows(session, Medicine, ids)]


def _medicine_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    return {m.id: Result("medicines", m.id, _line(m.name, m.strength), _line(m.active_ingredient, m.dosage_form,
                                                                              m.code),
                         f"/medicineview/show/{m.id}") for m in _rows(session, Medicine, ids)}


# --- invoices ------------------------------------------------------------------------------------

def _invoice_docs(session: Session, ids: Sequence[int]) -> list[Document]:
    return [Document("invoices", i.id, names=_words(i.patient.full_name), body=_words(i.status),
                     keys=tuple(k for k in (compact(i.number), *_patient_keys(i.patient)) if k),
                     patient_id=i.patient_id)
            for i in _rows(session, Invoice, ids, Invoice.patient)]


def _invoice_title(invoice: Invoice) -> str:
    from flask_babel import gettext as _

    return invoice.number or _("Draft invoice %(id)s", id=invoice.id)


def _invoice_results(session: Session, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    from flask_babel import gettext as _

    return {i.id: Result("invoices", i.id, _invoice_title(i),
                         _line(_patient_name(i.patient), f"{i.total:,.0f} {i.currency}", _(i.status)),
                         f"/invoiceview/show/{i.id}") for i in _rows(session, Invoice, ids, Invoice.patient)}


def _own_invoices(session: Session, patient_id: int, ids: Sequence[int], zone: tzinfo) -> dict[int, Result]:
    from flask_babel import gettext as _

    if not ids:
        return {}
    rows = session.execute(select(Invoice).where(Invoice.id.in_(list(ids)), shown_invoice(patient_id))).scalars()
    return {i.id: Result("invoices", i.id, _invoice_title(i), _line(f"{i.total:,.0f} {i.currency}", _(i.status)),
                         f"/clinic/me/invoices/{i.id}") for i in rows}


# --- the registry --------------------------------------------------------------------------------

def _id(obj: Any) -> list[int | None]:
    return [obj.id]


register(Kind("patients", _l("Patients"), "Patient", _patient_docs, lambda: select(Patient.id), _all,
              _patient_results, watches={Patient: _id}))
register(Kind("appointments", _l("Appointments"), "Appointment", _appointment_docs, lambda: select(Appointment.id),
              _all, _appointment_results, _own_appointments, watches={Appointment: _id}))
register(Kind("visits", _l("Visits"), "Encounter", _visit_docs,
              lambda: select(Encounter.id).where(Encounter.discarded_at.is_(None)),
              _readable_by(Encounter, Encounter.discarded_at.is_(None)), _visit_results, _own_visits,
              watches={Encounter: _id, Diagnosis: lambda d: [d.encounter_id]}, audited_model=Encounter))
register(Kind("prescriptions", _l("Prescriptions"), "Prescription", _prescription_docs,
              lambda: select(Prescription.id), _readable_by(Prescription), _prescription_results, _own_prescriptions,
              watches={Prescription: _id, PrescriptionItem: lambda i: [i.prescription_id]},
              audited_model=Prescription))
register(Kind("medicines", _l("Medicines"), "Medicine", _medicine_docs, lambda: select(Medicine.id), _all,
              _medicine_results, watches={Medicine: _id}))
register(Kind("invoices", _l("Invoices"), "Invoice", _invoice_docs, lambda: select(Invoice.id),
              _readable_by(Invoice), _invoice_results, _own_invoices, watches={Invoice: _id}, audited_model=Invoice))

# Kinds holding a patient's name or code: indexed again when the patient is renamed.
PATIENT_RECORDS: dict[str, Any] = {"appointments": Appointment, "visits": Encounter, "prescriptions": Prescription,
                                   "invoices": Invoice}
