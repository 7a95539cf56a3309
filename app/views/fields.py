"""Form fields for the back office: times are typed and shown in the clinic's zone, stored in UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import phonenumbers
from flask import current_app
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_babel import format_currency, lazy_gettext as _l
from markupsafe import Markup
from wtforms import DateTimeField, Field, SelectField, TimeField
from wtforms.widgets import DateTimeLocalInput, html_params
from wtforms.validators import Optional

from app.i18n import choice_label, lazy_choice_label

FORMAT = "%Y-%m-%d %H:%M"
INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


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
    """Shows and accepts local clinic time; ``data`` is an aware UTC datetime.

    The browser's own date-and-time input (phones show their native picker): FAB 5's datetime
    widget is a date-only picker that rewrites the typed time away."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", DateTimeLocalInput())
        kwargs.setdefault("format", [INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", FORMAT, "%Y-%m-%d %H:%M:%S"])
        kwargs.setdefault("description", _l("Clinic local time"))
        kwargs.setdefault("render_kw", {"class": "form-control"})
        super().__init__(label, validators, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return to_local(self.data).strftime(INPUT_FORMAT) if self.data is not None else ""

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = self.data.replace(tzinfo=clinic_zone()).astimezone(timezone.utc)


def time_field(label) -> TimeField:
    return TimeField(label, format="%H:%M", widget=BS3TextFieldWidget(),
                     description=_l("HH:MM, clinic local time"), render_kw={"type": "time"})


def choice_field(label, values, validators=None, optional: bool = False, default=None) -> SelectField:
    """A drop-down of stored codes shown by their translated label (``choice_label``); the form
    posts and stores the code. Optional ones get an empty entry (FAB's enum field has none)."""
    choices = [(v, lazy_choice_label(v)) for v in values]
    if optional:
        return SelectField(label, choices=[("", "—")] + choices, validators=[Optional()],
                           coerce=lambda v: v or None, widget=Select2Widget(), default=default)
    return SelectField(label, choices=choices, validators=validators, coerce=lambda v: None if v is None else str(v),
                       widget=Select2Widget(), default=default)


def format_choice(value) -> str:
    """A stored code in a list or show page, translated."""
    return choice_label(value)


class RemoteSelectWidget:
    """A <select> that Select2 fills by searching /lookup/<resource> as the user types
    (static/js/remote-select.js); only the chosen record is in the page."""

    def __init__(self, url: str):
        self.url = url

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        attrs = {"class": "remote-select form-control", "data-url": self.url, "name": field.name,
                 "data-placeholder": str(_l("Type to search…")), **kwargs}
        if field.flags.required:
            attrs["required"] = True
        option = ""
        if field.data is not None:
            option = Markup("<option value=\"{}\" selected>{}</option>").format(
                field.data.id, field.describe(field.data))
        return Markup("<select {}>{}</select>").format(Markup(html_params(**attrs)), option)


class RemoteSelectField(Field):
    """A many-to-one picked by search: the form posts an id, ``data`` is the record (or None)."""

    def __init__(self, label=None, validators=None, model=None, url: str = "", describe=str, **kwargs):
        kwargs.setdefault("widget", RemoteSelectWidget(url))
        super().__init__(label, validators, **kwargs)
        self.model = model
        self.describe = describe

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if valuelist and valuelist[0]:
            from app.views.base import pk_in_range

            session = current_app.appbuilder.session
            if pk_in_range(self.model, valuelist[0]):
                self.data = session.get(self.model, int(valuelist[0]))
            if self.data is None:
                raise ValueError(_l("There is no such record."))

    def _value(self) -> str:
        return str(self.data.id) if self.data is not None else ""
