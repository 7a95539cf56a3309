"""The forms of the appointment workflow pages (Flask-WTF): the workflow buttons, "cancel the rest
of the series" and "Book a series". Each checks its fields all at once and keeps the typed
values; the rules (which step may follow which, free slots, the series' dates) stay in
app.services.booking and app.services.series."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, InputRequired, NumberRange, Optional

from app.form_fields import WholeNumberField, at_most, existing_id, strip
from app.services.booking import TRANSITIONS
from app.views.fields import FORMAT, INPUT_FORMAT

UNITS = {"WEEKLY": _l("weeks"), "DAILY": _l("days")}
MAX_VISITS = 100
REQUIRED = _l("This field is required.")


class StatusForm(FlaskForm):
    """One workflow button: the next status (and, to cancel, the reason)."""

    status = HiddenField(validators=[InputRequired(REQUIRED), AnyOf(list(TRANSITIONS), message=_l("Unknown status."))])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(500)])


class CancelRestForm(FlaskForm):
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(500)])


def record_id(label: Any) -> WholeNumberField:
    return WholeNumberField(label, validators=[InputRequired(REQUIRED), existing_id()])


class LocalDateTimeField(DateTimeLocalField):
    """A clinic-local date and time as the browser's ``datetime-local`` input sends it (other
    usual spellings accepted); ``data`` is naive, the view gives it the clinic's zone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", [INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", FORMAT])
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Give the date and time like 2026-12-01 09:00.")) from None


class SeriesForm(FlaskForm):
    """Book a recurring series: "Preview" checks every date, "Book" books them."""

    patient_id = record_id(_l("Patient"))
    doctor_id = record_id(_l("Doctor"))
    service_id = record_id(_l("Service"))
    start = LocalDateTimeField(_l("First visit"), validators=[InputRequired(REQUIRED)])
    every = WholeNumberField(_l("Repeat every"), default=1, validators=[
        InputRequired(REQUIRED), NumberRange(1, 52, message=_l("Repeat every 1 to 52 weeks or days."))])
    unit = SelectField(_l("Unit"), choices=list(UNITS.items()), default="WEEKLY", validate_choice=False,
                       validators=[AnyOf(list(UNITS), message=_l("Repeat every so many weeks or days."))])
    count = WholeNumberField(_l("Number of visits"), default=6, validators=[
        InputRequired(REQUIRED), NumberRange(1, MAX_VISITS, message=_l("A series has 1 to 100 appointments."))])
    skip = BooleanField(_l("Skip the conflicting dates"))
    do = HiddenField(default="preview")

    def rule(self) -> str:
        return f"FREQ={self.unit.data};INTERVAL={self.every.data};COUNT={self.count.data}"

    def first_start(self, zone: tzinfo) -> datetime:
        return self.start.data.replace(tzinfo=zone)

    def wants_booking(self) -> bool:
        return self.do.data == "book"
