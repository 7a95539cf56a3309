"""lab-bridge: ``lab.ordered`` / ``lab.cancelled`` -> ``lab_bridge_order``, the queue a lab
analyser interface reads (lab order, test code, patient code, ``queued`` or ``cancelled``).
Results come back through the lab API (README "Domain events: relay and consumers")."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import LabBridgeOrder, Patient
from app.models.types import utcnow
from app.services.event_consumers.base import Consumer


class LabBridge(Consumer):
    name = "lab-bridge"
    routing_keys = ("lab.ordered", "lab.cancelled")

    def apply(self, session: Session, event: dict[str, Any]) -> None:
        payload = event.get("payload") or {}
        order_id = int(payload.get("lab_order_id") or event["aggregate_id"])
        status = "queued" if event["type"] == "lab.ordered" else "cancelled"
        row = session.scalar(sa.select(LabBridgeOrder).where(LabBridgeOrder.lab_order_id == order_id))
        if row is None:
            patient_id = payload.get("patient_id")
            code = session.scalar(sa.select(Patient.code).where(Patient.id == patient_id)) if patient_id else None
            session.add(LabBridgeOrder(lab_order_id=order_id, test_code=str(payload.get("test_code") or "")[:30],
                                       patient_code=code, status=status, event_id=str(event["event_id"]),
                                       updated_at=utcnow()))
        elif not (row.status == "cancelled" and status == "queued"):  # a cancelled order stays cancelled
            row.status, row.event_id, row.updated_at = status, str(event["event_id"]), utcnow()
