"""Helpers for the reminder message and its links: a confirmed appointment, a queued reminder, and
the links read back from a rendered e-mail."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.factories import CLINIC_ZONE, DAY

VISIT_LOCAL = datetime.combine(DAY, datetime.min.time(), CLINIC_ZONE) + timedelta(hours=8, minutes=30)
VISIT_UTC = VISIT_LOCAL.astimezone(timezone.utc)
EMAIL = "an.nguyen@example.vn"


def confirmed_appointment(clinic, start: datetime = VISIT_UTC, status: str = "confirmed") -> int:
    from app.models import Appointment

    return clinic.save(Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                   start_at=start, status=status, channel="online"))


def queue_reminder(db, appointment_id: int, language: str = "vi", channel: str = "email",
                   for_start_at: datetime = VISIT_UTC):
    from app.services.messaging.delivery import queue_message
    from app.services.reminder_rules import REMINDER_KIND

    recipient = EMAIL if channel == "email" else "0912345678"
    message = queue_message(db.session, channel=channel, kind=REMINDER_KIND, recipient=recipient, language=language,
                            appointment_id=appointment_id,
                            params={"appointment_id": appointment_id, "for_start_at": for_start_at.isoformat(),
                                    "reminder": "day_before"})
    db.session.commit()
    return message


def links_in(text: str) -> dict[str, str]:
    """The reminder's links by purpose, as paths with their query (``/clinic/visit/confirm/...``)."""
    found = {}
    for match in re.finditer(r"https?://[^/\s]+(/clinic/visit/(?:(confirm|cancel|reschedule)/)?[\w.\-]+\?lang=\w+)",
                             text):
        found[match.group(2) or "choose"] = match.group(1)
    return found
