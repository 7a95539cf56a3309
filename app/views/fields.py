"""Form fields for the back office: times are typed and shown in the clinic's zone, stored in UTC."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.numbers import get_currency_precision
from flask import current_app
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_babel import format_currency, get_locale, gettext as _, lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import Boolean, Date, Float, Integer, Numeric
from wtforms import BooleanField, DateTimeField, Field, SelectField, TimeField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import DateTimeLocalInput, html_params

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

    def __init__(self, url: str, scope: str | None = None):
        self.url = url
        self.scope = scope

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        attrs = {"class": "remote-select form-control", "data-url": self.url, "name": field.name,
                 "data-placeholder": str(_l("Type to search…")), **kwargs}
        if self.scope:
            # The form field (or the parent in the page's URL) whose record limits the choices.
            attrs["data-scope"] = self.scope
        if field.flags.required:
            attrs["required"] = True
        option = ""
        if field.data is not None:
            option = Markup("<option value=\"{}\" selected>{}</option>").format(
                field.data.id, field.describe(field.data))
        return Markup("<select {}>{}</select>").format(Markup(html_params(**attrs)), option)


class RemoteSelectField(Field):
    """A many-to-one picked by search: the form posts an id, ``data`` is the record (or None)."""

    def __init__(self, label=None, validators=None, model=None, url: str = "", describe=str,
                 scope: str | None = None, **kwargs):
        kwargs.setdefault("widget", RemoteSelectWidget(url, scope))
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


# --- numbers and dates typed the way the user's language writes them ----------------------------
#
# The pure functions below take the language ("vi", "en") and return a value or raise ValueError
# with a message for the form. Rules: the language's own way always works ("37,8" and "1.000.000"
# in Vietnamese, "37.8" and "1,000,000" in English); the other separator is accepted where it can
# mean only one thing ("37.8" in Vietnamese: three digits would be needed for a thousands
# separator); a value that could be read two ways ("1.000" in a Vietnamese field that takes three
# decimals) is refused, never silently read as a thousand times more or less.

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_GROUPED = re.compile(r"^\d{1,3}(\d{3})*$")


def number_symbols(language: str) -> tuple[str, str]:
    """(decimal separator, thousands separator) of a language: vi -> (",", "."), en -> (".", ",")."""
    symbols = Locale.parse(language).number_symbols["latn"]
    return symbols["decimal"], symbols["group"]


def _grouping_ok(text: str, separator: str) -> bool:
    parts = text.split(separator)
    return 1 <= len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:])


def parse_decimal(text: str, language: str, places: int | None = None) -> Decimal | None:
    """A number typed in ``language``; ``places`` is how many decimals the field takes (None: any).
    "" -> None. Raises ValueError (with the reason) for what is not a number, has too many
    decimals or could be read two ways."""
    text = _SPACES.sub("", text or "")
    if not text:
        return None
    sign = ""
    if text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    decimal_sep, group_sep = number_symbols(language)
    if not text or not set(text) <= set("0123456789.,") or not text[0].isdigit() and text[0] not in ".,":
        raise ValueError(_("Not a number."))
    seps = [ch for ch in ".," if ch in text]
    whole, fraction = text, ""
    if len(seps) == 2:
        # Both: the last one is the decimal separator, the other groups thousands ("1.234,5").
        last = max(seps, key=text.rindex)
        other = "," if last == "." else "."
        whole, fraction = text.rsplit(last, 1)
        if text.count(last) != 1 or not _grouping_ok(whole, other):
            raise ValueError(_("Not a number."))
        whole = whole.replace(other, "")
    elif len(seps) == 1:
        sep = seps[0]
        if text.count(sep) > 1:  # "1.000.000": only thousands separators repeat
            if not _grouping_ok(text, sep):
                raise ValueError(_("Not a number."))
            whole = text.replace(sep, "")
        else:
            head, tail = text.split(sep)
            as_group = bool(head) and _grouping_ok(text, sep)
            as_decimal = bool(tail) and (places is None or len(tail.rstrip("0")) <= places)
            # Both readings fit: the language's thousands separator before three digits in a field
            # that takes three decimals, or its decimal separator before three digits where the
            # field takes fewer ("1,000" for an amount in dong).
            if as_group and as_decimal and (
                    places is None or places >= 3 if sep == group_sep else places is not None and places < 3):
                small = format_decimal_input(Decimal(f"{head}.{tail}"), language)
                raise ValueError(_("“%(value)s” could mean %(big)s or %(small)s: type %(big)s or %(small)s.",
                                   value=text, big=head + tail, small=small))
            if sep == group_sep and as_group or sep != group_sep and as_group and not as_decimal:
                whole = head + tail
            elif tail:  # a decimal (too many places is reported below)
                whole, fraction = head or "0", tail
            else:
                raise ValueError(_("Not a number."))
    if not whole.isdigit() or fraction and not fraction.isdigit():
        raise ValueError(_("Not a number."))
    if places is not None and len(fraction.rstrip("0")) > places:
        if places == 0:
            raise ValueError(_("Whole numbers only."))
        raise ValueError(_("Too many decimals (at most %(n)d).", n=places))
    try:
        return Decimal(sign + whole + ("." + fraction if fraction else ""))
    except InvalidOperation:
        raise ValueError(_("Not a number.")) from None


def format_decimal_input(value: Any, language: str, places: int | None = None) -> str:
    """A stored number as the user's language writes it in an input ("37,8"; "150.000" for money
    in Vietnamese), so that it reads back to the same value."""
    if value is None:
        return ""
    decimal_sep, group_sep = number_symbols(language)
    text = format(Decimal(str(value)), "f")
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _dot, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if places == 0 and len(whole) > 3:  # amounts: grouped (150.000), as people read them
        whole = f"{int(whole):,}".replace(",", group_sep)
    return sign + whole + (decimal_sep + fraction if fraction else "")


def date_order(language: str) -> str:
    """"dmy" or "mdy": the order of a short date in ``language`` (vi: 20/07/1985, en: 7/20/1985)."""
    pattern = Locale.parse(language).date_formats["short"].pattern.lower()
    return "mdy" if pattern.index("m") < pattern.index("d") else "dmy"


def parse_date(text: str, language: str, *, day_first: bool = False) -> date | None:
    """A date typed in ``language``: ISO (1985-07-20) always; otherwise day, month and a
    four-digit year separated by "/", "-" or "." in the language's order (20/07/1985 in
    Vietnamese), or in the other order when only that one is a real date. "" -> None.
    ``day_first``: day/month/year only, in every language (never month first: 02/12/2026 is
    2 December even in English; 12/25/2026 is refused)."""
    text = (text or "").strip()
    if not text:
        return None
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            raise ValueError(_("Not a date.")) from None
    example = date_example(language, day_first=day_first)
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})", text)
    if not match:
        raise ValueError(_("Not a date; write it as %(example)s.", example=example))
    if len(match[3]) != 4:
        raise ValueError(_("Write the year with four digits."))
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    orders = [(first, second), (second, first)] if date_order(language) == "dmy" else [(second, first), (first, second)]
    if day_first:
        orders = [(first, second)]
    for day, month in orders:
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(_("Not a date; write it as %(example)s.", example=example))


def format_date_input(value: date | None, language: str) -> str:
    """A stored date as the user's language writes it: 20/07/1985 (vi), 1985-07-20 otherwise."""
    if value is None:
        return ""
    if date_order(language) == "dmy":
        return value.strftime("%d/%m/%Y")
    return value.isoformat()


def format_moment(value: datetime | None, seconds: bool = False) -> str:
    """An instant in the clinic's zone, the date in the reader's order: 01/12/2026 17:35 in
    Vietnamese, 2026-12-01 17:35 otherwise (the audit trail adds the seconds)."""
    local = to_local(value)
    if local is None:
        return ""
    return f"{format_date_input(local.date(), user_language())} {local:%H:%M:%S}" if seconds else \
        f"{format_date_input(local.date(), user_language())} {local:%H:%M}"


def format_day(value: date | None) -> str:
    """A date on a list or show page, in the reader's order (20/07/1985 in Vietnamese)."""
    return format_date_input(value, user_language()) if isinstance(value, date) else blank_if_none(value)


def date_example(language: str, *, day_first: bool = False) -> str:
    """How to write a date: dd/mm/yyyy (vi), yyyy-mm-dd (en); with ``day_first`` (a field that
    also takes day/month/year in English) "yyyy-mm-dd or dd/mm/yyyy"."""
    if date_order(language) == "dmy":
        return "dd/mm/yyyy"
    return _("%(first)s or %(second)s", first="yyyy-mm-dd", second="dd/mm/yyyy") if day_first else "yyyy-mm-dd"


def user_language() -> str:
    return str(get_locale() or "en").split("_")[0]


class LocaleDecimalField(Field):
    """A number typed the user's way (``parse_decimal``); ``data`` is a Decimal (an int with
    ``integer=True``). A plain text input: the browser's number input knows only one separator."""

    widget = BS3TextFieldWidget()

    def __init__(self, label=None, validators=None, places: int | None = None, integer: bool = False,
                 limit: Decimal | int | None = None, **kwargs):
        render_kw = {"inputmode": "numeric" if integer or places == 0 else "decimal", "autocomplete": "off",
                     **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.places = 0 if integer else places
        self.integer = integer
        self.limit = limit  # what the column cannot hold: this size and more

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        places = None if self.integer else self.places
        if self.integer and self.data is not None:
            return str(self.data)
        return format_decimal_input(self.data, user_language(), places)

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if valuelist:
            number = parse_decimal(valuelist[0], user_language(), self.places)
            if number is not None and self.limit is not None and abs(number) >= self.limit:
                raise ValueError(_("Too large."))
            self.data = int(number) if self.integer and number is not None else number


class LocaleDateField(Field):
    """A date typed the user's way (``parse_date``: 20/07/1985 in Vietnamese); ``data`` is a date.
    ``day_first=True``: day/month/year in every language besides ISO, never month first (the
    clinic's own way of writing dates, for fields staff fill in English too)."""

    widget = BS3TextFieldWidget()

    def __init__(self, label=None, validators=None, day_first: bool = False, **kwargs):
        render_kw = {"autocomplete": "off", **kwargs.pop("render_kw", {})}
        self.day_first = day_first
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def __call__(self, **kwargs):
        # the form's label would say nothing of the order
        kwargs["placeholder"] = date_example(user_language(), day_first=self.day_first)
        return super().__call__(**kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_date_input(self.data, user_language())

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if valuelist:
            self.data = parse_date(valuelist[0], user_language(), day_first=self.day_first)


def money_places(currency: str, scale: int | None) -> int:
    """Decimals a person may type for an amount: the currency's (VND: none), at most the column's."""
    places = get_currency_precision(currency)
    return min(places, scale) if scale is not None else places


def field_for_column(column, label, description: Any = None) -> Field | None:
    """The form field of a number, date or yes/no column, or None to keep FAB's own. Numbers and
    dates follow the user's language; a yes/no box may be left unticked (FAB makes a NOT NULL
    boolean "required", so a secondary diagnosis could not be saved)."""
    from app.models.types import integer_bounds, is_money

    kind = column.type
    description = description or ""
    default = column.default.arg if column.default is not None and column.default.is_scalar else None
    if isinstance(kind, Boolean):
        return BooleanField(label, description=description, default=bool(default))
    if column.primary_key or column.foreign_keys:
        return None
    # InputRequired, not DataRequired: 0 is a value (a discount of 0).
    validators = [Optional()] if column.nullable else [InputRequired()]
    if isinstance(kind, Date):
        return LocaleDateField(label, validators, description=description)
    if isinstance(kind, Float):
        return LocaleDecimalField(label, validators, description=description, default=default)
    if isinstance(kind, Numeric):
        places = kind.scale
        if is_money(kind):
            places = money_places(current_app.config.get("CLINIC_CURRENCY", "VND"), kind.scale)
        limit = Decimal(10) ** (kind.precision - kind.scale) if kind.precision and kind.scale is not None else None
        return LocaleDecimalField(label, validators, places=places, description=description, default=default,
                                  limit=limit)
    bounds = integer_bounds(kind) if isinstance(kind, Integer) else None
    if bounds is not None:
        return LocaleDecimalField(label, validators, integer=True, description=description, default=default,
                                  limit=bounds[1] + 1)
    return None
