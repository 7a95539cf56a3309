"""Finding one record by what a person types: a name without accents, a code, a phone number,
an invoice number. Used by the pickers of the back office (tens of thousands of patients do
not fit in a drop-down)."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import (
    Appointment, AppointmentSeries, Encounter, Invoice, LabOrder, Medicine, Patient, Prescription, StockBatch,
)
from app.services.text import fold
from app.services.errors import ValidationFailed
from app.services.validation import normalize_phone

MAX_RESULTS = 20


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


def find_records(session: Session, model: type, text: str, region: str = "VN",
                 limit: int = MAX_RESULTS) -> list[Any]:
    """Up to ``limit`` records of ``model`` matching ``text`` (all recent ones when it is empty)."""
    text = (text or "").strip()[:100]
    if model is Patient:
        query = select(Patient)
        if text:
            query = query.where(_patient_condition(text, region))
        query = query.order_by(Patient.id.desc())
    elif model is Invoice and text.upper().startswith("INV"):
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
    return list(session.execute(query.limit(limit)).scalars())
