"""The "you're next" job (``app.services.waiting_room.tell_next``): enqueued after a commit that
moved a doctor's queue (a call, a start, a finish, a no-show), by the queue-change hook. It tells
the patient now first in that doctor's queue, once per appointment, then hands the messages to
delivery. Run twice, the second run writes nothing (dedupe keys)."""
from __future__ import annotations

from datetime import date


def tell_next_job(doctor_id: int, day_iso: str) -> int:
    """How many messages went to delivery."""
    from app.jobs.notices import _run
    from app.services.waiting_room import tell_next

    day = date.fromisoformat(day_iso)
    return _run(lambda session, config, now: tell_next(session, doctor_id, day, now, config=config))
