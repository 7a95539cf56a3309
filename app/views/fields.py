"""Form fields for the back office: times are typed and shown in the clinic's zone, stored in UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DateTimePickerWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeField, SelectField, TimeField
from wtforms.validators import Optional

FORMAT = "%Y-%m-%d %H:%M"


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(clinic_zone()) if value is not None else None


def format_local(value: datetime | None) -> str:
    return to_local(value).strftime(FORMAT) if value is not None else ""


class ClinicDateTimeField(DateTimeField):
    """Shows and accepts local clinic time; ``data`` is an aware UTC datetime."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", DateTimePickerWidget())
        kwargs.setdefault("format", [FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])
        kwargs.setdefault("description", _l("Clinic local time"))
        super().__init__(label, validators, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return format_local(self.data)

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = self.data.replace(tzinfo=clinic_zone()).astimezone(timezone.utc)


def time_field(label) -> TimeField:
    return TimeField(label, format="%H:%M", widget=BS3TextFieldWidget(),
                     description=_l("HH:MM, clinic local time"), render_kw={"type": "time"})


def optional_choice_field(label, values) -> SelectField:
    return SelectField(label, choices=[("", "—")] + [(v, v) for v in values], validators=[Optional()],
                       coerce=lambda v: v or None, widget=Select2Widget())
