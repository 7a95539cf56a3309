"""Repeat rules of a series of appointments: an RFC 5545 RRULE with an end (COUNT or UNTIL, at
most 100 visits), since a course of treatment has a last visit."""
from __future__ import annotations

from datetime import datetime, timezone

from dateutil.rrule import rrulestr
from flask_babel import gettext as _

from app.services.errors import ValidationFailed

MAX_OCCURRENCES = 100


def _malformed() -> ValidationFailed:
    return ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")


def _parses(rule: str) -> bool:
    """UNTIL may be UTC (…Z) or floating; dateutil wants the start to match, so try both."""
    for start in (datetime(2000, 1, 1), datetime(2000, 1, 1, tzinfo=timezone.utc)):
        try:
            rrulestr(rule, dtstart=start)
            return True
        except (ValueError, TypeError):
            continue
    return False


def check_repeat_rule(rule: object) -> str:
    """The rule without "RRULE:", or ValidationFailed on the field ``rule`` saying what is wrong."""
    if rule is not None and not isinstance(rule, str):
        raise _malformed()
    rule = (rule or "").strip().removeprefix("RRULE:")
    if not rule:
        raise ValidationFailed(_("This field is required."), "rule")
    if "\n" in rule or "\r" in rule or not _parses(rule):
        raise _malformed()
    parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise ValidationFailed(_("Say when the series ends: COUNT=… or UNTIL=…."), "rule")
    if "COUNT" in parts:
        try:
            count = int(parts["COUNT"])
        except ValueError:
            raise _malformed() from None
        if not 1 <= count <= MAX_OCCURRENCES:
            raise ValidationFailed(_("A series has 1 to 100 appointments."), "rule")
    return rule
