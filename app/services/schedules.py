"""Rules for doctors' working hours and their exceptions."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import ScheduleException, WorkSchedule
from app.services import validation as v
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings


def validate_work_schedule(session: Session, schedule: WorkSchedule, settings: ClinicSettings) -> None:
    if schedule.weekday is None:
        raise ValidationFailed(_("This field is required."), "weekday")
    v.in_range("weekday", schedule.weekday, 0, 6)
    for field in ("start_time", "end_time", "valid_from"):
        if getattr(schedule, field) is None:
            raise ValidationFailed(_("This field is required."), field)
    if schedule.end_time <= schedule.start_time:
        raise ValidationFailed(_("The end must be after the start."), "end_time")
    if schedule.valid_to is not None and schedule.valid_to < schedule.valid_from:
        raise ValidationFailed(_("The end of validity must not be before its start."), "valid_to")


def validate_schedule_exception(session: Session, exc: ScheduleException, settings: ClinicSettings) -> None:
    for field in ("start_date", "end_date"):
        if getattr(exc, field) is None:
            raise ValidationFailed(_("This field is required."), field)
    if exc.end_date < exc.start_date:
        raise ValidationFailed(_("The end date must not be before the start date."), "end_date")
    if (exc.start_time is None) != (exc.end_time is None):
        raise ValidationFailed(_("Give both times, or neither for whole days."), "end_time")
    if exc.start_time is not None and exc.end_time is not None and exc.end_time <= exc.start_time:
        raise ValidationFailed(_("The end must be after the start."), "end_time")
    if exc.kind == "extra_shift" and exc.start_time is None:
        raise ValidationFailed(_("An extra shift needs its hours."), "start_time")
