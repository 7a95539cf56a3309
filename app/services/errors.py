"""Domain errors. Each entry point translates them: API -> 404/409/422 JSON, page -> form error
or flash message, job -> log line."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field

    def as_dict(self) -> dict:
        if self.field:
            return {"message": {self.field: [self.message]}}
        return {"message": self.message}


class ValidationFailed(DomainError):
    """Input that breaks a rule about one field (or the record as a whole when field is None)."""

    status = 422


class FieldErrors(ValidationFailed):
    """Several broken fields at once: ``errors`` maps each field to its message (422)."""

    def __init__(self, errors: dict[str, str]):
        from flask_babel import gettext as _

        super().__init__(_("Some values cannot be saved; nothing was changed."), next(iter(errors), None))
        self.errors = dict(errors)

    def as_dict(self) -> dict:
        return {"message": {field: [message] for field, message in self.errors.items()}}


class Conflict(DomainError):
    """The request clashes with the current state: double booking, stock gone, already paid."""

    status = 409


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class ProviderUnavailable(DomainError):
    """A payment provider (Stripe, VNPay) refused or could not be reached: nothing was recorded."""

    status = 502


@contextmanager
def committing(session) -> Iterator[None]:
    """The writes of the block, committed at its end as one transaction. A domain error rolls
    everything back; so does a database refusal (a constraint, PostgreSQL's exclusion
    constraints against overlapping bookings), raised as the readable DomainError instead."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
        session.commit()
    except DomainError:
        session.rollback()
        raise
    except SQLAlchemyError as exc:
        session.rollback()
        raise from_database_error(exc) from exc


def commit(session) -> None:
    """Commit what a service wrote, as ``committing`` does for a block."""
    with committing(session):
        pass


def from_database_error(exc: Exception) -> DomainError:
    """Turn a constraint violation into a message a receptionist understands.

    The database is the last line of defence (two desks saving at once); services pre-check the
    common cases. PostgreSQL names the constraint; SQLite names the column or the CHECK.
    """
    from flask_babel import gettext as _

    orig = getattr(exc, "orig", exc)
    text = str(orig)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    sqlstate = getattr(orig, "sqlstate", None) or ""
    lowered = text.lower()
    if constraint == "ex_appointment_patient_overlap" or "ex_appointment_patient_overlap" in text:
        return Conflict(_("The patient already has an appointment at this time."), "start_at")
    if sqlstate in ("40P01", "40001"):  # deadlock or serialisation failure: two desks raced; nothing was saved
        return Conflict(_("Someone else was saving the same thing at the same moment. Please try again."))
    if sqlstate == "23P01" or "exclusion constraint" in lowered:  # overlapping appointments
        return Conflict(_("This time was just taken by another booking. Please choose another time."),
                        "start_at")
    if constraint == "uq_outbox_aggregate_sequence" or "outbox.aggregate_type" in text:
        # Two transactions changed one record at the same moment: its events' numbers met (app.services.outbox).
        return Conflict(_("Someone else was saving the same thing at the same moment. Please try again."))
    if sqlstate == "23505" or "unique constraint" in lowered or "duplicate key" in lowered:
        field = _field_from(constraint, text, "UNIQUE constraint failed:")
        return Conflict(_("This value is already used by another record."), field)
    if sqlstate == "23503" or "foreign key constraint" in lowered:
        statement = (getattr(exc, "statement", None) or "").lstrip().upper()
        if statement.startswith("DELETE") or "is still referenced" in lowered:
            return Conflict(_("This record is still used by other records and cannot be deleted."))
        return ValidationFailed(_("This refers to a record that does not exist."))
    if sqlstate == "23514" or "check constraint" in lowered:
        name = constraint or text.rsplit(":", 1)[-1].strip()
        return ValidationFailed(_("This value breaks the rule %(rule)s.", rule=name), _check_field(name))
    if sqlstate == "23502" or "not null constraint" in lowered:
        field = getattr(diag, "column_name", None) or _field_from("", text, "NOT NULL constraint failed:")
        return ValidationFailed(_("This field is required."), field)
    return DomainError(_("The record could not be saved. Please check the values and try again."))


def _field_from(constraint: str, text: str, sqlite_marker: str) -> str | None:
    if sqlite_marker in text:  # "UNIQUE constraint failed: patient.code, patient.x"
        cols = text.split(sqlite_marker, 1)[1].split("\n", 1)[0].split(",")
        return cols[-1].strip().split(".")[-1] or None
    return _UNIQUE_FIELDS.get(constraint)


def _check_field(name: str) -> str | None:
    return _CHECK_FIELDS.get(name)


_UNIQUE_FIELDS = {
    "uq_patient_code": "code", "uq_patient_national_id": "national_id", "uq_patient_user_id": "user_id",
    "uq_invoice_number": "number", "uq_service_code": "code", "uq_medicine_code": "code",
    "uq_department_code": "code", "uq_department_name": "name", "uq_specialty_name": "name",
    "uq_doctor_user_id": "user_id", "uq_employee_user_id": "user_id", "uq_stock_batch_lot": "lot_number",
    "uq_payment_idempotency_key": "idempotency_key", "uq_appointment_queue": "queue_number",
    "uq_diagnosis_encounter_code": "icd10_code", "uq_diagnosis_one_primary": "is_primary",
}
_CHECK_FIELDS = {
    "ck_service_price_non_negative": "price", "ck_medicine_price_non_negative": "price",
    "ck_stock_batch_quantity_non_negative": "quantity", "ck_payment_amount_positive": "amount",
    "ck_appointment_end_after_start": "end_at", "ck_work_schedule_end_after_start": "end_time",
    "ck_doctor_fee_non_negative": "consultation_fee", "ck_prescription_item_quantity_positive": "quantity",
}
