"""FHIR search parameter values: dates with prefixes, tokens, references, paging."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Callable

from flask_babel import gettext as _
from sqlalchemy import and_, not_
from sqlalchemy.sql.elements import ColumnElement

from app.services.fhir.errors import FhirError

MAX_ID = 2**31 - 1
DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_OFFSET = 10**6
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def bad(parameter: str, message: str | None = None) -> FhirError:
    return FhirError(400, message or _("The search parameter %(name)s has a value that cannot be used.",
                                       name=parameter), parameter)


@dataclass(frozen=True)
class Span:
    """The time a date parameter's value stands for: [start, end)."""

    start: datetime | date
    end: datetime | date


def parse_span(parameter: str, text: str, zone: tzinfo, as_date: bool) -> tuple[str, Span]:
    """``ge2024-05``, ``2024-05-01``, ``lt2024-05-01T10:00:00+07:00``: the prefix (``eq`` when none)
    and the span. A value without a time zone is the clinic's local time."""
    prefix = text[:2] if text[:2].isalpha() else "eq"
    value = text[2:] if text[:2].isalpha() else text
    if prefix not in DATE_PREFIXES:
        raise bad(parameter, _("The search parameter %(name)s takes the prefixes eq, ne, gt, lt, ge and le.",
                               name=parameter))
    match = _DATE.match(value)
    if match is None:
        raise bad(parameter, _("The search parameter %(name)s takes a date such as 2024-05-01.", name=parameter))
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        if hour is not None and day is not None and month is not None:
            moment = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"
                                            + ("+00:00" if offset == "Z" else offset or ""))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            step = timedelta(seconds=1) if second is not None else timedelta(minutes=1)
            start_dt, end_dt = moment, moment + step
            if as_date:
                return prefix, Span(start_dt.date(), start_dt.date() + timedelta(days=1))
            return prefix, Span(start_dt, end_dt)
        first = date(int(year), int(month or 1), int(day or 1))
        if day is not None:
            last = first + timedelta(days=1)
        elif month is not None:
            last = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        else:
            last = date(first.year + 1, 1, 1)
    except (ValueError, OverflowError):
        raise bad(parameter, _("The search parameter %(name)s takes a date such as 2024-05-01.",
                               name=parameter)) from None
    if as_date:
        return prefix, Span(first, last)
    return prefix, Span(datetime(first.year, first.month, first.day, tzinfo=zone),
                        datetime(last.year, last.month, last.day, tzinfo=zone))


def date_condition(column: Any, prefix: str, span: Span) -> ColumnElement:
    inside = and_(column >= span.start, column < span.end)
    conditions: dict[str, Callable[[], ColumnElement]] = {
        "eq": lambda: inside, "ne": lambda: not_(inside), "gt": lambda: column >= span.end,
        "ge": lambda: column >= span.start, "lt": lambda: column < span.start, "le": lambda: column < span.end,
    }
    return conditions[prefix]()


def token(text: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``code`` -> (None, code); ``|code`` -> ("", code)."""
    if "|" in text:
        system, code = text.split("|", 1)
        return system, code
    return None, text


def reference_id(parameter: str, text: str, kind: str) -> int:
    """``Patient/12``, ``12`` or an absolute URL ending in ``Patient/12`` -> 12."""
    value = text.rstrip("/")
    if "/" in value:
        head, _slash, value = value.rpartition("/")
        if not head.endswith(kind):
            raise bad(parameter, _("The search parameter %(name)s refers to a %(kind)s, as %(kind)s/123.",
                                   name=parameter, kind=kind))
    return int_id(parameter, value)


def int_id(parameter: str, value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise bad(parameter)
    return int(value)


def valid_fhir_id(value: str) -> bool:
    return _FHIR_ID.match(value) is not None


def paging(values: dict[str, list[str]]) -> tuple[int, int]:
    """``_count`` (default 20, at most 100; 0 gives the total only) and ``_offset``."""
    count, offset = DEFAULT_COUNT, 0
    for name, upper in (("_count", MAX_COUNT), ("_offset", MAX_OFFSET)):
        given = values.get(name)
        if not given:
            continue
        text = given[-1]
        if len(given) > 1 or not text.isascii() or not text.isdigit() or int(text) > upper:
            raise bad(name, _("The search parameter %(name)s takes a whole number from 0 to %(max)s.",
                              name=name, max=upper))
        if name == "_count":
            count = int(text)
        else:
            offset = int(text)
    return count, offset
