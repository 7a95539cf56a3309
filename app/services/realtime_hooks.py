"""Where changes are pushed to open pages (the realtime issue). Each function is called after the
change is committed, with ids only; ``app.realtime`` sends the events (Socket.IO rooms, the Redis
message queue when ``REDIS_URL`` is set). Until it is wired, each does nothing, so callers never
depend on a live socket: a failed push must never undo or fail the change that caused it."""
from __future__ import annotations

from datetime import date


def dispensing_queue_changed(prescription_id: int) -> None:
    """A prescription entered, moved in or left the dispensing queue (dispensed, partly dispensed,
    returned): the pharmacy's open queue pages reload their rows
    (``app.services.stock_views.dispensing_queue``)."""
    return None


def notification_created(user_id: int) -> None:
    """A notification for ``user_id`` was committed: the user's open pages show the new unread
    count (``app.services.notifications.unread_count``) and a toast."""
    return None


def queue_changed(doctor_id: int, day: date) -> None:
    """The waiting list of ``doctor_id`` on clinic day ``day`` changed (check-in, call, start,
    finish, no-show, a walk-in, a booking, a cancellation or move for that day): the front desk,
    the doctor's My day and the waiting-room displays reload that doctor's queue."""
    return None


def appointment_changed(appointment_id: int, change: str) -> None:
    """An appointment was booked, requested online, confirmed, cancelled or moved (``change`` is
    one of "booked", "requested", "confirmed", "cancelled", "moved"): open calendars and the
    doctor status board update without reload."""
    return None


def chat_message_posted(conversation_id: int | str, message_id: str) -> None:
    """A chat message was stored: the conversation's participants (and the staff inbox) fetch it."""
    return None


def chat_read(conversation_id: int, side: str) -> None:
    """The ``side`` ("patient" or "staff") of a conversation read its messages (read receipts and
    unread counts changed): the other side's open pages and the staff inbox fetch them again.
    Added by the chat work; wired by ``app.realtime``."""
    return None


def chat_typing(conversation_id: int, side: str, user_id: int) -> None:
    """Someone on ``side`` is typing in the conversation (sent at most every few seconds while
    they type; no text): the other side shows "typing…" for a few seconds. Added by the chat work;
    wired by ``app.realtime``."""
    return None


def chat_conversation_changed(conversation_id: int) -> None:
    """A conversation was assigned, handed to a person or closed: staff inboxes reload its row.
    Added by the chat work; wired by ``app.realtime``."""
    return None
