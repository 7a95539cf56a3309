"""Signing up a patient on the public site (a login plus the linked patient record).

Plain functions with explicit arguments; creating the login is handed in as ``create_user`` so
this module never touches FAB or the request."""
from __future__ import annotations

from datetime import date
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Patient
from app.services import rules, validation as v
from app.services.errors import DomainError, ValidationFailed
from app.services.settings import ClinicSettings

MIN_PASSWORD_LENGTH = 8

# create_user(username, first_name, last_name, email, password) -> the new user's id, or None
CreateUser = Callable[[str, str, str, str, str], "int | None"]


class SignupRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors


def split_name(full_name: str) -> tuple[str, str]:
    """'Nguyễn Văn An' -> ('An', 'Nguyễn Văn'): the given name is the last word in Vietnamese."""
    parts = full_name.strip().rsplit(" ", 1)
    return (parts[1], parts[0]) if len(parts) == 2 else (parts[0], "")


def sign_up_patient(session: Session, *, username: str, full_name: str, phone: str, email: str,
                    date_of_birth: date | None, password: str, settings: ClinicSettings,
                    username_taken: Callable[[str], bool], email_taken: Callable[[str], bool],
                    create_user: CreateUser, known_errors: dict[str, str] | None = None) -> Patient:
    """Check every field (all errors at once), create the login and the linked patient, commit.
    ``known_errors``: fields the caller already found wrong (a form's own parsing, e.g. a date
    that is no date); they are reported together with these checks and nothing is written."""
    errors: dict[str, str] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = _("This field is required.")
    elif len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        errors["username"] = _("Use up to 64 letters, digits, dots, dashes or underscores.")
    elif username_taken(username):
        errors["username"] = _("This username is already taken.")
    checks = {
        "full_name": lambda: v.require_text("full_name", full_name, 150),
        "phone": lambda: v.require_text("phone", phone) and v.normalize_phone("phone", phone, settings.phone_region),
        "email": lambda: v.require_text("email", email) and v.normalize_email("email", email),
    }
    clean: dict[str, str | None] = {}
    for field, check in checks.items():
        try:
            clean[field] = check()
        except ValidationFailed as exc:
            errors[field] = exc.message
    if "email" not in errors and email_taken(clean["email"] or ""):
        errors["email"] = _("This email address is already used by another login.")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    for field, message in (known_errors or {}).items():
        errors.setdefault(field, message)
    patient = Patient(full_name=clean.get("full_name") or full_name, phone=clean.get("phone"),
                      email=clean.get("email"), date_of_birth=date_of_birth)
    if not errors:
        try:
            rules.validate(session, patient, settings)  # the same rules as the back office
        except ValidationFailed as exc:
            errors[exc.field or "full_name"] = exc.message
    if errors:
        session.rollback()
        raise SignupRefused(errors)
    first_name, last_name = split_name(patient.full_name)
    user_id = create_user(username, first_name[:64], last_name[:64], patient.email or "", password)
    if not user_id:
        session.rollback()
        raise DomainError(_("The account could not be created. Please try again."))
    patient.user_id = user_id
    session.add(patient)
    session.commit()
    return patient
