"""Finding one record by what a person types: a name without accents, a code, a phone number,
an invoice number. Used by the pickers of the back office (tens of thousands of patients do
not fit in a drop-down)."""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Appointment,
    AppointmentSeries,
    Encounter,
    Invoice,
    LabOrder,
    Medicine,
    Patient,
    Prescription,
    StockBatch,
)
from app.services import access
from app.services.errors import ValidationFailed
from app.services.text import fold
from app.services.validation import normalize_phone

MAX_RESULTS = 20


# What a picker's line names, beside the patient, for each kind of record (loaded with it).
_SHOWN_WITH: dict[type, tuple[str, ...]] = {
    Appointment: ("patient", "doctor", "service"), AppointmentSeries: ("patient", "doctor", "service"),
    Encounter: ("patient", "doctor"), Prescription: ("patient", "doctor"), LabOrder: ("patient",),
    Invoice: ("patient",), StockBatch: ("medicine",),
}
# Records that belong to one patient: a picker may be limited to that patient's.
# An invoice number as typed or scanned: letters then the year's digits (HD2026-000123, INV-202601-…).
INVOICE_NUMBER = re.compile(r"^[A-Za-z]{1,6}-?\d{4}", re.ASCII)
PATIENT_OWNED = (Appointment, AppointmentSeries, Encounter, Prescription, LabOrder, Invoice)


def _when(moment: datetime | None, zone: tzinfo, with_time: bool = True) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _patient(record: Any) -> str:
    patient = getattr(record, "patient", None)
    return f"{patient.full_name} ({patient.code})" if patient is not None else ""


def describe_record(record: Any, zone: tzinfo) -> str:
    """One line a person recognises a record by (a picker's entry, a related record on a page):
    the patient's name and code, the date in the clinic's zone, the doctor and the service,
    never a bare number ("Nguyễn Văn An (BN000123) · 2026-12-01 15:45 · BS. Bình · Khám")."""
    parts: list[Any]
    if isinstance(record, Appointment):
        parts = [_patient(record), _when(record.start_at, zone), record.doctor, record.service]
    elif isinstance(record, AppointmentSeries):
        parts = [_patient(record), record.doctor, record.service]
    elif isinstance(record, Encounter):
        parts = [_patient(record), _when(record.created_at, zone), record.doctor, record.chief_complaint]
    elif isinstance(record, Prescription):
        parts = [_patient(record), _when(record.created_at, zone), record.doctor]
    elif isinstance(record, LabOrder):
        parts = [_patient(record), _when(record.created_at, zone, with_time=False), record.test_name]
    elif isinstance(record, Invoice):
        parts = [record.number, _patient(record), _when(record.created_at, zone, with_time=False)]
    elif isinstance(record, StockBatch):
        parts = [record.medicine, record]
    else:
        return str(record)
    return " · ".join(str(part) for part in parts if part)


def _patient_condition(text: str, region: str):
    folded = fold(text)
    conditions: list[Any] = [Patient.search_text.like(f"%{folded}%")]
    if any(ch.isdigit() for ch in text):
        try:
            phone = normalize_phone("q", text, region)
        except ValidationFailed:
            phone = None
        if phone:
            conditions.append(Patient.phone == phone)
    return or_(*conditions)


def _by_patient(model: Any, text: str, region: str, order) -> Any:
    query: Any = select(model).join(Patient, model.patient_id == Patient.id)
    if text.isdigit():
        query = query.where(or_(model.id == int(text), _patient_condition(text, region)))
    elif text:
        query = query.where(_patient_condition(text, region))
    return query.order_by(order)


def patient_condition(text: str, region: str = "VN"):
    """Patients whose name or code contains ``text`` (accents ignored) or whose phone is ``text``
    written any way ("0903 123 456", "+84903123456"): the one patient search of every screen."""
    return _patient_condition(text.strip()[:100], region)


def lookup_records(session: Session, user: Any, model: type, text: str, now: datetime, region: str = "VN",
                   patient_id: int | None = None) -> list[Any]:
    """What a picker offers ``user``: ``find_records`` limited to the records ``user`` may read
    (care-team access, ``app.services.access``), the read audited."""
    records = find_records(session, model, text, region, patient_id=patient_id,
                           scope=access.readable_condition(user, model, now))
    access.record_list_read(session, user, model, records)
    return records


def lookup_record(session: Session, user: Any, model: type, record_id: int, now: datetime) -> list[Any]:
    """The one record a picker shows by id (an edit form's current value): checked and audited
    (``access.CareAccessDenied`` when outside ``user``'s care)."""
    record = session.get(model, record_id)
    if record is None:
        return []
    access.open_record(session, user, record, now)
    return [record]


def find_records(session: Session, model: type, text: str, region: str = "VN",
                 limit: int = MAX_RESULTS, patient_id: int | None = None, scope: Any = None) -> list[Any]:
    """Up to ``limit`` records of ``model`` matching ``text`` (all recent ones when it is empty);
    with ``patient_id``, only that patient's records (an encounter's appointment picker); with
    ``scope``, only rows meeting that condition (``access.readable_condition``)."""
    text = (text or "").strip()[:100]
    if model is Patient:
        query = select(Patient)
        if text:
            query = query.where(_patient_condition(text, region))
        query = query.order_by(Patient.id.desc())
    elif model is Invoice and INVOICE_NUMBER.match(text):
        query = select(Invoice).where(Invoice.number.like(f"{text.upper()}%")).order_by(Invoice.id.desc())
    elif model in (Appointment, AppointmentSeries, Encounter, Prescription, LabOrder, Invoice):
        order = model.start_at.desc() if model is Appointment else model.id.desc()
        query = _by_patient(model, text, region, order)
    elif model is StockBatch:
        query = select(StockBatch).join(Medicine).order_by(StockBatch.expiry_date)
        if text:
            query = query.where(or_(StockBatch.lot_number.ilike(f"%{text}%"), Medicine.name.ilike(f"%{text}%")))
    elif model is User:
        user: Any = User  # FAB's model is untyped
        query = select(user).order_by(user.username)
        if text:
            pattern = f"%{text}%"
            query = query.where(or_(user.username.ilike(pattern), user.first_name.ilike(pattern),
                                    user.last_name.ilike(pattern), user.email.ilike(pattern)))
    else:
        raise LookupError(model.__name__)
    if patient_id is not None and model in PATIENT_OWNED:
        query = query.where(model.patient_id == patient_id)
    if scope is not None:
        query = query.where(scope)
    if model in _SHOWN_WITH:
        query = query.options(*(selectinload(getattr(model, name)) for name in _SHOWN_WITH[model]))
    return list(session.execute(query.limit(limit)).scalars())
