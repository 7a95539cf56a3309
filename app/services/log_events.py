"""Log events kept as documents: what the admin log viewer reads, exports and purges.

Events are written by ``app.log_store`` (a queue and a background writer) into the document store's
``log_events`` collection (MongoDB or the SQL table; ``app.services.documents``). Each is the JSON
line's fields: ``created_at`` (the event's time), ``level``, ``logger``, ``message``, the context
(``request_id``, ``user_id``, ``role``, ``method``, ``route``, ``status``, ``duration_ms``, ``job_id``,
``job``, ``socket_event``, ``namespace``), the record's scrubbed extra fields, ``exception`` (the
traceback's text) and ``source`` (web, job, socket or process).
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.services.documents import DocumentStore

COLLECTION = "log_events"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
KEPT_LEVEL = logging.INFO  # events below are written to the console only
PAGE_SIZE = 200
REQUEST_LIMIT = 2000  # events shown for one request
EXPORT_LIMIT = 100_000  # events in one export
TEXT_MAX = 200


@dataclass(frozen=True)
class LogFilters:
    """The viewer's filters; every one optional. ``status`` and ``user_id`` are whole numbers."""

    text: str = ""
    level: str = ""
    since: datetime | None = None
    until: datetime | None = None
    user_id: int | None = None
    route: str = ""
    status: int | None = None
    request_id: str = ""

    def store_filters(self) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        if self.level:
            filters["level"] = self.level
        if self.user_id is not None:
            filters["user_id"] = self.user_id
        if self.route:
            filters["route"] = self.route
        if self.status is not None:
            filters["status"] = self.status
        if self.request_id:
            filters["request_id"] = self.request_id
        return filters

    def contains(self) -> dict[str, str]:
        return {"message": self.text[:TEXT_MAX]} if self.text else {}


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def is_request_id(text: str) -> bool:
    """The shape every request id has (``app.logging_setup.request_id_from``)."""
    return bool(_REQUEST_ID.fullmatch(text or ""))


def resolve_user(session: Session, text: str) -> int | None:
    """The user a filter names: a login, or a user number."""
    if text.isdigit() and len(text) < 10:
        found = session.scalar(select(User.id).where(User.id == int(text)))
        if found is not None:
            return int(found)
    found = session.scalar(select(User.id).where(User.username == text))
    return int(found) if found is not None else None


def usernames(session: Session, user_ids: set[Any]) -> dict[int, str]:
    """Login names of the users events and rows name (ids that are not whole numbers are skipped)."""
    ids = sorted({i for i in user_ids if isinstance(i, int) and not isinstance(i, bool)})
    if not ids:
        return {}
    return {row.id: row.username for row in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def tail_room_rule(session: Session, user: Any, key: str) -> bool:
    """The live tail (room ``logtail:all``) is for admins, as the log viewer is."""
    from app.services.realtime_access import role_names

    return key == "all" and "Admin" in role_names(user)


def source_of(event: dict[str, Any]) -> str:
    """Where an event came from: a job, a Socket.IO handler, a web request, or the process itself."""
    if event.get("job_id"):
        return "job"
    if event.get("socket_event"):
        return "socket"
    if event.get("method") or event.get("route"):
        return "web"
    return "process"


def search_log_events(store: DocumentStore, filters: LogFilters, *, limit: int = PAGE_SIZE,
                      before: datetime | None = None) -> list[dict[str, Any]]:
    """The newest events matching ``filters`` (at most ``limit``), older than ``before`` when
    given (the viewer's "older" page)."""
    until = filters.until
    if before is not None:
        until = min(until, before - timedelta(milliseconds=1)) if until else before - timedelta(milliseconds=1)
    return store.find(COLLECTION, filters.store_filters(), since=filters.since, until=until, limit=limit,
                      newest_first=True, contains=filters.contains())


def request_events(store: DocumentStore, request_id: str) -> list[dict[str, Any]]:
    """Every kept event of one request (its web events, the jobs it queued, socket events) in order."""
    return store.find(COLLECTION, {"request_id": request_id}, limit=REQUEST_LIMIT, newest_first=False)


def request_audit_rows(session: Session, request_id: str, limit: int = 500) -> list[AuditEvent]:
    """The audit rows written by the same request, in order."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)
                                .order_by(AuditEvent.at, AuditEvent.id).limit(limit)))


def export_lines(store: DocumentStore, filters: LogFilters, *, limit: int = EXPORT_LIMIT) -> Iterator[str]:
    """The filtered events as JSON lines, newest first, read page by page."""
    before: datetime | None = None
    sent = 0
    while sent < limit:
        page = search_log_events(store, filters, limit=min(1000, limit - sent), before=before)
        if not page:
            return
        for event in page:
            yield json.dumps(_jsonable(event), ensure_ascii=False, separators=(",", ":")) + "\n"
        sent += len(page)
        before = page[-1]["created_at"]
        if len(page) < 1000:
            return


def purge_log_events(store: DocumentStore, now: datetime, retention_days: int) -> int:
    """Delete the events older than the retention period; how many went."""
    if retention_days < 1:
        raise ValueError("the log retention must be at least one day")
    return store.delete_older_than(COLLECTION, now - timedelta(days=retention_days))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def jsonable(event: dict[str, Any]) -> dict[str, Any]:
    """An event as JSON values (times as ISO 8601 text), for the live tail and the export."""
    return _jsonable(event)
