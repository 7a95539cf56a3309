"""The appointment reminder (``reminder_rules.REMINDER_KIND``), written when it is sent, in the
patient's language (the message's; ``render`` runs inside ``force_locale``).

E-mail: HTML (table layout, inline styles, no external images or CSS: Gmail and Outlook show it)
and plain text with the same content and links, plus the visit as an ``.ics`` file. SMS: one short
text with one link to a page offering the three choices. Zalo: the ZNS template's parameters.
The reminder checks again that it is still due (``reminder_rules.obsolete_reason``): an appointment
cancelled or moved since the reminder was queued gets a ``Skip`` instead.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import format_date, gettext as _
from markupsafe import escape
from sqlalchemy.orm import Session, joinedload

from app.models import Appointment, OutboundMessage
from app.models.types import utcnow
from app.services import appointment_links, ical, telemedicine
from app.services.messaging.render import Rendered, Skip, prefetcher, renderer
from app.services.reminder_rules import REMINDER_KIND, obsolete_reason
from app.services.settings import ClinicSettings, public_base_url

ZALO_TEMPLATE = REMINDER_KIND  # its key in ZALO_TEMPLATES: the message kind, like every other notice


def _for_start_at(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def what_to_bring(service_note: str | None = None) -> list[str]:
    """What the patient brings: the service's own note first (``Service.what_to_bring``, one item
    a line, as the clinic wrote it), then what every visit needs."""
    own = [line.strip() for line in (service_note or "").splitlines() if line.strip()]
    return own + [_("Your national ID card (CCCD) and health insurance card, if you have one"),
                  _("Results of earlier tests and examinations"),
                  _("The medicines you take now, or their list")]


# --- the e-mail, mail-merged ----------------------------------------------------------------------
# The two templates are rendered by Jinja once per language and everything else they depend on
# (the clinic's name, address, phone and cut-off, a requested visit, the service's "what to bring"),
# with a marker in place of each of the message's own fields; each message then only fills the
# markers in, escaped for HTML as Jinja's autoescape would (``escape``), as is in the text. Same
# output as rendering each message (tests/test_reminder_message.py compares them), a tenth of the CPU.
FIELDS = ("patient_name", "when", "doctor", "service", "confirm", "cancel", "reschedule", "join")
_MARKER = re.compile("\ue000([a-z_]+)\ue001")
_CACHE_SIZE = 256


def _marker(name: str) -> str:
    return f"\ue000{name}\ue001"


@dataclass(frozen=True)
class MailMerge:
    pieces: tuple[str, ...]  # the text around the fields
    fields: tuple[str, ...]  # the field between pieces[i] and pieces[i + 1]

    @classmethod
    def of(cls, rendered: str) -> "MailMerge":
        parts = _MARKER.split(rendered)
        merge = cls(tuple(parts[0::2]), tuple(parts[1::2]))
        broken = any("\ue000" in piece or "\ue001" in piece for piece in merge.pieces)
        if broken or not set(merge.fields) <= set(FIELDS):
            raise ValueError("a field of the reminder template is changed by the template (a filter?)")
        return merge

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for name, piece in zip(self.fields, self.pieces[1:], strict=True):
            out.append(values[name])
            out.append(piece)
        return "".join(out)


@dataclass(frozen=True)
class _Layout:
    """What a language's reminder says around a message's own fields."""
    text: MailMerge
    html: MailMerge
    subject: str  # gettext's format strings, filled with ``%``
    short_text: str
    video_short_text: str
    at: str  # "%(day)s at %(time)s"
    day_pattern: str


def render_mail_parts(context: Mapping[str, Any]) -> tuple[str, str]:
    """The reminder's text and HTML for ``context`` rendered by Jinja (what the mail-merge must equal)."""
    return (render_template("mail/appointment_reminder.txt", **context),
            render_template("mail/appointment_reminder.html", **context))


def _layout(config: Mapping, constants: dict[str, Any]) -> _Layout:
    cache: dict[tuple, _Layout] = current_app.extensions.setdefault("reminder_mail_layouts", {})
    key = tuple(sorted((name, tuple(value) if isinstance(value, list) else value) for name, value in constants.items()))
    layout = cache.get(key)
    if layout is None:
        markers = {name: _marker(name) for name in FIELDS}
        links = {purpose: markers[purpose] for purpose in appointment_links.ACTIONS}
        text, html = render_mail_parts({**constants, **markers, "links": links})
        layout = _Layout(MailMerge.of(text), MailMerge.of(html),
                         subject=_("Reminder: your appointment on %(when)s · %(clinic)s"),
                         short_text=_("%(clinic)s: reminder of your visit at %(time)s with %(doctor)s. Confirm, "
                                      "cancel or move: %(link)s"),
                         video_short_text=_("%(clinic)s: reminder of your video visit at %(time)s with %(doctor)s. "
                                            "Join: %(join)s"),
                         at=_("%(day)s at %(time)s"), day_pattern=_("EEEE, d MMMM yyyy"))
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[key] = layout
    return layout


def _day(language: str, day: date, pattern: str) -> str:
    cache: dict[tuple, str] = current_app.extensions.setdefault("reminder_mail_days", {})
    key = (language, day, pattern)
    text = cache.get(key)
    if text is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        text = cache[key] = str(format_date(day, pattern))
    return text


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
    constants = {
        "clinic": clinic, "address": config.get("CLINIC_ADDRESS") or "", "phone": config.get("CLINIC_PHONE") or "",
        "bring": what_to_bring(appointment.service.what_to_bring), "requested": appointment.status == "requested",
        "language": language, "cutoff_hours": int(settings.booking.patient_cutoff.total_seconds() // 3600),
        "video": appointment.mode == "video",
        "join_early_minutes": int(config.get("VIDEO_JOIN_EARLY_MINUTES", 15)),
    }
    layout = _layout(config, constants)
    local = appointment.start_at.astimezone(settings.timezone)
    # as appointment_links.visit_time writes it
    when = layout.at % {"day": _day(language, local.date(), layout.day_pattern), "time": f"{local:%H:%M}"}
    doctor = str(appointment.doctor)
    join = f"{public_base_url(config)}{telemedicine.patient_join_path(appointment.id)}"
    fields = {"patient_name": appointment.patient.full_name, "when": when, "doctor": doctor,
              "service": appointment.service.name, "join": join, **links}
    subject = layout.subject % {"when": when, "clinic": clinic}
    short_time = f"{local:%H:%M %d/%m}"
    short_text = (layout.video_short_text if constants["video"] else layout.short_text) % {
        "clinic": clinic, "time": short_time, "doctor": doctor, "link": choose_link, "join": join}
    ics = ical.appointment_ics(appointment, settings, clinic_name=clinic)
    return Rendered(
        subject=subject,
        text=layout.text.fill(fields),
        html=layout.html.fill({name: str(escape(value)) for name, value in fields.items()}),
        attachments=(("appointment.ics", "text/calendar", ics),),
        short_text=short_text,
        template_data={"customer_name": appointment.patient.full_name, "booking_time": short_time,
                       "doctor": doctor, "clinic": clinic, "link": choose_link},
        template=ZALO_TEMPLATE,
    )
