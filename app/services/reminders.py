"""Appointment reminders: which are due, and queuing each exactly once per appointment, kind and
channel.

When a reminder is due (clinic time, ``CLINIC_TIMEZONE``):
- ``day_before``: from ``REMINDER_HOUR`` on the clinic day before the visit;
- ``hours_before``: from ``REMINDER_HOURS_BEFORE`` hours before the start (none when 0).
A reminder stays due from that moment until the visit starts, so a scheduler that was down catches
up when it comes back, and a visit booked for tomorrow after the hour gets its day-before reminder
at once. Never once the visit has started. Two exceptions keep reminders meaningful:
- an appointment made on the visit's own clinic day (a walk-in, a same-day booking) gets no
  day-before reminder, and one made less than ``REMINDER_HOURS_BEFORE`` hours ahead no
  hours-before reminder: the patient has just been told;
- when the hours-before reminder is due too, the day-before one is no longer sent (one message, not
  two at once, after an outage).

Exactly once: ``queue_due_reminders`` first inserts the claim (``ReminderLog``, unique on
appointment, kind, channel and visit time) with INSERT ... ON CONFLICT DO NOTHING, and writes a
message only for the claims it won; a second scheduler run, or two at once, writes nothing more.
The visit time in the key re-arms the reminder when the appointment moves; the message checks the
appointment again when it is sent (``reminder_rules.obsolete_reason``), so a cancelled or moved
visit is not reminded at its old time. Delivery (``messaging.delivery``) makes each message go
out once, with the one edge its docstring and the README describe.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Appointment, OutboundMessage, ReminderLog
from app.services.bulk_insert import insert_ignoring_duplicates, set_by_id
from app.services.messaging.recipients import Recipient, contact_plan, patient_recipients
from app.services.messaging.settings import MessagingSettings
from app.services.reminder_rules import REMINDER_KIND

BATCH = 500  # appointments per transaction


@dataclass(frozen=True)
class DueReminder:
    appointment_id: int
    patient_id: int
    kind: str  # "day_before" | "hours_before"
    start_at: datetime  # the visit time reminded of (UTC)


def _local_midnight(day: date, settings: MessagingSettings) -> datetime:
    return datetime.combine(day, time(0), tzinfo=settings.timezone).astimezone(timezone.utc)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(timezone.utc)


def due_moment(kind: str, start_at: datetime, settings: MessagingSettings) -> datetime | None:
    """When the ``kind`` reminder of a visit at ``start_at`` becomes due (UTC); None when off."""
    if kind == "day_before":
        visit_day = _utc(start_at).astimezone(settings.timezone).date()
        return datetime.combine(visit_day - timedelta(days=1), time(settings.reminder_hour),
                                tzinfo=settings.timezone).astimezone(timezone.utc)
    if kind == "hours_before":
        hours = settings.reminder_hours_before
        return _utc(start_at) - timedelta(hours=hours) if hours > 0 else None
    raise ValueError(f"unknown reminder {kind!r}")


def kinds(settings: MessagingSettings) -> tuple[str, ...]:
    return ("day_before", "hours_before") if settings.reminder_hours_before > 0 else ("day_before",)


def is_due(kind: str, start_at: datetime, created_at: datetime | None, now: datetime,
           settings: MessagingSettings) -> bool:
    """The rule of the module's docstring, for one appointment (the query below selects a superset)."""
    start_at, now = _utc(start_at), _utc(now)
    opens = due_moment(kind, start_at, settings)
    if opens is None or not (opens <= now < start_at):
        return False
    if kind == "day_before":
        made_by = _local_midnight(start_at.astimezone(settings.timezone).date(), settings)
        later = due_moment("hours_before", start_at, settings)
        if later is not None and opens < later and is_due("hours_before", start_at, created_at, now, settings):
            return False  # the closer reminder is due: it goes instead
    else:
        made_by = opens
    return created_at is None or _utc(created_at) < made_by


def _statuses(settings: MessagingSettings) -> tuple[str, ...]:
    return ("confirmed", "requested") if settings.remind_requested else ("confirmed",)


def _window(kind: str, now: datetime, settings: MessagingSettings) -> datetime:
    """The latest visit start whose ``kind`` reminder can be due at ``now`` (exclusive bound)."""
    if kind == "hours_before":
        return now + timedelta(hours=settings.reminder_hours_before, seconds=1)
    today = now.astimezone(settings.timezone).date()
    tomorrows_open = datetime.combine(today, time(settings.reminder_hour), tzinfo=settings.timezone)
    return _local_midnight(today + timedelta(days=2 if now >= tomorrows_open else 1), settings)


def due_reminders(session: Session, now: datetime, settings: MessagingSettings,
                  limit: int | None = None) -> list[DueReminder]:
    """The reminders due at ``now`` and not claimed yet, earliest visit first: per kind one query
    on ``appointment.start_at``'s index with an anti-join on the claims."""
    now = _utc(now)
    a = Appointment
    found: list[DueReminder] = []
    for kind in kinds(settings):
        claimed = sa.exists().where(ReminderLog.appointment_id == a.id, ReminderLog.kind == kind,
                                    ReminderLog.for_start_at == a.start_at)
        query = (sa.select(a.id, a.patient_id, a.start_at, a.created_at)
                 .where(a.start_at > now, a.start_at < _window(kind, now, settings),
                        a.status.in_(_statuses(settings)), ~claimed)
                 .order_by(a.start_at, a.id))
        if kind == "day_before":
            # Made before the visit's clinic day (today's or tomorrow's visits only can be due).
            today = now.astimezone(settings.timezone).date()
            tomorrow = _local_midnight(today + timedelta(days=1), settings)
            query = query.where(sa.or_(sa.and_(a.start_at < tomorrow, a.created_at < _local_midnight(today, settings)),
                                       sa.and_(a.start_at >= tomorrow, a.created_at < tomorrow)))
        for row in session.execute(query):
            if is_due(kind, row.start_at, row.created_at, now, settings):
                found.append(DueReminder(row.id, row.patient_id, kind, _utc(row.start_at)))
    found.sort(key=lambda due: (due.start_at, due.appointment_id, due.kind))
    return found[:limit] if limit is not None else found


def reminder_params(due: DueReminder) -> dict[str, Any]:
    """The message's params (the contract in ``app.services.reminder_rules``)."""
    return {"appointment_id": due.appointment_id, "for_start_at": due.start_at.isoformat(), "reminder": due.kind}


def _batches(items: Sequence[DueReminder], size: int) -> Iterator[Sequence[DueReminder]]:
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _claims(batch: Sequence[DueReminder], recipients: Mapping[int, Recipient], now: datetime,
            settings: MessagingSettings, written_at: datetime) -> list[dict]:
    rows = []
    for due in batch:
        recipient = recipients.get(due.patient_id)
        if recipient is None:
            continue
        for contact in recipient.contacts:
            skip, _not_before = contact_plan(contact, recipient, now=now, settings=settings, latest=due.start_at)
            rows.append({"appointment_id": due.appointment_id, "kind": due.kind, "channel": contact.channel,
                         "for_start_at": due.start_at, "status": "skipped" if skip else "queued",
                         "error": skip, "created_at": written_at})
    return rows


def queue_due_reminders(session: Session, now: datetime, settings: MessagingSettings, config: Mapping,
                        limit: int | None = None, on_batch: Callable[[list[int]], None] | None = None
                        ) -> list[int]:
    """Claim and queue every reminder due at ``now`` (commits, a batch at a time); the ids of the
    messages to hand to ``enqueue_deliveries`` (the skipped ones are written, not returned).
    ``on_batch`` gets each batch's ids right after its commit, so delivery starts while the
    next batches are written (100,000 reminders take tens of seconds to write).
    Harmless when run twice at once: the claim's unique key lets one run win each reminder."""
    from app.models.types import utcnow

    now = _utc(now)  # the moment that decides what is due (``flask reminders run --at`` may set it)
    due = due_reminders(session, now, settings, limit)
    session.rollback()  # no transaction held while the batches are written
    to_send: list[int] = []
    sqlite = session.get_bind().dialect.name == "sqlite"
    for batch in _batches(due, BATCH):
        written_at = utcnow()  # when the rows are really written (the dashboard's "Time"), not ``now``
        if sqlite:  # take the write lock before reading: another writer's commit cannot stale this snapshot
            session.execute(sa.text("UPDATE reminder_log SET id = id WHERE id IS NULL"))
        recipients = patient_recipients(session, {d.patient_id for d in batch}, settings)
        by_key = {(d.appointment_id, d.kind): d for d in batch}
        won = insert_ignoring_duplicates(session, ReminderLog, _claims(batch, recipients, now, settings, written_at),
                                         ("id", "appointment_id", "kind", "channel"))
        messages = []
        for claim in sorted(won, key=lambda row: row.id):
            item = by_key[(claim.appointment_id, claim.kind)]
            recipient = recipients[item.patient_id]
            contact = next(c for c in recipient.contacts if c.channel == claim.channel)
            skip, not_before = contact_plan(contact, recipient, now=now, settings=settings, latest=item.start_at)
            messages.append({
                "dedupe_key": f"reminder:{claim.id}", "channel": claim.channel, "kind": REMINDER_KIND,
                "params": reminder_params(item), "language": recipient.language or "en",
                "recipient": contact.address, "recipient_name": (recipient.name or None) and recipient.name[:150],
                "user_id": recipient.user_id, "patient_id": recipient.patient_id,
                "appointment_id": item.appointment_id, "not_before": not_before,
                "status": "skipped" if skip else "queued", "skip_reason": skip, "attempts": 0,
                "created_at": written_at})
        written = insert_ignoring_duplicates(session, OutboundMessage, messages, ("id", "dedupe_key", "status"))
        claim_of = {f"reminder:{claim.id}": claim.id for claim in won}
        set_by_id(session, ReminderLog, "message_id", {claim_of[row.dedupe_key]: row.id for row in written})
        session.commit()
        ready = sorted(row.id for row in written if row.status == "queued")
        if on_batch is not None and ready:
            on_batch(ready)
        to_send.extend(ready)
    return sorted(to_send)
