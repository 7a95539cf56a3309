"""Every user's own profile: name, phone, e-mail (a change waits for the link sent to the new
address: ``app.services.signup.request_email_change`` / ``change_email``), the language of their
pages and e-mails, and how the clinic may reach them; and, for a patient, all their data as JSON.

Where each value lives: the name on the login (FAB's ``first_name``/``last_name``, split the
Vietnamese way: the given name is the last word) and, for a patient, also on their patient record;
the phone on the patient record for a patient, else on ``UserProfile``; language and channels on
``UserProfile`` (no row: the browser's language, notices by e-mail).

Other issues read the choices through ``notification_channels`` / ``patient_notification_channels``
(reminders) and ``stored_language`` (e-mails)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import phonenumbers
from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models import (
    AccountLink,
    Appointment,
    Diagnosis,
    Encounter,
    Invoice,
    InvoiceLine,
    LabOrder,
    LabResult,
    Patient,
    Payment,
    PendingSignup,
    Prescription,
    PrescriptionItem,
    Review,
    UserProfile,
)
from app.services import rules, validation as v
from app.services.errors import NotFound, ValidationFailed
from app.services.settings import ClinicSettings
from app.services.signup import request_email_change, split_name

CHANNELS = ("email", "sms", "zalo")
PHONE_CHANNELS = ("sms", "zalo")  # need a phone number
DEFAULT_CHANNELS = frozenset({"email"})
NAME_PART_MAX = 64  # FAB's first_name / last_name


class ProfileRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors

    def as_dict(self) -> dict:
        return {"message": {name: [message] for name, message in self.errors.items()}}


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    full_name: str
    email: str | None
    pending_email: str | None  # a change asked for, waiting for its link
    phone: str | None
    language: str | None
    channels: list[str]
    roles: list[str]
    patient_id: int | None
    quiet_from: time | None = None  # no SMS/Zalo from this time (clinic time) ...
    quiet_until: time | None = None  # ... until this one (may span midnight); both or neither

    @property
    def is_patient(self) -> bool:
        return self.patient_id is not None


@dataclass(frozen=True)
class ProfileUpdate:
    """What ``update_profile`` did: the fields saved, and the e-mail change asked for (the address
    and the token to mail to it; the token is None when the address belongs to another login)."""

    profile: Profile
    changed: list[str] = field(default_factory=list)
    email_change: tuple[str, str | None] | None = None
    old_email: str | None = None


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("This login does not exist."))
    return user


def _patient(session: Session, user_id: int) -> Patient | None:
    return session.execute(select(Patient).where(Patient.user_id == user_id)).scalars().first()


def full_name_of(user: User, patient: Patient | None = None) -> str:
    """The name as the person writes it: the patient record's, else family name then given name."""
    if patient is not None and patient.full_name:
        return patient.full_name
    return " ".join(part for part in ((user.last_name or "").strip(), (user.first_name or "").strip()) if part)


def _channels(row: UserProfile | None) -> set[str]:
    if row is None:
        return set(DEFAULT_CHANNELS)
    return {name for name, on in (("email", row.notify_email), ("sms", row.notify_sms), ("zalo", row.notify_zalo))
            if on}


def _pending_email(session: Session, user_id: int, now: datetime) -> str | None:
    link = session.execute(select(AccountLink).where(
        AccountLink.user_id == user_id, AccountLink.purpose == "email_change", AccountLink.used_at.is_(None),
        AccountLink.expires_at > now).order_by(AccountLink.id.desc())).scalars().first()
    return link.email if link is not None else None


def read_profile(session: Session, user_id: int, now: datetime) -> Profile:
    user = _user(session, user_id)
    patient = _patient(session, user_id)
    row = session.get(UserProfile, user_id)
    return Profile(
        user_id=user.id, username=user.username, full_name=full_name_of(user, patient), email=user.email,
        pending_email=_pending_email(session, user_id, now),
        phone=patient.phone if patient is not None else (row.phone if row is not None else None),
        language=row.language if row is not None else None,
        channels=[name for name in CHANNELS if name in _channels(row)],
        roles=sorted(role.name for role in user.roles), patient_id=patient.id if patient is not None else None,
        quiet_from=row.quiet_from if row is not None else None,
        quiet_until=row.quiet_until if row is not None else None)


def format_quiet_time(value: time | None) -> str:
    """A quiet-hours bound as shown and sent ("21:00"); "" for none."""
    return value.strftime("%H:%M") if value is not None else ""


def parse_quiet_time(field_name: str, value: Any) -> time | None:
    """"21:00" (24-hour HH:MM) -> time(21, 0); empty -> None; anything else -> ValidationFailed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    text = str(value).strip()
    try:
        hours, minutes = text.split(":")
        if len(hours) not in (1, 2) or len(minutes) != 2 or not (hours + minutes).isdigit():
            raise ValueError(text)
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValidationFailed(_("Use the 24-hour form HH:MM, for example 21:00."), field_name) from None


def display_phone(phone: str | None, region: str) -> str:
    """A stored (E.164) number as people of the clinic's region write it: "+84903123456" ->
    "0903 123 456"; a foreign number stays international."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return phone
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if phonenumbers.region_code_for_number(number) == region
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)


def stored_language(session: Session, user_id: int | None, languages: Iterable[str] | None = None) -> str | None:
    """The language the user chose on their profile (None: not chosen), among ``languages``."""
    if user_id is None:
        return None
    language = session.execute(select(UserProfile.language).where(UserProfile.user_id == user_id)).scalar()
    if language is None or (languages is not None and language not in set(languages)):
        return None
    return language


def remember_language(session: Session, *, user_id: int, language: str, languages: Iterable[str],
                      now: datetime) -> bool:
    """The language the user switched the site to becomes their profile's (what the clinic sends
    them afterwards follows it: e-mails, notice titles). Nothing when ``language`` is not one of
    ``languages`` or already stored; True when it changed. Commits."""
    if language not in set(languages):
        return False
    row = session.get(UserProfile, user_id)
    if row is not None and row.language == language:
        return False
    if row is None:
        row = UserProfile(user_id=user_id, notify_email=True, notify_sms=False)
        session.add(row)
    row.language, row.updated_at = language, now
    record_event(session, "profile_update", "User", user_id, {"fields": ["language"]}, user_id=user_id)
    session.commit()
    return True


def notification_channels(session: Session, user_id: int) -> set[str]:
    """How the clinic may reach this login: a subset of {"email", "sms", "zalo"} (empty: no notices).
    A login that never saved its profile: {"email"}."""
    return _channels(session.get(UserProfile, user_id))


def patient_notification_channels(session: Session, patient_id: int) -> set[str]:
    """The channels of the patient's login; a patient without a login: the defaults."""
    user_id = session.execute(select(Patient.user_id).where(Patient.id == patient_id)).scalar()
    return notification_channels(session, user_id) if user_id is not None else set(DEFAULT_CHANNELS)


def _check(session: Session, user: User, patient: Patient | None, row: UserProfile | None,
           changes: Mapping[str, Any], settings: ClinicSettings, languages: Iterable[str]) -> tuple[dict, dict]:
    """The cleaned values of ``changes`` and the problems, by field. May leave the patient record
    changed in the session (its rules are checked on it): the caller commits or rolls back."""
    languages = list(languages)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "full_name" in changes:
        try:
            name = " ".join(v.require_text("full_name", changes["full_name"], 150).split())
            given, family = split_name(name)
            if len(given) > NAME_PART_MAX or len(family) > NAME_PART_MAX:
                raise ValidationFailed(_("At most %(n)d characters.", n=NAME_PART_MAX), "full_name")
            clean["full_name"] = name
        except ValidationFailed as exc:
            errors["full_name"] = exc.message
    if "phone" in changes:
        try:
            clean["phone"] = v.normalize_phone("phone", changes["phone"], settings.phone_region)
        except ValidationFailed as exc:
            errors["phone"] = exc.message
    if "email" in changes:
        try:
            address = (v.normalize_email("email", v.require_text("email", changes["email"], 254)) or "").lower()
            if address != (user.email or "").lower():
                clean["email"] = address
        except ValidationFailed as exc:
            errors["email"] = exc.message
    if "language" in changes:
        language = changes["language"] or None
        if language is not None and language not in set(languages):
            errors["language"] = _("Choose one of: %(choices)s.", choices=", ".join(languages))
        else:
            clean["language"] = language
    if "channels" in changes:
        chosen = set(changes["channels"] or ())
        if not chosen <= set(CHANNELS):
            errors["channels"] = _("Choose one of: %(choices)s.", choices=", ".join(CHANNELS))
        elif chosen & set(PHONE_CHANNELS) and not clean.get(
                "phone", patient.phone if patient is not None else (row.phone if row is not None else None)):
            errors["channels"] = _("Give a phone number to get text or Zalo messages.")
        else:
            clean["channels"] = chosen
    if "quiet_from" in changes or "quiet_until" in changes:
        _check_quiet_hours(row, changes, clean, errors)
    if patient is not None and not errors and ("full_name" in clean or "phone" in clean):
        with session.no_autoflush:
            patient.full_name = clean.get("full_name", patient.full_name)
            if "phone" in clean:
                patient.phone = clean["phone"]
            try:
                rules.validate(session, patient, settings)  # the same rules as the desk's screens
            except ValidationFailed as exc:
                errors[exc.field or "full_name"] = exc.message
    return clean, errors


def _check_quiet_hours(row: UserProfile | None, changes: Mapping[str, Any], clean: dict, errors: dict) -> None:
    """Quiet hours: both bounds or neither, each HH:MM, not the same time. A bound not in
    ``changes`` keeps its stored value."""
    bounds: dict[str, time | None] = {}
    for name in ("quiet_from", "quiet_until"):
        if name not in changes:
            bounds[name] = getattr(row, name) if row is not None else None
            continue
        try:
            bounds[name] = parse_quiet_time(name, changes[name])
        except ValidationFailed as exc:
            errors[name] = exc.message
    if "quiet_from" in errors or "quiet_until" in errors:
        return
    start, end = bounds["quiet_from"], bounds["quiet_until"]
    if (start is None) != (end is None):
        missing = "quiet_until" if end is None else "quiet_from"
        errors[missing] = _("Give both times of your quiet hours, or neither.")
    elif start is not None and start == end:
        errors["quiet_until"] = _("The quiet hours must end at another time than they start.")
    else:
        clean["quiet_from"], clean["quiet_until"] = start, end


def profile_problems(session: Session, *, user_id: int, changes: Mapping[str, Any], settings: ClinicSettings,
                     languages: Iterable[str]) -> dict[str, str]:
    """What is wrong with ``changes``, by field, saving nothing (so that an entry point can add
    these to the problems its own schema found, and name every broken field at once)."""
    user = _user(session, user_id)
    _clean, errors = _check(session, user, _patient(session, user_id), session.get(UserProfile, user_id), changes,
                            settings, languages)
    session.rollback()
    return errors


def update_profile(session: Session, *, user_id: int, changes: Mapping[str, Any], settings: ClinicSettings,
                   languages: Iterable[str], now: datetime, config: Mapping) -> ProfileUpdate:
    """Apply ``changes`` (any of full_name, phone, email, language, channels, quiet_from and
    quiet_until) to the user's own
    profile: every field checked first, all problems at once (``ProfileRefused``), nothing saved
    unless all pass. A new e-mail address is not applied: a link is made for it (see the module).
    Commits."""
    user = _user(session, user_id)
    patient = _patient(session, user_id)
    row = session.get(UserProfile, user_id)
    current = {"full_name": full_name_of(user, patient),
               "phone": patient.phone if patient is not None else (row.phone if row is not None else None),
               "language": row.language if row is not None else None, "channels": _channels(row),
               "quiet_from": row.quiet_from if row is not None else None,
               "quiet_until": row.quiet_until if row is not None else None}
    clean, errors = _check(session, user, patient, row, changes, settings, languages)
    if errors:
        session.rollback()
        raise ProfileRefused(errors)
    clean = {name: value for name, value in clean.items() if name == "email" or value != current[name]}
    changed = sorted(name for name in clean if name != "email")
    if "full_name" in clean:
        user.first_name, user.last_name = split_name(clean["full_name"])
    pending = session.get(PendingSignup, user_id) if patient is None else None
    if pending is not None:  # a sign-up not confirmed yet: its patient record is made with these
        pending.full_name = clean.get("full_name", pending.full_name)
        pending.phone = clean.get("phone", pending.phone)
    if {"phone", "language", "channels", "quiet_from", "quiet_until"} & set(clean):
        if row is None:
            row = UserProfile(user_id=user_id, notify_email=True, notify_sms=False)
            session.add(row)
        if "phone" in clean and patient is None:
            row.phone = clean["phone"]
        if "language" in clean:
            row.language = clean["language"]
        if "channels" in clean:
            row.notify_email, row.notify_sms = "email" in clean["channels"], "sms" in clean["channels"]
            row.notify_zalo = "zalo" in clean["channels"]
        if "quiet_from" in clean or "quiet_until" in clean:
            row.quiet_from = clean.get("quiet_from", row.quiet_from)
            row.quiet_until = clean.get("quiet_until", row.quiet_until)
        row.updated_at = now
    if changed:
        record_event(session, "profile_update", "User", user_id, {"fields": changed}, user_id=user_id)
    old_email = user.email
    session.commit()
    email_change = None
    if "email" in clean:
        email_change = request_email_change(session, user_id=user_id, new_email=clean["email"], now=now,
                                            config=config)
        record_event(session, "email_change_requested", "User", user_id, user_id=user_id)
        session.commit()
    return ProfileUpdate(read_profile(session, user_id, now), changed, email_change, old_email)


# --- "download all my data" ---------------------------------------------------------------------

PRIVATE_COLUMNS = {"search_text", "user_id", "idempotency_key", "provider_reference"}


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(item: Any) -> dict[str, Any]:
    """The record's columns, without search copies, logins and the staff logins that acted on it."""
    return {attr.key: _plain(getattr(item, attr.key)) for attr in inspect(item).mapper.column_attrs
            if attr.key not in PRIVATE_COLUMNS and not attr.key.endswith(("_by", "_by_id"))}


def _all(session: Session, query) -> list[Any]:
    return list(session.execute(query).scalars().all())


def patient_data(session: Session, patient_id: int) -> dict[str, Any]:
    """Everything the clinic keeps about one patient that is theirs to take away, as plain JSON
    values: the record, appointments, encounters with diagnoses, prescriptions with their items,
    lab orders with the results released to the patient, invoices with lines and payments,
    reviews. Reads only."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(_("No patient record"))
    encounters = _all(session, select(Encounter).where(Encounter.patient_id == patient_id).order_by(Encounter.id))
    encounter_ids = [e.id for e in encounters]
    diagnoses = _all(session, select(Diagnosis).where(Diagnosis.encounter_id.in_(encounter_ids))
                     .order_by(Diagnosis.id)) if encounter_ids else []
    prescriptions = _all(session, select(Prescription).where(Prescription.patient_id == patient_id)
                         .order_by(Prescription.id))
    items = _all(session, select(PrescriptionItem).where(
        PrescriptionItem.prescription_id.in_([p.id for p in prescriptions])).order_by(PrescriptionItem.id)) \
        if prescriptions else []
    orders = _all(session, select(LabOrder).where(LabOrder.patient_id == patient_id).order_by(LabOrder.id))
    results = _all(session, select(LabResult).where(
        LabResult.lab_order_id.in_([o.id for o in orders]), LabResult.released_to_patient.is_(True))
        .order_by(LabResult.id)) if orders else []
    invoices = _all(session, select(Invoice).where(Invoice.patient_id == patient_id).order_by(Invoice.id))
    invoice_ids = [i.id for i in invoices]
    lines = _all(session, select(InvoiceLine).where(InvoiceLine.invoice_id.in_(invoice_ids))
                 .order_by(InvoiceLine.id)) if invoice_ids else []
    payments = _all(session, select(Payment).where(Payment.invoice_id.in_(invoice_ids))
                    .order_by(Payment.id)) if invoice_ids else []
    return {
        "patient": _row(patient),
        "appointments": [_row(a) for a in _all(session, select(Appointment).where(
            Appointment.patient_id == patient_id).order_by(Appointment.start_at))],
        "encounters": [{**_row(e), "diagnoses": [_row(d) for d in diagnoses if d.encounter_id == e.id]}
                       for e in encounters],
        "prescriptions": [{**_row(p), "items": [_row(i) for i in items if i.prescription_id == p.id]}
                          for p in prescriptions],
        "lab_orders": [{**_row(o), "results": [_row(r) for r in results if r.lab_order_id == o.id]} for o in orders],
        "invoices": [{**_row(i), "lines": [_row(line) for line in lines if line.invoice_id == i.id],
                      "payments": [_row(p) for p in payments if p.invoice_id == i.id]} for i in invoices],
        "reviews": [_row(r) for r in _all(session, select(Review).where(Review.patient_id == patient_id)
                                          .order_by(Review.id))],
    }


def export_my_data(session: Session, *, user_id: int, now: datetime) -> dict[str, Any]:
    """A patient's own data (``patient_data``) with their account's, for "download all my data";
    the read is audited ("export"). NotFound for a login without a patient record. Commits the
    audit row only."""
    patient = _patient(session, user_id)
    if patient is None:
        raise NotFound(_("Your login is not linked to a patient record. Please contact the clinic."))
    profile = read_profile(session, user_id, now)
    data = {"exported_at": now.isoformat(),
            "account": {"username": profile.username, "full_name": profile.full_name, "email": profile.email,
                        "phone": profile.phone, "language": profile.language, "channels": profile.channels},
            **patient_data(session, patient.id)}
    record_event(session, "export", "Patient", patient.id, {"what": "all my data"}, user_id=user_id)
    session.commit()
    return data


def export_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
