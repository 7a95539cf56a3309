"""Field checks shared by every entry point. Each raises ValidationFailed naming the field."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.errors import ValidationFailed


def normalize_email(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationFailed(_("Enter a valid email address."), field) from None


def normalize_phone(field: str, value: str | None, region: str) -> str | None:
    """Accept local ("0912 345 678") or international ("+84912345678") numbers; store E.164."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(_("Enter a valid phone number."), field) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(_("Enter a valid phone number."), field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def require_text(field: str, value: str | None, max_length: int | None = None) -> str:
    if value is None or not str(value).strip():
        raise ValidationFailed(_("This field is required."), field)
    value = str(value).strip()
    if max_length and len(value) > max_length:
        raise ValidationFailed(_("At most %(n)d characters.", n=max_length), field)
    return value


def not_in_future(field: str, value: date | None, today: date) -> None:
    if value is not None and value > today:
        raise ValidationFailed(_("This date cannot be in the future."), field)


def non_negative(field: str, value: Any) -> None:
    if value is not None and Decimal(str(value)) < 0:
        raise ValidationFailed(_("Must be zero or more."), field)


def positive(field: str, value: Any) -> None:
    if value is None or Decimal(str(value)) <= 0:
        raise ValidationFailed(_("Must be more than zero."), field)


def in_range(field: str, value: Any, low: Any, high: Any) -> None:
    if value is not None and not (low <= value <= high):
        raise ValidationFailed(_("Must be between %(low)s and %(high)s.", low=low, high=high), field)


def matches(field: str, value: str | None, pattern: str, message: str) -> None:
    if value and not re.fullmatch(pattern, value):
        raise ValidationFailed(message, field)


def unique(session: Session, item: Any, field: str, message: str) -> None:
    """Friendly pre-check of a unique column; the database constraint is the real guarantee."""
    value = getattr(item, field)
    if value is None:
        return
    model = type(item)
    query = select(model.id).where(getattr(model, field) == value)
    if item.id is not None:
        query = query.where(model.id != item.id)
    with session.no_autoflush:
        if session.execute(query.limit(1)).first():
            raise ValidationFailed(message, field)
