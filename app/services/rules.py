"""One entry point for the rules of a write: every generated screen and REST resource calls
``validate`` before saving, so a rule has exactly one home whichever way the data comes in."""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.orm import Session

from app import models as m
from app.services import billing, booking, catalogue, engagement, people, records, schedules, stock
from app.services.settings import ClinicSettings

Validator = Callable[[Session, Any, ClinicSettings], None]

VALIDATORS: dict[type, Validator] = {
    m.Patient: people.validate_patient,
    m.Doctor: people.validate_doctor,
    m.Employee: people.validate_employee,
    m.Department: people.validate_department,
    m.Specialty: people.validate_specialty,
    m.Service: catalogue.validate_service,
    m.WorkSchedule: schedules.validate_work_schedule,
    m.ScheduleException: schedules.validate_schedule_exception,
    m.Appointment: booking.validate_appointment,
    m.Encounter: records.validate_encounter,
    m.Diagnosis: records.validate_diagnosis,
    m.LabOrder: records.validate_lab_order,
    m.LabResult: records.validate_lab_result,
    m.Attachment: records.validate_attachment,
    m.Prescription: records.validate_prescription,
    m.PrescriptionItem: records.validate_prescription_item,
    m.Medicine: stock.validate_medicine,
    m.StockBatch: stock.validate_stock_batch,
    m.Invoice: billing.validate_invoice,
    m.InvoiceLine: billing.validate_invoice_line,
    m.Payment: billing.validate_payment,
    m.Review: engagement.validate_review,
    m.Notification: engagement.validate_notification,
    m.ReminderLog: engagement.validate_reminder_log,
}


# Fields a client may leave out: the services fill them in (next patient code, invoice number, the
# clinic's currency, an end time from the service's duration).
FILLED_BY_SERVICES: dict[type, tuple[str, ...]] = {
    m.Patient: ("code",),
    m.Invoice: ("number", "currency"),
    m.Appointment: ("end_at",),
}


def validate(session: Session, item: Any, settings: ClinicSettings) -> None:
    """Check and normalise ``item`` in place; raises a DomainError. Does not commit."""
    validator = VALIDATORS.get(type(item))
    if validator is not None:
        validator(session, item, settings)
