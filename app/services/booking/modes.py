"""In person or by video: which visit types a service is offered as (``Service.visit_modes``:
``in_person``, ``video`` or ``both``) and the type a booking gets (``Appointment.mode``)."""
from __future__ import annotations

from flask_babel import gettext as _

from app.models.scheduling import APPOINTMENT_MODES
from app.services.errors import ValidationFailed


def default_mode(visit_modes: str | None) -> str:
    """The type of a booking that names none: video for a video-only service, else in person."""
    return "video" if visit_modes == "video" else "in_person"


def check_mode_shape(mode: str | None) -> str | None:
    """``mode`` as given (None: the service's default), or ValidationFailed for an unknown one."""
    if mode is None or mode == "":
        return None
    if mode not in APPOINTMENT_MODES:
        raise ValidationFailed(_("Choose in person or video."), "mode")
    return mode


def resolve_mode(visit_modes: str | None, mode: str | None) -> str:
    """The visit type of a booking of a service offered as ``visit_modes``: ``mode`` if the service
    is offered that way (ValidationFailed naming ``mode`` otherwise), the service's default if None."""
    mode = check_mode_shape(mode)
    if mode is None:
        return default_mode(visit_modes)
    offered = ("in_person", "video") if visit_modes == "both" else (visit_modes or "in_person",)
    if mode not in offered:
        if mode == "video":
            raise ValidationFailed(_("This service is not offered by video call."), "mode")
        raise ValidationFailed(_("This service is offered by video call only."), "mode")
    return mode
