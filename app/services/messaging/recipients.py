"""Who gets a message on which channel: a patient's own choices (profile), the clinic's channels,
the address on file, and quiet hours. Every decision not to send is written as a skipped message
with its reason, so the delivery dashboard can count them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Session

from app.models import OutboundMessage, Patient, UserProfile
from app.services.messaging.delivery import queue_message
from app.services.messaging.settings import MessagingSettings


@dataclass(frozen=True)
class Contact:
    channel: str
    address: str | None  # None: nothing on file (the message is written as skipped: no_address)
    skip_reason: str | None = None  # no_address, opted_out


@dataclass(frozen=True)
class Recipient:
    name: str
    language: str
    contacts: tuple[Contact, ...]
    user_id: int | None = None
    patient_id: int | None = None
    quiet: tuple[time, time] | None = None  # clinic time, may span midnight


def _profile(session: Session, user_id: int | None) -> UserProfile | None:
    return session.get(UserProfile, user_id) if user_id is not None else None


def _chosen(profile: UserProfile | None, settings: MessagingSettings,
            addresses: Mapping[str, str | None]) -> dict[str, bool]:
    """What the person chose; someone who never chose (no profile) gets e-mail, and SMS when they
    have no e-mail address (a phone is then the only way to reach them) or SMS_DEFAULT_ON is set."""
    if profile is None:
        return {"email": True, "sms": settings.sms_default or not addresses.get("email"), "zalo": False}
    return {"email": bool(profile.notify_email), "sms": bool(profile.notify_sms),
            "zalo": bool(getattr(profile, "notify_zalo", False))}


def _contacts(addresses: Mapping[str, str | None], chosen: Mapping[str, bool],
              settings: MessagingSettings) -> tuple[Contact, ...]:
    contacts = []
    for channel in ("email", "sms", "zalo"):
        if channel not in settings.channels:
            continue
        if not chosen.get(channel):
            if channel == "email":  # e-mail is the default: turning it off is counted as opted out
                contacts.append(Contact(channel, addresses.get(channel), "opted_out"))
            continue
        address = addresses.get(channel)
        contacts.append(Contact(channel, address, None if address else "no_address"))
    return tuple(contacts)


def patient_recipient(session: Session, patient_id: int, settings: MessagingSettings) -> Recipient | None:
    patient = session.get(Patient, patient_id)
    if patient is None:
        return None
    user = session.get(User, patient.user_id) if patient.user_id else None
    return _patient_recipient(patient, user, _profile(session, patient.user_id), settings)


def patient_recipients(session: Session, patient_ids: Iterable[int], settings: MessagingSettings
                       ) -> dict[int, Recipient]:
    """``patient_recipient`` for many patients in three queries (the reminder job's batches)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    patients = list(session.execute(sa.select(Patient).where(Patient.id.in_(ids))).scalars())
    user_ids = sorted({p.user_id for p in patients if p.user_id})
    users = {u.id: u for u in session.execute(sa.select(User).where(User.id.in_(user_ids))).scalars()} \
        if user_ids else {}
    profiles = {p.user_id: p for p in session.execute(
        sa.select(UserProfile).where(UserProfile.user_id.in_(user_ids))).scalars()} if user_ids else {}
    return {p.id: _patient_recipient(p, users.get(p.user_id) if p.user_id else None,
                                     profiles.get(p.user_id) if p.user_id else None, settings)
            for p in patients}


def _patient_recipient(patient: Patient, user: User | None, profile: UserProfile | None,
                       settings: MessagingSettings) -> Recipient:
    email = patient.email or (user.email if user is not None else None)
    addresses = {"email": email, "sms": patient.phone, "zalo": patient.phone}
    quiet = (profile.quiet_from, profile.quiet_until) if profile and profile.quiet_from and profile.quiet_until \
        else None
    return Recipient(name=patient.full_name, language=(profile.language if profile and profile.language
                                                       else settings.default_language),
                     contacts=_contacts(addresses, _chosen(profile, settings, addresses), settings),
                     user_id=patient.user_id, patient_id=patient.id, quiet=quiet)


def user_recipient(session: Session, user_id: int, settings: MessagingSettings) -> Recipient | None:
    """A staff login (or any login): e-mail to the login's address, SMS to the profile's phone."""
    user = session.get(User, user_id)
    if user is None:
        return None
    patient_id = session.execute(sa.select(Patient.id).where(Patient.user_id == user_id)).scalar()
    if patient_id is not None:
        return patient_recipient(session, patient_id, settings)
    profile = _profile(session, user_id)
    addresses = {"email": user.email, "sms": profile.phone if profile else None,
                 "zalo": profile.phone if profile else None}
    name = " ".join(p for p in ((user.last_name or "").strip(), (user.first_name or "").strip()) if p)
    quiet = (profile.quiet_from, profile.quiet_until) if profile and profile.quiet_from and profile.quiet_until \
        else None
    return Recipient(name=name or user.username, language=(profile.language if profile and profile.language
                                                           else settings.default_language),
                     contacts=_contacts(addresses, _chosen(profile, settings, addresses), settings), user_id=user_id,
                     quiet=quiet)


def in_quiet_hours(moment: datetime, quiet: tuple[time, time] | None, settings: MessagingSettings) -> datetime | None:
    """When ``moment`` falls in the quiet window: the (UTC) moment the window ends; else None."""
    if quiet is None:
        return None
    start, end = quiet
    local = moment.astimezone(settings.timezone)
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=settings.timezone).astimezone(moment.tzinfo)


def contact_plan(contact: Contact, recipient: Recipient, *, now: datetime, settings: MessagingSettings,
                 latest: datetime | None = None) -> tuple[str | None, datetime | None]:
    """How a message to ``contact`` is queued: (skip reason or None, not before). SMS and Zalo inside
    the recipient's quiet hours wait for the window's end, or are skipped (quiet_hours) when that
    is after ``latest``."""
    skip, not_before = contact.skip_reason, None
    if skip is None and contact.channel in ("sms", "zalo"):
        not_before = in_quiet_hours(now, recipient.quiet, settings)
        if not_before is not None and latest is not None and not_before >= latest:
            skip, not_before = "quiet_hours", None
    return skip, not_before


def queue_for(session: Session, recipient: Recipient, kind: str, params: Mapping[str, Any], *, now: datetime,
              settings: MessagingSettings, dedupe_key: str | None = None, appointment_id: int | None = None,
              channels: tuple[str, ...] | None = None, latest: datetime | None = None,
              created_by_id: int | None = None) -> list[OutboundMessage]:
    """One message per contact of ``recipient`` (limited to ``channels``), skipped ones included;
    no commit. ``dedupe_key`` gets ``:<channel>`` appended. SMS and Zalo inside the recipient's
    quiet hours wait for the window's end, or are skipped (quiet_hours) when that is after
    ``latest`` (a reminder arriving after the visit is no reminder)."""
    made = []
    for contact in recipient.contacts:
        if channels is not None and contact.channel not in channels:
            continue
        skip, not_before = contact_plan(contact, recipient, now=now, settings=settings, latest=latest)
        message = queue_message(
            session, channel=contact.channel, kind=kind, recipient=contact.address, language=recipient.language,
            params=params, dedupe_key=f"{dedupe_key}:{contact.channel}" if dedupe_key else None,
            recipient_name=recipient.name, user_id=recipient.user_id, patient_id=recipient.patient_id,
            appointment_id=appointment_id, not_before=not_before, skip_reason=skip, created_by_id=created_by_id,
            now=now)
        if message is not None:
            made.append(message)
    return made


def queue_for_patient(session: Session, patient_id: int, kind: str, params: Mapping[str, Any], *, now: datetime,
                      settings: MessagingSettings, **options: Any) -> list[OutboundMessage]:
    recipient = patient_recipient(session, patient_id, settings)
    return [] if recipient is None else queue_for(session, recipient, kind, params, now=now, settings=settings,
                                                  **options)


def queue_for_user(session: Session, user_id: int, kind: str, params: Mapping[str, Any], *, now: datetime,
                   settings: MessagingSettings, **options: Any) -> list[OutboundMessage]:
    recipient = user_recipient(session, user_id, settings)
    return [] if recipient is None else queue_for(session, recipient, kind, params, now=now, settings=settings,
                                                  **options)


def to_send(messages: list[OutboundMessage]) -> list[int]:
    """The ids to hand to ``enqueue_deliveries`` after the commit (skipped ones need no job)."""
    return [m.id for m in messages if m.status == "queued"]
