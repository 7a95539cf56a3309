"""iCalendar (RFC 5545): one appointment as an ``.ics`` file, and each doctor's private feed.

Times are written in UTC (``...Z``), so no VTIMEZONE is needed; calendar apps show them in
their own zone. An event's UID is stable per appointment and its SEQUENCE grows with
``updated_at``, so a re-imported or refreshed event replaces the old one instead of doubling it.

The feed is reached by a secret URL (``Doctor.calendar_token``); rotating the token revokes the
old URL, revoking it leaves the doctor without a feed.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Appointment, Doctor
from app.models.scheduling import ACTIVE_STATUSES
from app.models.types import utcnow
from app.services.errors import Forbidden, NotFound
from app.services.settings import ClinicSettings
from app.services.text import fold

PRODID = "-//Clinic//Clinic management system//EN"
TOKEN_MAX_LENGTH = 64  # Doctor.calendar_token is Unicode(64)
MAX_ID = 2**31 - 1  # larger ids cannot exist (and PostgreSQL refuses them in a query)
FEED_REFRESH = timedelta(hours=1)  # a hint to calendar apps: how often to poll the feed
# SEQUENCE counts seconds from here: small enough for 32-bit clients until 2088.
_SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
ICAL_STATUS: dict[str, str] = {
    "requested": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "checked_in": "CONFIRMED",
    "in_consultation": "CONFIRMED",
    "completed": "CONFIRMED",
    "cancelled": "CANCELLED",
    "no_show": "CANCELLED",
}


# --- building calendars ------------------------------------------------------------------------


def _doctor(session: Session, doctor_id: int) -> Doctor:
    doctor = session.get(Doctor, doctor_id) if 0 < doctor_id <= MAX_ID else None
    if doctor is None:
        raise NotFound(_("Unknown doctor."))
    return doctor


def uid_domain_for(clinic_name: str) -> str:
    """The right-hand side of event UIDs when no host name is configured:
    "Phòng khám Đa khoa An Bình" -> "phong-kham-da-khoa-an-binh"."""
    return re.sub(r"[^a-z0-9]+", "-", fold(clinic_name)).strip("-") or "clinic"


def event_uid(appointment_id: int, domain: str) -> str:
    return f"appointment-{appointment_id}@{domain}"


def sequence_for(updated_at: datetime | None) -> int:
    """Grows with every change of the appointment, so calendar apps take the newer copy."""
    if updated_at is None:
        return 0
    return max(0, int((updated_at - _SEQUENCE_EPOCH).total_seconds()))


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    return calendar


def _event(appointment: Appointment, *, summary: str, description: str | None, clinic_name: str,
           domain: str) -> Event:
    event = Event()
    event.add("uid", event_uid(appointment.id, domain))
    # No METHOD on the calendar: DTSTAMP is then when the event was last revised (RFC 5545 3.8.7.2).
    event.add("dtstamp", appointment.updated_at or utcnow())
    if appointment.created_at is not None:
        event.add("created", appointment.created_at)
    if appointment.updated_at is not None:
        event.add("last-modified", appointment.updated_at)
    event.add("sequence", sequence_for(appointment.updated_at))
    event.add("dtstart", appointment.start_at.astimezone(timezone.utc))
    event.add("dtend", appointment.end_at.astimezone(timezone.utc))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    event.add("location", clinic_name)
    event.add("status", ICAL_STATUS.get(appointment.status, "TENTATIVE"))
    event.add("transp", "OPAQUE")
    return event


def escape_text(value: str) -> str:
    """An RFC 5545 TEXT value (3.3.11): backslash, semicolon and comma escaped, line breaks as ``\\n``."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold_line(line: str) -> str:
    """A content line folded as RFC 5545 3.1 asks (and as the icalendar library does): under 75
    octets a line, never inside a UTF-8 character, never right after a backslash escape."""
    if len(line) < 19 or len(line.encode("utf-8")) < 75:  # 4 octets a character at most
        return line
    folded: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if current and size + width >= 75:
            if len(current) > 1 and current[-1] in "\\^":  # keep an escape with what it escapes
                carried = current.pop()
                folded.append("".join(current))
                current, size = [carried], len(carried.encode("utf-8"))
            else:
                folded.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += width
    folded.append("".join(current))
    return "\r\n ".join(folded)


def _utc_stamp(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"


def _vevent_lines(appointment: Appointment, *, summary: str, description: str | None, clinic_name: str,
                  domain: str) -> list[str]:
    """The VEVENT of ``_event`` written directly (a reminder batch writes thousands of them), its
    properties in the order the icalendar library writes them."""
    lines = ["BEGIN:VEVENT", f"SUMMARY:{escape_text(summary)}",
             f"DTSTART:{_utc_stamp(appointment.start_at)}", f"DTEND:{_utc_stamp(appointment.end_at)}",
             f"DTSTAMP:{_utc_stamp(appointment.updated_at or utcnow())}",
             f"UID:{escape_text(event_uid(appointment.id, domain))}",
             f"SEQUENCE:{sequence_for(appointment.updated_at)}"]
    if appointment.created_at is not None:
        lines.append(f"CREATED:{_utc_stamp(appointment.created_at)}")
    if description:
        lines.append(f"DESCRIPTION:{escape_text(description)}")
    if appointment.updated_at is not None:
        lines.append(f"LAST-MODIFIED:{_utc_stamp(appointment.updated_at)}")
    lines += [f"LOCATION:{escape_text(clinic_name)}", f"STATUS:{ICAL_STATUS.get(appointment.status, 'TENTATIVE')}",
              "TRANSP:OPAQUE", "END:VEVENT"]
    return lines


def appointment_ics(appointment: Appointment, settings: ClinicSettings, *, clinic_name: str,
                    uid_domain: str | None = None) -> bytes:
    """One appointment as an ``.ics`` file, for the patient or the front desk to add to their
    own calendar: service and doctor in the title, the reason in the description."""
    summary = _("%(service)s with %(doctor)s", service=appointment.service.name, doctor=str(appointment.doctor))
    description = _("Reason: %(reason)s", reason=appointment.reason) if appointment.reason else None
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             f"X-WR-TIMEZONE:{escape_text(settings.timezone.key)}",
             *_vevent_lines(appointment, summary=summary, description=description, clinic_name=clinic_name,
                            domain=uid_domain or uid_domain_for(clinic_name)),
             "END:VCALENDAR"]
    return ("\r\n".join(fold_line(line) for line in lines) + "\r\n").encode("utf-8")


def feed_appointments(session: Session, doctor_id: int, *, since: datetime, until: datetime) -> list[Appointment]:
    """The doctor's appointments that hold a slot (``ACTIVE_STATUSES``: not cancelled, not a
    no-show) and overlap [since, until)."""
    query = (
        select(Appointment)
        .where(Appointment.doctor_id == doctor_id, Appointment.status.in_(ACTIVE_STATUSES),
               Appointment.end_at > since, Appointment.start_at < until)
        .options(selectinload(Appointment.patient), selectinload(Appointment.service))
        .order_by(Appointment.start_at, Appointment.id)
    )
    return list(session.scalars(query))


def doctor_feed_ics(session: Session, doctor_id: int, settings: ClinicSettings, *, clinic_name: str,
                    days_back: int = 30, days_ahead: int = 180, uid_domain: str | None = None,
                    now: datetime | None = None) -> bytes:
    """The doctor's private calendar feed: one event per appointment in the window.

    Privacy: a feed leaves the clinic's systems (it is copied into Google, Apple or Microsoft
    calendars, phones, and their backups), and anyone holding the URL can read it. Each event
    therefore names only the patient's *code* and the service. Never the patient's name, the
    reason for the visit, notes or diagnoses: the doctor opens the appointment in the clinic's
    system for those.
    """
    doctor = _doctor(session, doctor_id)
    now = now or settings.now()
    domain = uid_domain or uid_domain_for(clinic_name)
    calendar = _calendar()
    calendar.add("x-wr-calname", _("%(doctor)s · %(clinic)s", doctor=str(doctor), clinic=clinic_name))
    calendar.add("x-wr-timezone", settings.timezone.key)
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", FEED_REFRESH)
    appointments = feed_appointments(session, doctor_id, since=now - timedelta(days=days_back),
                                     until=now + timedelta(days=days_ahead))
    for appointment in appointments:
        summary = _("%(patient_code)s · %(service)s", patient_code=appointment.patient.code,
                    service=appointment.service.name)
        calendar.add_component(_event(appointment, summary=summary, description=None, clinic_name=clinic_name,
                                      domain=domain))
    return calendar.to_ical()


# --- the feed's secret -------------------------------------------------------------------------


def rotate_calendar_token(session: Session, doctor_id: int) -> str:
    """Give the doctor a new feed secret (the old URL stops working) and return it."""
    doctor = _doctor(session, doctor_id)
    token = secrets.token_urlsafe(32)
    doctor.calendar_token = token
    session.commit()
    return token


def revoke_calendar_token(session: Session, doctor_id: int) -> None:
    """Switch the doctor's feed off: its URL answers 404 until a new token is made."""
    doctor = _doctor(session, doctor_id)
    doctor.calendar_token = None
    session.commit()


def doctor_for_token(session: Session, token: str | None) -> Doctor | None:
    """The active doctor whose feed this secret opens, or None. The lookup goes through the
    unique index, so no constant-time comparison is needed; empty tokens never match."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    doctor = session.scalars(select(Doctor).where(Doctor.calendar_token == token)).first()
    if doctor is None or not doctor.active:
        return None
    return doctor


# --- who may see what --------------------------------------------------------------------------


def appointment_for_calendar(session: Session, appointment_id: int, *, user_id: int,
                             can_read_appointments: bool) -> Appointment:
    """The appointment a logged-in user may export: staff who may read appointments see any,
    a patient only their own."""
    appointment = session.get(Appointment, appointment_id) if 0 < appointment_id <= MAX_ID else None
    if appointment is None:
        raise NotFound(_("Unknown appointment."))
    if can_read_appointments or appointment.patient.user_id == user_id:
        return appointment
    raise Forbidden(_("You may not see this appointment."))


def check_calendar_manager(session: Session, doctor_id: int, *, user_id: int, can_write_doctors: bool) -> Doctor:
    """Staff who may edit doctors manage any doctor's feed; a doctor manages their own."""
    doctor = _doctor(session, doctor_id)
    if can_write_doctors or (doctor.user_id is not None and doctor.user_id == user_id):
        return doctor
    raise Forbidden(_("You may not manage this doctor's calendar link."))
