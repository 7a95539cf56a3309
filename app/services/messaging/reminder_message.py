"""The appointment reminder's message: a placeholder (plain text made of labels the catalogue
already translates), so that reminders render while the full message (HTML, ``.ics``, the signed
confirm/cancel/reschedule links; helper "reminder-mail") is not merged. That module replaces this
file whole.

Checks the appointment again when sent (``reminder_rules.obsolete_reason``): a visit cancelled or
moved since the reminder was queued is skipped, not reminded at its old time."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, OutboundMessage
from app.models.types import utcnow
from app.services.messaging.render import Rendered, Skip, renderer
from app.services.messaging.settings import MessagingSettings
from app.services.reminder_rules import REMINDER_KIND, obsolete_reason


@renderer(REMINDER_KIND)
def render_reminder(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    params = message.params or {}
    settings = MessagingSettings.from_config(config)
    appointment = session.get(Appointment, int(params.get("appointment_id") or 0))
    reason = obsolete_reason(appointment, datetime.fromisoformat(str(params["for_start_at"])), utcnow(),
                             settings.remind_requested)
    if reason is not None or appointment is None:
        return Skip(reason or "gone")
    when = f"{appointment.start_at.astimezone(settings.timezone):%H:%M %d/%m/%Y}"
    doctor = " ".join(p for p in (appointment.doctor.title or "", appointment.doctor.full_name) if p)
    clinic = str(config.get("APP_NAME") or "")
    lines = [f"{_('Appointment')}: {when}", f"{_('Doctor')}: {doctor}", f"{_('Service')}: {appointment.service.name}"]
    address = str(config.get("CLINIC_ADDRESS") or "")
    text = "\n".join([*lines, "", clinic, address]).strip() + "\n"
    subject = f"{_('Reminder')}: {when}"
    return Rendered(subject=subject, text=text, short_text=f"{clinic}: {subject}, {doctor}".strip(": "),
                    template_data={"time": when, "doctor": doctor, "service": appointment.service.name})
