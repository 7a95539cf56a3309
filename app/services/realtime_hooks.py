"""Where the realtime issue plugs in pushes to open pages. Called after the change is committed."""
from __future__ import annotations


def dispensing_queue_changed(prescription_id: int) -> None:
    """A prescription entered, moved in or left the dispensing queue (dispensed, partly dispensed,
    returned). Does nothing yet: the realtime issue emits a Socket.IO event to the pharmacy's open
    queue pages here (``app.services.stock_views.dispensing_queue`` gives the rows to show)."""
    return None


def notification_created(user_id: int) -> None:
    """A notification for ``user_id`` was committed. Does nothing yet: the realtime issue emits
    the new unread count (``app.services.notifications.unread_count``) to the user's room here."""
    return None
