"""Every create, update and delete of a clinic record leaves an AuditEvent, written in the same
transaction as the change itself, whichever entry point made it."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, event, insert, inspect
from sqlalchemy.orm import Session

from app.fab.actor import acting_user_id, client_address
from app.models import (
    AppointmentEvent,
    AuditEvent,
    ConsumedEvent,
    DashboardDay,
    DashboardPatients,
    DashboardRevenueDay,
    DashboardTakingsDay,
    LabBridgeOrder,
    MfaEnrolment,
    MfaRecoveryCode,
    OutboundMessage,
    OutboxEvent,
    PatientFirstVisit,
    ReminderLog,
    SearchDocument,
    SearchWord,
    StoredDocument,
    WebhookCursor,
    WebhookDelivery,
    WebhookReceived,
)
from app.models.types import utcnow

# Append-only trails that are themselves the record of who did what (an appointment's status history
# names its actor and time), and the document store. Two-step login state: its changes are
# recorded as events of their own (mfa_enrolled, mfa_refused, mfa_recovery_code_used, mfa_disabled,
# mfa_reset: app.services.accounts.second_factor), not as a row update on every login's code.
# The messaging records are logs too: a message's row says when it was queued, tried and sent, a
# reminder's claim when it was taken; what staff do to them (sending a message again) is recorded
# as an event of its own (message_resent). The dashboards' rollups are figures computed from audited
# rows (app.services.dashboards.rollups), rewritten by every change of those rows: nobody edits them.
# The search index's rows are derived from audited records, rewritten by every change of them.
# The outbox's events are themselves a record of audited changes, written with them.
NOT_AUDITED = (AuditEvent, AppointmentEvent, StoredDocument, MfaEnrolment, MfaRecoveryCode, OutboundMessage,
               ReminderLog, DashboardDay, DashboardPatients, DashboardRevenueDay, DashboardTakingsDay,
               PatientFirstVisit, SearchDocument, SearchWord, OutboxEvent, WebhookDelivery,
               WebhookReceived, WebhookCursor, ConsumedEvent, LabBridgeOrder)


def actor() -> tuple[int | None, str | None]:
    """The signed-in user's id and the client address of the current request, if any."""
    return acting_user_id(), client_address()


def request_id() -> str | None:
    """The id of the web request (or the job) whose work this is, as its log events carry it."""
    from app.logging_setup import current_context

    value = current_context().get("request_id")
    return value if isinstance(value, str) else None


def _audited(obj: Any) -> bool:
    return type(obj).__module__.startswith("app.models.") and not isinstance(obj, NOT_AUDITED)


def _changed_fields(obj: Any) -> list[str]:
    state = inspect(obj)
    return sorted(attr.key for attr in state.attrs if attr.history.has_changes())


def _row(who: tuple[int | None, str | None], at, action: str, entity: str, entity_id: str | None,
         details: str | None = None) -> dict:
    user_id, ip = who
    return {"user_id": user_id, "at": at, "action": action, "entity": entity, "entity_id": entity_id, "ip": ip,
            "details": details, "request_id": request_id()}


def _rows(session: Session) -> list[dict]:
    who, now = actor(), utcnow()
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not _audited(obj):
                continue
            details = None
            if action == "update":
                fields = _changed_fields(obj)
                if not fields:
                    continue
                details = json.dumps({"fields": fields})
            # New rows have their key by now, but not yet their identity: read the key itself.
            key = inspect(obj).mapper.primary_key_from_instance(obj)
            rows.append(_row(who, now, action, type(obj).__name__,
                             ",".join(str(part) for part in key) if key else None, details))
    return rows


def creation_rows(created: list[tuple[str, int]], at) -> list[dict]:
    """Audit rows for records a service inserted without the ORM (``created``: entity name, id)."""
    who = actor()
    return [_row(who, at, "create", entity, str(key)) for entity, key in created]


def append_rows(session: Session, rows: list[dict]) -> None:
    """The one way rows enter the audit table (on the session's connection and transaction)."""
    if rows:
        append_on_connection(session.connection(), rows)


def append_on_connection(connection: Connection, rows: list[dict]) -> None:
    """``append_rows`` for code that writes through a Connection (the booking statement): each row
    is chained to the trail's head (app/services/audit_chain.py; PostgreSQL links them at commit)."""
    from app.services.audit_chain import link_rows

    if rows:
        connection.execute(insert(AuditEvent.__table__), link_rows(connection, rows))


def record_event(session: Session, action: str, entity: str, entity_id: str | int | None = None,
                 details: dict | None = None, user_id: int | None = None) -> None:
    """An event that is not a row change: a login, a lockout, a denial, a read of patient data.
    ``user_id`` defaults to the acting user. Written in the caller's transaction (the caller commits)."""
    who_id, address = actor()
    append_rows(session, [_row((user_id if user_id is not None else who_id, address), utcnow(), action, entity,
                               None if entity_id is None else str(entity_id),
                               json.dumps(details, ensure_ascii=False) if details else None)])


def _write(session: Session, flush_context) -> None:
    """After the flush new rows have ids, while new/dirty/deleted and attribute history still
    describe what the flush did (SQLAlchemy's documented after_flush state)."""
    append_rows(session, _rows(session))


def register(db) -> None:
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _write):
        event.listen(session_class, "after_flush", _write)
