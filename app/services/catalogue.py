"""Rules for the service catalogue."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Service
from app.services import validation as v
from app.services.settings import ClinicSettings


def validate_service(session: Session, service: Service, settings: ClinicSettings) -> None:
    service.code = v.require_text("code", service.code, 20).upper()
    service.name = v.require_text("name", service.name, 150)
    v.non_negative("price", service.price)
    if service.duration_minutes is None:
        raise v.ValidationFailed(_("This field is required."), "duration_minutes")
    v.in_range("duration_minutes", service.duration_minutes, 5, 480)
    v.unique(session, service, "code", _("Another service already has this code."))
