"""Telling the open pages that a doctor's queue changed (the front desk, My day, the waiting-room
display), from the desk's and the visit's changes alike."""
from __future__ import annotations

import logging
from datetime import date

from app.models import Appointment
from app.services import realtime_hooks
from app.services.settings import ClinicSettings

log = logging.getLogger(__name__)


def queue_of(appointment: Appointment, settings: ClinicSettings) -> tuple[int, date]:
    """The doctor and day of an appointment's queue: its queue day once checked in, else the clinic
    day it starts on. Read before the commit: after it they would be loaded again, holding a
    connection while the push opens its own (see commit_hooks)."""
    return appointment.doctor_id, appointment.queue_date or appointment.start_at.astimezone(settings.timezone).date()


def announce(doctor_id: int, day: date) -> None:
    """After the commit: the pages reload this doctor's queue (``realtime_hooks.queue_changed``); a
    push that fails never fails or undoes the change."""
    try:
        realtime_hooks.queue_changed(doctor_id, day)
    except Exception:  # noqa: BLE001 - a push that fails must not undo or fail the change
        log.exception("queue_changed(%s, %s) failed", doctor_id, day)
