"""After the commit of a change worth telling (an appointment booked, confirmed, cancelled or
moved; lab results released; medicines dispensed): a job is put on the queue
(``app.jobs.notices``) that writes the patient's messages and the staff's notifications in its own
session (``app.services.notices``) and hands the messages to delivery.

These functions are called after the change is committed and never raise: a queue that cannot be
reached, or a job that fails, is logged and leaves the booking (or release, or dispense) as it is.
Without an application (a script, a benchmark) they do nothing. Without ``REDIS_URL`` the job runs
at once in this process (``app.jobs.queue.enqueue``), still after the commit."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

APPOINTMENT_JOB = "app.jobs.notices.appointment_event"
LAB_JOB = "app.jobs.notices.lab_results_released"
PRESCRIPTION_JOB = "app.jobs.notices.prescription_dispensed"
REVIEW_INVITE_JOB = "app.jobs.notices.review_invitation"
RETRY_INTERVALS = [10, 60, 300]  # seconds between RQ's tries of a job that failed (the database was away)


def _enqueue(func_path: str, *args: Any, **kwargs: Any) -> None:
    try:
        from flask import current_app, has_app_context

        if not has_app_context():
            return
        from app.jobs.queue import enqueue

        config = current_app.config
        if config.get("REDIS_URL"):  # a job run again writes nothing twice: RQ may retry it
            from rq import Retry

            kwargs["retry"] = Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
        enqueue(config, func_path, *args, **kwargs)
    except Exception:  # noqa: BLE001 - the change stands; telling people about it is secondary
        log.exception("could not queue %s%r", func_path, args)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _live(appointment_ids: list[int], change: str) -> None:
    """Open calendars and boards move at once (``realtime_hooks`` never raises)."""
    from app.services import realtime_hooks

    for appointment_id in appointment_ids:
        realtime_hooks.appointment_changed(appointment_id, change)


def appointment_booked(appointment_id: int, *, actor_id: int | None) -> None:
    _enqueue(APPOINTMENT_JOB, appointment_id, "booked", actor_id=actor_id)
    _live([appointment_id], "booked")


def series_booked(appointment_ids: list[int], *, actor_id: int | None) -> None:
    """One notice for the whole series (``appointment_ids`` in date order)."""
    if appointment_ids:
        _enqueue(APPOINTMENT_JOB, appointment_ids[0], "booked", actor_id=actor_id, series_ids=list(appointment_ids))
        _live(appointment_ids, "booked")


def series_cancelled(appointment_ids: list[int], *, actor_id: int | None) -> None:
    if len(appointment_ids) == 1:
        appointment_changed(appointment_ids[0], "cancelled", actor_id=actor_id)
    elif appointment_ids:
        _enqueue(APPOINTMENT_JOB, appointment_ids[0], "cancelled", actor_id=actor_id,
                 series_ids=list(appointment_ids))
        _live(appointment_ids, "cancelled")


def appointment_changed(appointment_id: int, event: str, *, actor_id: int | None, by_patient: bool = False,
                        event_id: int | None = None, old_start: datetime | None = None) -> None:
    """``event``: confirmed, cancelled or moved (``event_id``: the history row of that change)."""
    _enqueue(APPOINTMENT_JOB, appointment_id, event, actor_id=actor_id, by_patient=by_patient, event_id=event_id,
             old_start=_iso(old_start))
    _live([appointment_id], event)


def lab_results_released(order_id: int, *, released_at: datetime, actor_id: int | None) -> None:
    _enqueue(LAB_JOB, order_id, released_at.isoformat(), actor_id=actor_id)


def prescription_dispensed(prescription_id: int, *, actor_id: int | None) -> None:
    _enqueue(PRESCRIPTION_JOB, prescription_id, actor_id=actor_id)


def visit_completed(appointment_id: int) -> None:
    """The patient is invited to review the visit (``app.services.notices.notify_review_invitation``)."""
    _enqueue(REVIEW_INVITE_JOB, appointment_id)
