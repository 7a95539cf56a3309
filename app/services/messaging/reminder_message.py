"""The appointment reminder (``reminder_rules.REMINDER_KIND``), written when it is sent, in the
patient's language (the message's; ``render`` runs inside ``force_locale``).

E-mail: HTML (table layout, inline styles, no external images or CSS: Gmail and Outlook show it)
and plain text with the same content and links, plus the visit as an ``.ics`` file. SMS: one short
text with one link to a page offering the three choices. Zalo: the ZNS template's parameters.
The reminder checks again that it is still due (``reminder_rules.obsolete_reason``): an appointment
cancelled or moved since the reminder was queued gets a ``Skip`` instead.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session, joinedload

from app.models import Appointment, OutboundMessage
from app.models.types import utcnow
from app.services import appointment_links, ical
from app.services.messaging.render import Rendered, Skip, prefetcher, renderer
from app.services.reminder_rules import REMINDER_KIND, obsolete_reason
from app.services.settings import ClinicSettings

ZALO_TEMPLATE = REMINDER_KIND  # its key in ZALO_TEMPLATES: the message kind, like every other notice


def _for_start_at(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def what_to_bring() -> list[str]:
    # The service catalogue (app.models.catalogue.Service) has no per-service preparation note
    # yet: every reminder lists the same three things.
    return [_("Your national ID card (CCCD) and health insurance card, if you have one"),
            _("Results of earlier tests and examinations"),
            _("The medicines you take now, or their list")]


_WITH_PEOPLE = (joinedload(Appointment.patient), joinedload(Appointment.doctor), joinedload(Appointment.service))


def _appointment_id(message: OutboundMessage) -> int:
    try:
        appointment_id = int((message.params or {}).get("appointment_id") or 0)
    except (TypeError, ValueError):
        return 0
    return appointment_id if 0 < appointment_id <= appointment_links.MAX_ID else 0


@prefetcher(REMINDER_KIND)
def _load_appointments(session: Session, messages: list[OutboundMessage], config: Mapping) -> list[Appointment]:
    """A batch's appointments, with patient, doctor and service, in one query."""
    ids = {_appointment_id(message) for message in messages} - {0}
    return list(session.scalars(sa.select(Appointment).where(Appointment.id.in_(ids)).options(*_WITH_PEOPLE))
                .unique())


def _appointment(session: Session, appointment_id: int) -> Appointment | None:
    """The appointment with its patient, doctor and service: from the session when the batch's
    prefetch loaded it, else in one query."""
    return session.get(Appointment, appointment_id, options=_WITH_PEOPLE)


@renderer(REMINDER_KIND)
def render_reminder(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    params = message.params or {}
    appointment_id = _appointment_id(message)
    appointment = _appointment(session, appointment_id) if appointment_id else None
    for_start_at = _for_start_at(params.get("for_start_at"))
    now = utcnow()
    if appointment is not None and for_start_at is None:
        return Skip("moved", "no valid for_start_at in the params")
    reason = obsolete_reason(appointment, for_start_at or now, now, bool(config.get("REMINDER_INCLUDE_REQUESTED")))
    if reason is not None or appointment is None:
        return Skip(reason or "gone")

    settings = ClinicSettings.from_config(config)
    language = message.language or "en"
    clinic = str(config.get("APP_NAME") or "Clinic")
    links = {purpose: appointment_links.link_url(config, purpose, appointment, now=now, language=language)
             for purpose in appointment_links.ACTIONS}
    choose_link = appointment_links.link_url(config, "choose", appointment, now=now, language=language)
    when = appointment_links.visit_time(appointment.start_at, settings.timezone)
    context = {
        "patient_name": appointment.patient.full_name, "when": when, "doctor": str(appointment.doctor),
        "service": appointment.service.name, "clinic": clinic, "address": config.get("CLINIC_ADDRESS") or "",
        "phone": config.get("CLINIC_PHONE") or "", "bring": what_to_bring(), "links": links,
        "requested": appointment.status == "requested", "language": language,
        "cutoff_hours": int(settings.booking.patient_cutoff.total_seconds() // 3600),
    }
    subject = _("Reminder: your appointment on %(when)s · %(clinic)s", when=when, clinic=clinic)
    local = appointment.start_at.astimezone(settings.timezone)
    short_time = f"{local:%H:%M %d/%m}"
    short_text = _("%(clinic)s: reminder of your visit at %(time)s with %(doctor)s. Confirm, cancel or move: "
                   "%(link)s", clinic=clinic, time=short_time, doctor=str(appointment.doctor), link=choose_link)
    ics = ical.appointment_ics(appointment, settings, clinic_name=clinic)
    return Rendered(
        subject=subject,
        text=render_template("mail/appointment_reminder.txt", **context),
        html=render_template("mail/appointment_reminder.html", **context),
        attachments=(("appointment.ics", "text/calendar", ics),),
        short_text=short_text,
        template_data={"customer_name": appointment.patient.full_name, "booking_time": short_time,
                       "doctor": str(appointment.doctor), "clinic": clinic, "link": choose_link},
        template=ZALO_TEMPLATE,
    )
