"""Reading the audit trail: the admins' search (who, what, which record, from where, when), newest
first, a page at a time. Plain rows for the page; nothing here writes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.models import AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    user: str | None = None  # login, first or last name (part of it), or a user id
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    ip: str | None = None  # an address or its beginning ("10.0.")
    since: date | None = None  # clinic-local days, both included
    until: date | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    user_name: str | None
    action: str
    entity: str
    entity_id: str | None
    ip: str | None
    details: Any  # the parsed JSON (dict, list...) or the stored text when it is not JSON
    seq: int | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(query: Select[Any], filters: AuditFilters, zone: ZoneInfo) -> Select[Any]:
    event = AuditEvent
    if filters.user:
        text = filters.user.strip()
        matches = select(User.id).where(or_(*(column.ilike(_like(text), escape="\\") for column in (
            User.username, User.first_name, User.last_name, User.first_name + " " + User.last_name,
            User.last_name + " " + User.first_name))))
        conditions: list[Any] = [event.user_id.in_(matches)]
        if text.isdigit() and len(text) <= 9:
            conditions.append(event.user_id == int(text))
        query = query.where(or_(*conditions))
    if filters.action:
        query = query.where(event.action == filters.action)
    if filters.entity:
        query = query.where(event.entity == filters.entity)
    if filters.entity_id:
        query = query.where(event.entity_id == filters.entity_id.strip())
    if filters.ip:
        query = query.where(event.ip.like(filters.ip.strip().replace("\\", "\\\\").replace("%", "\\%")
                                          .replace("_", "\\_") + "%", escape="\\"))
    if filters.since:
        query = query.where(event.at >= datetime.combine(filters.since, time(), zone))
    if filters.until:
        query = query.where(event.at < datetime.combine(filters.until + timedelta(days=1), time(), zone))
    return query


def _details(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def search_audit_events(session: Session, filters: AuditFilters, zone: ZoneInfo, page: int = 1,
                        page_size: int = 25) -> AuditPage:
    """One page of the rows matching ``filters``, newest first (by time, then by id)."""
    page = max(1, page)
    total = session.execute(_filtered(select(func.count(AuditEvent.id)), filters, zone)).scalar_one()
    query = _filtered(select(AuditEvent, User.username, User.first_name, User.last_name)
                      .outerjoin(User, User.id == AuditEvent.user_id), filters, zone)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset((page - 1) * page_size) \
        .limit(page_size)
    rows = [
        AuditRow(id=e.id, at=e.at, user_id=e.user_id, username=username,
                 user_name=" ".join(p for p in (first, last) if p) or None, action=e.action, entity=e.entity,
                 entity_id=e.entity_id, ip=e.ip, details=_details(e.details), seq=e.seq)
        for e, username, first, last in session.execute(query).all()
    ]
    return AuditPage(rows, total, page, page_size)


def audit_choices(session: Session) -> tuple[list[str], list[str]]:
    """The actions and the entities that occur in the trail (for the search's drop-downs)."""
    actions = session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    entities = session.scalars(select(AuditEvent.entity).distinct().order_by(AuditEvent.entity)).all()
    return list(actions), list(entities)
