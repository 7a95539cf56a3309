"""Which appointment statuses allow which change, defined once for the services, the pages and
the calendar."""
from __future__ import annotations

from datetime import datetime

# Not started yet: the appointment may still be moved to another time, and a patient may still
# cancel or move it online (before the cut-off, app.services.booking).
MOVABLE_STATUSES = ("requested", "confirmed")
# Over or called off: listed with the past in the patient's portal.
CLOSED_STATUSES = ("cancelled", "no_show", "completed")


def is_movable(status: str | None) -> bool:
    return status in MOVABLE_STATUSES


def patient_may_change(status: str | None, start_at: datetime, now: datetime) -> bool:
    """Whether the portal offers "Move" and "Cancel" for an appointment (the cut-off before the
    visit is checked by the service and shown on the page separately)."""
    return is_movable(status) and start_at > now
