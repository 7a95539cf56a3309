"""One entry point for the rules of a write: every generated screen and REST resource calls
``validate`` before saving, so a rule has exactly one home whichever way the data comes in."""
from __future__ import annotations

from typing import Any, Callable

from flask_babel import gettext
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app import models as m
from app.services import booking, catalogue, engagement, people, receiving, records, schedules, stock
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings

Validator = Callable[[Session, Any, ClinicSettings], None]

VALIDATORS: dict[type, Validator] = {
    m.Patient: people.validate_patient,
    m.Doctor: people.validate_doctor,
    m.Employee: people.validate_employee,
    m.Department: people.validate_department,
    m.Specialty: people.validate_specialty,
    m.Service: catalogue.validate_service,
    m.LabTest: catalogue.validate_lab_test,
    m.WorkSchedule: schedules.validate_work_schedule,
    m.ScheduleException: schedules.validate_schedule_exception,
    m.Appointment: booking.validate_appointment,
    m.AppointmentSeries: booking.validate_appointment_series,
    m.Encounter: records.validate_encounter,
    m.Diagnosis: records.validate_diagnosis,
    m.LabOrder: records.validate_lab_order,
    m.LabResult: records.validate_lab_result,
    m.Attachment: records.validate_attachment,
    m.Prescription: records.validate_prescription,
    m.PrescriptionItem: records.validate_prescription_item,
    m.Medicine: stock.validate_medicine,
    m.StockBatch: stock.validate_stock_batch,
    m.Supplier: receiving.validate_supplier,
    m.Review: engagement.validate_review,
    m.Notification: engagement.validate_notification,
    m.ReminderLog: engagement.validate_reminder_log,
}


# What happens once a generic edit is committed (``after_update``): an appointment moved, confirmed
# or cancelled on the generic screen or REST resource is told to the patient and staff, as when
# the booking services do it. Nothing is registered for creation (see ``announce_appointment_changes``).
AFTER_UPDATE: dict[type, Callable[[Session, int | None], None]] = {
    m.Appointment: booking.announce_appointment_changes,
}


def after_update(session: Session, item: Any, actor_id: int | None = None) -> None:
    """Called after the commit of a generic edit of ``item``; never raises for a notice."""
    announce = AFTER_UPDATE.get(type(item))
    if announce is not None:
        announce(session, actor_id)


# Fields a client may leave out: the services fill them in (next patient code, invoice number, the
# clinic's currency).
FILLED_BY_SERVICES: dict[type, tuple[str, ...]] = {
    m.Patient: ("code",),
    m.PrescriptionItem: ("quantity",),  # computed from dose x times a day x days for countable units
}


# Rules of a delete (the database's foreign keys refuse the rest).
DELETE_CHECKS: dict[type, Validator] = {
    m.LabTest: catalogue.check_lab_test_delete,
}


def check_delete(session: Session, item: Any, settings: ClinicSettings) -> None:
    """Check (and apply the consequences of) deleting ``item``; raises a DomainError. Does not commit."""
    checker = DELETE_CHECKS.get(type(item))
    if checker is not None:
        checker(session, item, settings)


# Who made a record, stamped on creation: the acting user of the request, job or command.
ACTOR_COLUMNS = ("created_by_id", "received_by_id", "uploaded_by_id", "actor_id")


def validate(session: Session, item: Any, settings: ClinicSettings, actor_id: int | None = None) -> None:
    """Check and normalise ``item`` in place; raises a DomainError. Does not commit."""
    is_new = inspect(item).transient or inspect(item).pending
    if is_new:
        apply_column_defaults(item)
    refuse_control_characters(item)
    validator = VALIDATORS.get(type(item))
    if validator is not None:
        validator(session, item, settings)
    if actor_id is not None:
        created = [item] if is_new else []
        created += [obj for obj in session.new if obj is not item]  # e.g. a ledger entry the rule added
        for obj in created:
            for column in ACTOR_COLUMNS:
                if hasattr(obj, column) and getattr(obj, column) is None:
                    setattr(obj, column, actor_id)


def apply_column_defaults(item: Any) -> None:
    """A new record gets its columns' declared defaults before the rules look at it (a line's
    quantity of 1, a service's 15 minutes), as the database would."""
    for column in inspect(type(item)).columns:
        default = column.default
        if default is None or not default.is_scalar or column.key not in inspect(type(item)).attrs:
            continue
        if getattr(item, column.key) is None:
            setattr(item, column.key, default.arg)


def refuse_control_characters(item: Any) -> None:
    """A NUL byte is never data (PostgreSQL refuses it outright, SQLite would store it)."""
    for column in inspect(type(item)).columns:
        value = getattr(item, column.key, None)
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed(gettext("Contains characters that are not allowed."), column.key)
