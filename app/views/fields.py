"""Form fields for the back office: times are typed and shown in the clinic's zone, stored in UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import phonenumbers
from flask import current_app
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DateTimePickerWidget, Select2Widget
from flask_babel import format_currency, lazy_gettext as _l
from wtforms import DateTimeField, SelectField, TimeField
from wtforms.validators import Optional

FORMAT = "%Y-%m-%d %H:%M"


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(clinic_zone()) if value is not None else None


def format_local(value: datetime | None) -> str:
    return to_local(value).strftime(FORMAT) if value is not None else ""


def blank_if_none(value):
    """An empty cell, not the word "None"."""
    return "" if value is None else value


def format_phone(value: str | None) -> str:
    """+84912345678 (as stored) -> 0912 345 678 for local numbers; others stay international."""
    if not value:
        return ""
    region = current_app.config.get("CLINIC_PHONE_REGION", "VN")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def format_money(value) -> str:
    """Amounts in the clinic's currency, its own decimals and the reader's locale (₫227,000)."""
    if value is None:
        return ""
    return format_currency(value, current_app.config.get("CLINIC_CURRENCY", "VND"))


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
