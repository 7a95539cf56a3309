"""Which related records are picked by searching instead of from a full drop-down list."""
from __future__ import annotations

from flask_appbuilder.security.sqla.models import User

from app import models as m

# Models picked by searching; the key is the resource name in URLs and permissions.
REMOTE_MODELS: dict[str, type] = {
    "Patient": m.Patient, "Appointment": m.Appointment, "AppointmentSeries": m.AppointmentSeries,
    "Encounter": m.Encounter, "Invoice": m.Invoice, "Prescription": m.Prescription, "LabOrder": m.LabOrder,
    "StockBatch": m.StockBatch, "User": User,
}
# Who may look a model up: read on its resource (logins: who may list users).
PERMISSIONS: dict[str, tuple[str, str]] = {name: ("can_read", name) for name in REMOTE_MODELS}
PERMISSIONS["User"] = ("can_list", "UserDBModelView")


def remote_name(model: type) -> str | None:
    for name, candidate in REMOTE_MODELS.items():
        if candidate is model:
            return name
    return None


