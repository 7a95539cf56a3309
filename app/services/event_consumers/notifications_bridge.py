"""notifications-bridge: ``appointment.booked`` / ``moved`` / ``cancelled`` -> an SMS to the patient
queued through the messaging service (``queue_for_patient``, channel sms), so the SMS gateway can
sit behind RabbitMQ. The message's dedupe key is the event id: one SMS per event."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Appointment
from app.models.types import utcnow
from app.services.event_consumers.base import Consumer
from app.services.messaging.recipients import queue_for_patient
from app.services.messaging.settings import MessagingSettings

KINDS = {"appointment.booked": "appointment_booked", "appointment.moved": "appointment_moved",
         "appointment.cancelled": "appointment_cancelled"}


class NotificationsBridge(Consumer):
    name = "notifications-bridge"
    routing_keys = tuple(KINDS)

    def apply(self, session: Session, event: dict[str, Any]) -> None:
        payload = event.get("payload") or {}
        patient_id, appointment_id = payload.get("patient_id"), payload.get("appointment_id")
        if not patient_id or not appointment_id or session.get(Appointment, int(appointment_id)) is None:
            return  # nothing to tell about an appointment that is gone
        params = {"appointment_id": appointment_id, "start_at": payload.get("start_at"),
                  "status": payload.get("status")}
        queue_for_patient(session, int(patient_id), KINDS[event["type"]], params, now=utcnow(),
                          settings=MessagingSettings.from_config(self.config), channels=("sms",),
                          dedupe_key=f"event:{event['event_id']}", appointment_id=int(appointment_id))
