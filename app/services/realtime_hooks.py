"""Where changes are pushed to open pages (the realtime issue). Each function is called after the
change is committed, with ids only; ``app.realtime.emit`` sends the events (Socket.IO rooms, the
Redis message queue when ``REDIS_URL`` is set). Each reads what it needs in a session of its own
(the caller's may be in the middle of its commit) and never raises: a failed push must never undo
or fail the change that caused it. Without an application (a script, a benchmark) they do nothing.

The events (``app.realtime``'s README section lists them) carry ids and display fields only:

- ``notification`` {unread, id, kind, title, link} to ``user:<id>``: the bell and a toast;
- ``dispensing`` {prescription_id} to ``role:Pharmacist``;
- ``queue`` {doctor_id, day} to ``doctor:<id>``, ``role:Receptionist`` and the waiting-room screens
  of the doctor's department (``display:<department id>``, ``display:all``);
- ``appointment`` {appointment_id, change, doctor_id, doctor_name, patient_initials, start_at,
  status, channel, day} to ``doctor:<id>`` and ``role:Receptionist``;
- ``chat`` {conversation_id, message_id} to ``conversation:<id>``, and ``inbox`` (the same) to
  ``role:Receptionist``.

The staff's in-app notices of a booking (booked, requested online, cancelled, moved) are written
by ``app.services.notices`` (the appointment job of ``appointment_hooks``); each one comes back
here through ``notification_created``, so ``appointment_changed`` only moves the open pages and
never notifies a second time."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

APPOINTMENT_CHANGES = ("booked", "requested", "confirmed", "cancelled", "moved")
INBOX_ROOMS = ("role:Receptionist", "role:Manager")  # who works the chat inbox


@contextmanager
def _reading() -> Iterator[Any]:
    """A session of its own on the app's engine (closed after), or None without an app."""
    from flask import has_app_context

    if not has_app_context():
        yield None
        return
    from sqlalchemy.orm import Session

    from app.extensions import db

    session = Session(db.engine)
    try:
        yield session
    finally:
        session.close()


def _safely(what: str, push: Callable[[Any], None]) -> None:
    try:
        with _reading() as session:
            if session is not None:
                push(session)
    except Exception:  # noqa: BLE001 - the change stands; the open pages catch up on reconnect
        log.exception("live update %s not sent", what)


def _send(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
    from app.realtime.emit import send

    send(event, payload, rooms)


def dispensing_queue_changed(prescription_id: int) -> None:
    """A prescription entered, moved in or left the dispensing queue (dispensed, partly dispensed,
    returned): the pharmacy's open queue pages reload their rows
    (``app.services.stock_views.dispensing_queue``)."""
    _safely("dispensing", lambda session: _send("dispensing", {"prescription_id": int(prescription_id)},
                                                   ["role:Pharmacist"]))


def notification_created(user_id: int) -> None:
    """A notification for ``user_id`` was committed: the user's open pages show the new unread
    count (``app.services.notifications.unread_count``) and a toast."""

    def push(session: Any) -> None:
        import sqlalchemy as sa

        from app.models import Notification
        from app.services.notifications import unread_count

        latest = session.execute(sa.select(Notification).where(Notification.user_id == user_id)
                                 .order_by(Notification.id.desc()).limit(1)).scalar()
        payload: dict[str, Any] = {"unread": unread_count(session, user_id)}
        if latest is not None:
            payload.update(id=latest.id, kind=latest.kind, title=latest.title, link=latest.link)
        _send("notification", payload, [f"user:{int(user_id)}"])

    _safely("notification", push)


def queue_changed(doctor_id: int, day: date) -> None:
    """The waiting list of ``doctor_id`` on clinic day ``day`` changed (check-in, call, start,
    finish, no-show, a walk-in, a booking, a cancellation or move for that day): the front desk,
    the doctor's My day and the waiting-room displays reload that doctor's queue."""

    def push(session: Any) -> None:
        from app.services.realtime_access import doctor_room_targets

        _send("queue", {"doctor_id": int(doctor_id), "day": day.isoformat()},
              doctor_room_targets(session, int(doctor_id)))

    _safely("queue", push)
    _tell_next(int(doctor_id), day)


def _tell_next(doctor_id: int, day: date) -> None:
    """The patient now next in the queue hears it (``waiting_room.tell_next``, once per
    appointment), from a job on the ``high`` queue (in this process without Redis). It reads
    nothing here (the job has its own session), so no session is opened; like the pushes, it never
    raises."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    try:
        from app.jobs.queue import enqueue

        enqueue(current_app.config, "app.jobs.waiting_room.tell_next_job", doctor_id, day.isoformat(),
                queue="high")
    except Exception:  # noqa: BLE001 - the change stands; the next queue change tells the patient
        log.exception("live update %s not sent", "queue next")


def appointment_changed(appointment_id: int, change: str) -> None:
    """An appointment was booked, requested online, confirmed, cancelled or moved (``change`` is
    one of "booked", "requested", "confirmed", "cancelled", "moved"): open calendars and the
    doctor status board update without reload."""

    def push(session: Any) -> None:
        from flask import current_app

        from app.services.realtime_access import appointment_display
        from app.services.settings import ClinicSettings

        zone = ClinicSettings.from_config(current_app.config).timezone
        shown = appointment_display(session, int(appointment_id), zone)
        if shown is None:
            return
        if change == "booked" and shown.status == "requested":
            change_ = "requested"  # asked for online, waiting for confirmation
        else:
            change_ = change if change in APPOINTMENT_CHANGES else "changed"
        payload = {"appointment_id": shown.appointment_id, "change": change_, "doctor_id": shown.doctor_id,
                   "doctor_name": shown.doctor_name, "patient_initials": shown.patient_initials,
                   "start_at": shown.start_at, "status": shown.status, "channel": shown.channel,
                   "day": shown.day.isoformat()}
        _send("appointment", payload, [f"doctor:{shown.doctor_id}", "role:Receptionist"])

    _safely("appointment", push)


def chat_message_posted(conversation_id: int | str, message_id: str) -> None:
    """A chat message was stored: the conversation's participants (and the staff inbox) fetch it."""

    def push(session: Any) -> None:
        payload = {"conversation_id": str(conversation_id), "message_id": str(message_id)}
        _send("chat", payload, [f"conversation:{conversation_id}"])
        _send("inbox", payload, list(INBOX_ROOMS))

    _safely("chat", push)


def chat_read(conversation_id: int, side: str) -> None:
    """The ``side`` ("patient" or "staff") of a conversation read its messages (read receipts and
    unread counts changed): the conversation's open pages and the staff inboxes fetch again."""
    payload = {"conversation_id": str(conversation_id), "read": str(side)}

    def push(session: Any) -> None:
        _send("chat", payload, [f"conversation:{conversation_id}"])
        _send("inbox", payload, list(INBOX_ROOMS))

    _safely("chat read", push)


def chat_typing(conversation_id: int, side: str, user_id: int) -> None:
    """Someone on ``side`` is typing in the conversation (no text): the other side shows
    "typing…" for a few seconds."""
    payload = {"conversation_id": str(conversation_id), "typing": True, "side": str(side)}
    _safely("chat typing", lambda session: _send("chat", payload, [f"conversation:{conversation_id}"]))


def chat_conversation_changed(conversation_id: int) -> None:
    """A conversation was assigned, handed to a person or closed: staff inboxes reload its row."""
    payload = {"conversation_id": str(conversation_id)}
    _safely("chat conversation", lambda session: _send("inbox", payload, list(INBOX_ROOMS)))


def call_guest_withdrawn(appointment_id: int, user_id: int | None) -> None:
    """A video call guest's invitation was withdrawn (``telemedicine.revoke_guest``, committed):
    that guest's login (``user_id``, None if the link was never used) leaves the call at once on
    this process (``app.realtime.calls.withdraw_seats``: the others hear ``call:peer-left``, the
    guest ``call:ended``); on another process, at its seat's next check."""
    if user_id is None:
        return
    try:
        from app.realtime.calls import withdraw_seats

        withdraw_seats(user_id, appointment_id)
    except Exception:  # noqa: BLE001 - the withdrawal stands; the seat's next check refuses the guest
        log.exception("the withdrawn guest %s of appointment %s not taken out of the call", user_id, appointment_id)
