"""Jobs that tell patients and staff about an event (``app.services.notices``), enqueued by
``app.services.appointment_hooks`` after the commit that made the change. Each writes its messages
and notifications in its own session, commits, then hands the messages to delivery (one job per
message). Run twice, the second run writes nothing (dedupe keys) and delivers nothing new."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.jobs.context import app_context


def _run(service: Callable[..., list[int]], *args: Any, **kwargs: Any) -> int:
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.messaging.delivery import enqueue_deliveries

    with app_context() as app:
        session = db.session.session_factory()  # its own session: the caller's is left alone
        try:
            ids = service(session, *args, config=app.config, now=utcnow(), **kwargs)
        finally:
            session.close()
        enqueue_deliveries(app.config, ids)
    return len(ids)


def appointment_event(appointment_id: int, event: str, actor_id: int | None = None, by_patient: bool = False,
                      event_id: int | None = None, old_start: str | None = None,
                      series_ids: list[int] | None = None) -> int:
    """``event``: booked, confirmed, cancelled or moved; how many messages went to delivery."""
    from app.services.notices import notify_appointment_event

    return _run(notify_appointment_event, appointment_id, event, actor_id=actor_id, by_patient=by_patient,
                event_id=event_id, old_start=old_start, series_ids=series_ids)


def lab_results_released(order_id: int, released_at: str, actor_id: int | None = None) -> int:
    from app.services.notices import notify_lab_results

    return _run(notify_lab_results, order_id, released_at=released_at, actor_id=actor_id)


def prescription_dispensed(prescription_id: int, actor_id: int | None = None) -> int:
    from app.services.notices import notify_prescription_ready

    return _run(notify_prescription_ready, prescription_id, actor_id=actor_id)


def review_invitation(appointment_id: int) -> int:
    """A visit was completed: its patient is invited to review it."""
    from app.services.notices import notify_review_invitation

    return _run(notify_review_invitation, appointment_id)
