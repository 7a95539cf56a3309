"""Rules for clinical records: encounters, diagnoses, lab work, attachments, prescriptions."""
from __future__ import annotations

import os
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from werkzeug.security import safe_join

from app.models import (
    Attachment,
    Diagnosis,
    Encounter,
    LabOrder,
    LabResult,
    Prescription,
    PrescriptionItem,
)
from app.services import validation as v
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings

ICD10_PATTERN = r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?"
VITAL_RANGES = {
    "systolic_bp": (30, 300), "diastolic_bp": (10, 200), "pulse": (10, 300), "temperature_c": (25, 45),
    "respiratory_rate": (1, 100), "spo2": (0, 100), "weight_kg": (0.2, 500), "height_cm": (20, 300),
}


def validate_encounter(session: Session, encounter: Encounter, settings: ClinicSettings) -> None:
    for field, (low, high) in VITAL_RANGES.items():
        v.in_range(field, getattr(encounter, field), low, high)
    if encounter.appointment is not None and encounter.patient_id is not None:
        if encounter.appointment.patient_id != encounter.patient_id:
            raise ValidationFailed(_("The appointment belongs to another patient."), "appointment_id")


def validate_diagnosis(session: Session, diagnosis: Diagnosis, settings: ClinicSettings) -> None:
    from app.services.diagnoses import validate_generic_diagnosis

    diagnosis.icd10_code = v.require_text("icd10_code", diagnosis.icd10_code, 10).upper()
    v.matches("icd10_code", diagnosis.icd10_code, ICD10_PATTERN, _("An ICD-10 code looks like J06.9."))
    diagnosis.text = v.require_text("text", diagnosis.text, 300)
    validate_generic_diagnosis(session, diagnosis)  # a code of the table, once per visit, one primary


def validate_lab_order(session: Session, order: LabOrder, settings: ClinicSettings) -> None:
    order.test_code = v.require_text("test_code", order.test_code, 30)
    order.test_name = v.require_text("test_name", order.test_name, 200)


def validate_lab_result(session: Session, result: LabResult, settings: ClinicSettings) -> None:
    result.analyte = v.require_text("analyte", result.analyte, 120)
    result.value = v.require_text("value", result.value, 120)
    if result.released_to_patient and result.status == "preliminary":
        raise ValidationFailed(_("Only final results can be released to the patient."), "released_to_patient")
    # A final result changes only through a correction (app.services.lab: the old value is kept),
    # never by an edit on the generic screens or resource.
    state: Any = inspect(result)
    if not (state.transient or state.pending):
        status = state.attrs.status.history
        was = (status.deleted or status.unchanged or [None])[0]
        for name in ("value", "numeric_value", "flag"):
            if was in ("final", "corrected") and state.attrs[name].history.has_changes():
                raise ValidationFailed(_("A final result is changed by a correction on the lab result page."), name)


def validate_attachment(session: Session, attachment: Attachment, settings: ClinicSettings) -> None:
    attachment.file_name = v.require_text("file_name", attachment.file_name, 255)
    v.non_negative("size_bytes", attachment.size_bytes)


def validate_prescription(session: Session, prescription: Prescription, settings: ClinicSettings) -> None:
    if prescription.encounter is not None and prescription.patient_id is not None:
        if prescription.encounter.patient_id != prescription.patient_id:
            raise ValidationFailed(_("The encounter belongs to another patient."), "encounter_id")


def validate_prescription_item(session: Session, item: PrescriptionItem, settings: ClinicSettings) -> None:
    from app.services import prescribing

    item.dose = v.require_text("dose", item.dose, 60)
    item.frequency = v.require_text("frequency", item.frequency, 60)
    prescribing.check_generic_item(session, item)  # structured dose, computed quantity, warnings need a reason
    v.positive("quantity", item.quantity)
    v.positive("duration_days", item.duration_days)
    v.non_negative("dispensed_quantity", item.dispensed_quantity)
    if (item.dispensed_quantity or 0) > item.quantity:
        raise ValidationFailed(_("Cannot dispense more than prescribed."), "dispensed_quantity")


def attachment_path(upload_dir: str, storage_key: str) -> str | None:
    """Where an attachment's file is stored under ``upload_dir``; None when the key would leave the
    folder or the file is missing."""
    path = safe_join(upload_dir, storage_key)
    return path if path is not None and os.path.isfile(path) else None
