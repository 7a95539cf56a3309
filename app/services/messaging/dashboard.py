"""The delivery dashboard's reads: every outgoing message, newest first, with filters, the counts
per status and per skip reason for the chosen period, and one message as it was sent.

Plain rows only: the page (app/views/delivery.py) formats them. ``params`` is never read here: it
may hold a link token (confirm/cancel links)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import OutboundMessage, Patient
from app.models.messaging import MESSAGE_STATUSES, SKIP_REASONS
from app.services.errors import ValidationFailed
from app.services.lookup import patient_condition
from app.services.text import fold
from app.services.validation import normalize_phone

PAGE_SIZE = 50


@dataclass(frozen=True)
class MessageFilter:
    channel: str | None = None
    status: str | None = None
    kind: str | None = None
    date_from: date | None = None  # clinic days, inclusive
    date_to: date | None = None
    recipient: str | None = None  # part of the name (accents ignored), the address, or a phone typed any way
    phone_region: str = "VN"  # CLINIC_PHONE_REGION: how a local phone number ("0912 345 678") is read


@dataclass(frozen=True)
class MessageRow:
    id: int
    created_at: datetime
    sent_at: datetime | None
    channel: str
    kind: str
    language: str
    recipient: str | None
    recipient_name: str | None
    status: str
    skip_reason: str | None
    attempts: int
    last_error: str | None
    patient_id: int | None
    appointment_id: int | None


@dataclass(frozen=True)
class MessageDetail(MessageRow):
    subject: str | None
    body: str | None
    not_before: datetime | None
    provider_ref: str | None


@dataclass
class MessagePage:
    rows: list[MessageRow]
    total: int
    page: int
    page_size: int
    by_status: dict[str, int] = field(default_factory=dict)  # every status, 0 when none
    by_skip_reason: dict[str, int] = field(default_factory=dict)  # only the reasons that occur

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _bounds(day_from: date | None, day_to: date | None, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(day_from, time.min, tzinfo=tz) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=tz) if day_to else None
    return start, end


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _recipient_condition(session: Session, text: str, region: str) -> sa.ColumnElement[bool]:
    """Messages whose recipient matches ``text`` the way staff type it: part of the address or of
    the name as written; a name without accents ("nguyen thi ngan"); a phone number written any
    way ("0912 345 678" finds +84912345678), or part of one ("0912 345")."""
    m = OutboundMessage
    needle, folded = _like(text.lower()), fold(text)
    conditions: list[sa.ColumnElement[bool]] = [
        sa.func.lower(m.recipient).like(needle, escape="\\"),
        sa.func.lower(m.recipient_name).like(needle, escape="\\"),
    ]
    if folded:
        # a patient's messages: the patient search (name without accents, code, phone)
        conditions.append(m.patient_id.in_(sa.select(Patient.id).where(patient_condition(text, region))))
        # anyone else (staff, accounts): their names, folded here (a few hundred at most)
        others = session.execute(sa.select(m.recipient_name).where(m.patient_id.is_(None),
                                                                   m.recipient_name.is_not(None)).distinct())
        names = [name for name in others.scalars() if folded in fold(name)]
        if names:
            conditions.append(m.recipient_name.in_(names))
    if any(ch.isdigit() for ch in text):
        try:
            phone = normalize_phone("recipient", text, region)
        except ValidationFailed:
            phone = None
        if phone:
            conditions.append(m.recipient == phone)
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 4 and set(text) <= set("0123456789 +-.()"):
            # part of a local number: "0912 345" is in +84912345678 without its leading 0
            conditions.append(m.recipient.like(_like(digits.lstrip("0") if not text.lstrip().startswith("+")
                                                     else digits), escape="\\"))
    return sa.or_(*conditions)


def _period_and_search(session: Session, f: MessageFilter, tz: tzinfo) -> list[sa.ColumnElement[bool]]:
    """The conditions the counts share with the list: the period, channel, kind and recipient (not
    the status: the counts are per status)."""
    m = OutboundMessage
    where: list[sa.ColumnElement[bool]] = []
    start, end = _bounds(f.date_from, f.date_to, tz)
    if start is not None:
        where.append(m.created_at >= start)
    if end is not None:
        where.append(m.created_at < end)
    if f.channel:
        where.append(m.channel == f.channel)
    if f.kind:
        where.append(m.kind == f.kind)
    if f.recipient and f.recipient.strip():
        where.append(_recipient_condition(session, f.recipient.strip()[:100], f.phone_region))
    return where


def _row(m: OutboundMessage) -> MessageRow:
    return MessageRow(m.id, m.created_at, m.sent_at, m.channel, m.kind, m.language, m.recipient, m.recipient_name,
                      m.status, m.skip_reason, m.attempts, m.last_error, m.patient_id, m.appointment_id)


def list_messages(session: Session, f: MessageFilter, tz: tzinfo, *, page: int = 1,
                  page_size: int = PAGE_SIZE) -> MessagePage:
    """One page of messages (newest first) and the period's counts."""
    m = OutboundMessage
    shared = _period_and_search(session, f, tz)
    where = shared + ([m.status == f.status] if f.status else [])
    total = int(session.execute(sa.select(sa.func.count(m.id)).where(*where)).scalar() or 0)
    page = max(1, page)
    # only the columns the list shows: never ``params`` (link tokens) nor the bodies
    rows = session.execute(
        sa.select(m).options(sa.orm.load_only(
            m.id, m.created_at, m.sent_at, m.channel, m.kind, m.language, m.recipient, m.recipient_name, m.status,
            m.skip_reason, m.attempts, m.last_error, m.patient_id, m.appointment_id))
        .where(*where).order_by(m.created_at.desc(), m.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    by_status = dict.fromkeys(MESSAGE_STATUSES, 0)
    for status, count in session.execute(sa.select(m.status, sa.func.count(m.id)).where(*shared)
                                         .group_by(m.status)):
        by_status[status] = int(count)
    by_reason = {}
    for reason, count in session.execute(sa.select(m.skip_reason, sa.func.count(m.id))
                                         .where(*shared, m.status == "skipped").group_by(m.skip_reason)):
        if reason:
            by_reason[reason] = int(count)
    ordered = {r: by_reason[r] for r in SKIP_REASONS if r in by_reason}
    return MessagePage([_row(x) for x in rows], total, page, page_size, by_status, ordered)


def message_kinds(session: Session) -> list[str]:
    """The kinds that occur (for the filter's choices)."""
    return sorted(session.execute(sa.select(OutboundMessage.kind).distinct()).scalars())


def message_detail(session: Session, message_id: int) -> MessageDetail | None:
    m = session.get(OutboundMessage, message_id)
    if m is None:
        return None
    base = _row(m)
    return MessageDetail(**base.__dict__, subject=m.subject, body=m.body, not_before=m.not_before,
                         provider_ref=m.provider_ref)
