"""Signed links in a reminder that let a patient confirm, cancel or move one appointment without
logging in.

A link is ``/clinic/visit/<purpose>/<token>`` (the SMS's "choose" page is ``/clinic/visit/<token>``).
The token is an itsdangerous ``URLSafeTimedSerializer`` signature with the app's ``SECRET_KEY`` and
a salt per purpose, over ``[appointment id, start time, expiry]`` (Unix seconds). So a link:

- works for one purpose only: a cancel token opened as a confirm link fails the signature;
- is bound to one appointment and its start time: once the appointment moves, a link made for the
  old time is refused ("moved", with the new time), and a link for another appointment cannot be
  made by editing the token (the signature breaks);
- expires ``REMINDER_LINK_DAYS`` after it was made, and never later than the visit itself.

Nothing is stored: a link stays usable until it expires (confirming twice says "already
confirmed"; cancelling twice says "already cancelled"). Every change goes through the booking
workflow (``app.services.booking``), with the patient's cut-off where a patient's change has one.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from flask_babel import format_date, gettext as _
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from app.models import Appointment
from app.services import booking
from app.services.errors import Conflict, DomainError
from app.services.settings import ClinicSettings, public_base_url

PURPOSES = ("confirm", "cancel", "reschedule", "choose")
ACTIONS = ("confirm", "cancel", "reschedule")  # the buttons (the "choose" page offers these three)
MAX_TOKEN_LENGTH = 200
MAX_ID = 2**31 - 1
CLOSED_STATUSES = ("checked_in", "in_consultation", "completed", "no_show")


class AppointmentLinkRefused(DomainError):
    """A link that cannot be used, and why: ``reason`` is "invalid" (altered, another purpose's
    or unreadable: 400), "gone" (no such appointment: 404), "cancelled", "moved", "closed" (the
    visit took place) or "expired" (410). ``appointment`` is set when it is known (the "moved"
    page shows the new time)."""

    def __init__(self, reason: str, message: str, status: int, appointment: Appointment | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.appointment = appointment


@dataclass(frozen=True)
class LinkTarget:
    appointment: Appointment
    expires_at: datetime


def visit_time(moment: datetime, zone: Any) -> str:
    """A visit's time in clinic time, as the current language writes it:
    "Thursday, 3 December 2026 at 08:30" / "Thứ Năm, 03/12/2026 lúc 08:30"."""
    local = moment.astimezone(zone)
    # The date pattern is itself translated (Babel's pattern syntax): each language its own order.
    pattern = _("EEEE, d MMMM yyyy")
    return _("%(day)s at %(time)s", day=format_date(local.date(), pattern), time=f"{local:%H:%M}")


@functools.lru_cache(maxsize=64)
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:  # kept: it holds no state between calls
    if purpose not in PURPOSES:
        raise ValueError(f"unknown appointment link purpose {purpose!r}")
    return URLSafeTimedSerializer(secret, salt=f"clinic-appointment-link:{purpose}")


def _seconds(moment: datetime) -> int:
    return int(moment.astimezone(timezone.utc).timestamp())


def link_expiry(start_at: datetime, now: datetime, days: int) -> datetime:
    """``days`` from ``now``, but never after the visit."""
    return min(now + timedelta(days=days), start_at)


def make_token(secret: str, purpose: str, appointment_id: int, start_at: datetime, expires_at: datetime) -> str:
    return _serializer(secret, purpose).dumps([appointment_id, _seconds(start_at), _seconds(expires_at)])


def link_path(purpose: str, token: str) -> str:
    """The path of a link (the routes in app/public/appointment_links.py)."""
    return f"/clinic/visit/{token}" if purpose == "choose" else f"/clinic/visit/{purpose}/{token}"


def link_url(config: Mapping, purpose: str, appointment: Appointment, *, now: datetime, language: str | None = None,
             expires_at: datetime | None = None) -> str:
    """The absolute URL (``PUBLIC_BASE_URL``: jobs have no request) of a ``purpose`` link for
    ``appointment`` at its current start time; ``language`` opens the page in it."""
    expires_at = expires_at or link_expiry(appointment.start_at, now, int(config.get("REMINDER_LINK_DAYS", 14)))
    token = make_token(config["SECRET_KEY"], purpose, appointment.id, appointment.start_at, expires_at)
    base = public_base_url(config)
    query = f"?lang={language}" if language else ""
    return f"{base}{link_path(purpose, token)}{query}"


def _invalid() -> AppointmentLinkRefused:
    return AppointmentLinkRefused("invalid", _(
        "This link is not valid. Please use the link in your latest message from the clinic, or call the clinic."),
        400)


def check_link(session: Session, token: str | None, purpose: str, *, secret: str, now: datetime,
               zone: Any) -> LinkTarget:
    """The appointment a ``purpose`` link opens, if it may still be used; raises
    ``AppointmentLinkRefused`` saying why not. Changes nothing."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadData:
        raise _invalid() from None
    if not (isinstance(payload, list) and len(payload) == 3 and all(type(x) is int for x in payload)
            and 0 < payload[0] <= MAX_ID):
        raise _invalid()
    appointment_id, start_seconds, expires_seconds = payload
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise AppointmentLinkRefused("gone", _("This appointment no longer exists. Please call the clinic."), 404)
    if appointment.status == "cancelled":
        raise AppointmentLinkRefused("cancelled", _("This appointment has already been cancelled."), 410,
                                     appointment)
    if _seconds(appointment.start_at) != start_seconds:
        raise AppointmentLinkRefused("moved", _(
            "This appointment has been moved to %(when)s. This link was for the old time: please use the link in "
            "your latest message.", when=visit_time(appointment.start_at, zone)), 410, appointment)
    if appointment.status in CLOSED_STATUSES:
        raise AppointmentLinkRefused("closed", _("This appointment can no longer be changed online."), 410,
                                     appointment)
    expires_at = datetime.fromtimestamp(expires_seconds, timezone.utc)
    if now >= expires_at:
        raise AppointmentLinkRefused("expired", _(
            "This link has expired. Please call the clinic if you need to change your appointment."), 410,
            appointment)
    return LinkTarget(appointment, expires_at)


def action_urls(config: Mapping, target: LinkTarget, *, language: str | None = None) -> dict[str, str]:
    """The confirm, cancel and reschedule links for the appointment a valid link opened (the
    "choose" page): they expire with it."""
    return {purpose: link_url(config, purpose, target.appointment, now=target.expires_at, language=language,
                              expires_at=target.expires_at) for purpose in ACTIONS}


def too_late_to_change(appointment: Appointment, settings: ClinicSettings, now: datetime) -> bool:
    """After the patient cut-off, only the clinic changes the appointment."""
    return appointment.start_at - now < settings.booking.patient_cutoff


def confirm_by_link(session: Session, token: str | None, *, secret: str, settings: ClinicSettings,
                    now: datetime) -> tuple[Appointment, bool]:
    """Confirm the appointment; (appointment, False) when it was confirmed already. Commits."""
    appointment = check_link(session, token, "confirm", secret=secret, now=now, zone=settings.timezone).appointment
    if appointment.status == "confirmed":
        return appointment, False
    try:
        booking.transition_appointment(session, appointment.id, "confirmed", actor_id=None, settings=settings,
                                       reason=_("Confirmed from the reminder"), now=now)
    except Conflict:  # the same button pressed twice at once: the other press confirmed it
        session.rollback()
        current = session.get(Appointment, appointment.id, populate_existing=True)
        if current is not None and current.status == "confirmed":
            return current, False
        raise
    return appointment, True


def cancel_by_link(session: Session, token: str | None, *, reason: str | None, secret: str,
                   settings: ClinicSettings, now: datetime) -> Appointment:
    """Cancel the appointment as its patient (the cut-off applies). Commits."""
    appointment = check_link(session, token, "cancel", secret=secret, now=now, zone=settings.timezone).appointment
    return booking.transition_appointment(
        session, appointment.id, "cancelled", actor_id=None, settings=settings, by_patient=True, now=now,
        reason=(reason or "").strip() or _("Cancelled by the patient from the reminder"))


def reschedule_by_link(session: Session, token: str | None, new_start: datetime, *, secret: str,
                       settings: ClinicSettings, now: datetime) -> Appointment:
    """Move the appointment to ``new_start`` (same doctor and service) as its patient: checked like
    a new booking; a time just taken raises ``Conflict`` and nothing changes. Commits."""
    appointment = check_link(session, token, "reschedule", secret=secret, now=now,
                             zone=settings.timezone).appointment
    return booking.reschedule_appointment(session, appointment.id, new_start, actor_id=None, settings=settings,
                                          by_patient=True, now=now)


def reschedule_choices(session: Session, appointment: Appointment, *, settings: ClinicSettings, days: int = 14,
                       now: datetime | None = None) -> list:
    """Free times of the same doctor and service for the next ``days`` days (the current time left
    out)."""
    today = (now or settings.now()).astimezone(settings.timezone).date()
    try:
        slots = booking.free_slots(session, doctor_id=appointment.doctor_id, service_id=appointment.service_id,
                                   date_from=today, date_to=today + timedelta(days=days - 1), settings=settings,
                                   ignore_appointment_id=appointment.id)
    except DomainError:
        return []
    return [slot for slot in slots if slot.start != appointment.start_at]
