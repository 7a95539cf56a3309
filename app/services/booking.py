"""Rules for appointments. Generic create/edit screens and the REST API go through
``validate_appointment``; the booking engine (availability, overlap guarantee) builds on it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dateutil.rrule import rrulestr

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentSeries, Service
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings


def validate_appointment(session: Session, appointment: Appointment, settings: ClinicSettings) -> None:
    required = {"patient_id": appointment.patient_id or appointment.patient,
                "doctor_id": appointment.doctor_id or appointment.doctor,
                "service_id": appointment.service_id or appointment.service,
                "start_at": appointment.start_at}
    for field, value in required.items():
        if value is None:
            raise ValidationFailed(_("This field is required."), field)
    for field in ("start_at", "end_at"):
        value = getattr(appointment, field)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    if appointment.end_at is None:
        service = appointment.service or session.get(Service, appointment.service_id)
        if service is None:
            raise ValidationFailed(_("Unknown service."), "service_id")
        appointment.end_at = appointment.start_at + timedelta(minutes=service.duration_minutes)
    if appointment.end_at <= appointment.start_at:
        raise ValidationFailed(_("The end must be after the start."), "end_at")
    if appointment.queue_number is not None and appointment.queue_number <= 0:
        raise ValidationFailed(_("Must be more than zero."), "queue_number")


def validate_appointment_series(session: Session, series: AppointmentSeries, settings: ClinicSettings) -> None:
    """The repeat rule is an RFC 5545 RRULE with an end (COUNT or UNTIL): a course has a last visit."""
    rule = (series.rule or "").strip().removeprefix("RRULE:")
    if not rule:
        raise ValidationFailed(_("This field is required."), "rule")
    if not _parses(rule):
        raise ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")
    parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise ValidationFailed(_("Say when the series ends: COUNT=… or UNTIL=…."), "rule")
    if "COUNT" in parts and not 1 <= int(parts["COUNT"]) <= 100:
        raise ValidationFailed(_("A series has 1 to 100 appointments."), "rule")
    series.rule = rule


def _parses(rule: str) -> bool:
    """UNTIL may be UTC (…Z) or floating; dateutil wants the start to match, so try both."""
    for start in (datetime(2000, 1, 1), datetime(2000, 1, 1, tzinfo=timezone.utc)):
        try:
            rrulestr(rule, dtstart=start)
            return True
        except (ValueError, TypeError):
            continue
    return False
