"""What makes an appointment's reminder still worth sending: shared by the job that finds due
reminders (``app.services.reminders``) and the message that carries one, which checks again when
it is sent (the appointment may have been cancelled or moved since it was queued)."""
from __future__ import annotations

from datetime import datetime

from app.models import Appointment

REMINDER_KIND = "appointment_reminder"  # the OutboundMessage kind; params below
# params: {"appointment_id": int, "for_start_at": ISO 8601 UTC, "reminder": "day_before" | "hours_before"}
REMINDERS = ("day_before", "hours_before")
REMINDABLE = ("confirmed", "requested")  # "requested" only with REMINDER_INCLUDE_REQUESTED


def obsolete_reason(appointment: Appointment | None, for_start_at: datetime, now: datetime,
                    include_requested: bool) -> str | None:
    """Why a reminder for ``appointment`` at ``for_start_at`` must not go (a skip reason), or None."""
    if appointment is None:
        return "gone"
    statuses = REMINDABLE if include_requested else ("confirmed",)
    if appointment.status not in statuses:
        return "cancelled"
    if appointment.start_at != for_start_at:
        return "moved"
    if appointment.start_at <= now:
        return "not_due"
    return None
