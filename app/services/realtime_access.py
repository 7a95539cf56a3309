"""Who may listen to which live-update room (``app.realtime``). Rooms are named ``<kind>:<key>``:

- ``user:<id>``        that login only (its bell, its toasts);
- ``role:<name>``      the logins holding that role (the pharmacy's queue, the reception inbox);
- ``doctor:<id>``      that doctor's own login, and the roles that see the whole waiting list
                       (``QUEUE_ROLES``);
- ``display:<department id>`` and ``display:all``  the waiting-room screens: public, no login
                       (numbers and initials only are ever sent there);
- anything else (``conversation:<id>`` of the chat) by a rule registered with
  ``register_room_rule(kind, rule)``; a kind without a rule is refused.

Plain functions over the SQL session; no request, no ``g``. A refusal is written to the audit
trail (``realtime_denied``) by ``record_refusal``."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor

QUEUE_ROLES = ("Receptionist", "Manager", "Admin")  # they see every doctor's waiting list
PUBLIC_KINDS = ("display",)
ROOM_PATTERN = re.compile(r"^(?P<kind>[a-z_]{1,20}):(?P<key>[A-Za-z0-9_\-]{1,64})$")

RoomRule = Callable[[Session, Any, str], bool]
_rules: dict[str, RoomRule] = {}


class RoomRefused(Exception):
    """A join that is not allowed; ``reason`` is a short code (``malformed``, ``login``,
    ``not_yours``, ``unknown_kind``)."""

    def __init__(self, room: str, reason: str) -> None:
        super().__init__(f"{room}: {reason}")
        self.room = room
        self.reason = reason


@dataclass(frozen=True)
class Room:
    kind: str
    key: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.key}"


def register_room_rule(kind: str, rule: RoomRule) -> None:
    """``rule(session, user, key) -> bool`` decides who may join ``<kind>:<key>`` (e.g. the chat's
    ``conversation`` rule). A later registration for the same kind replaces the earlier one."""
    if kind in ("user", "role", "doctor") + PUBLIC_KINDS:
        raise ValueError(f"the {kind!r} rooms have a built-in rule")
    _rules[kind] = rule


def registered_kinds() -> list[str]:
    return sorted(_rules)


def parse_room(name: Any) -> Room:
    if not isinstance(name, str) or not ROOM_PATTERN.match(name):
        raise RoomRefused(str(name)[:80], "malformed")
    kind, key = name.split(":", 1)
    return Room(kind, key)


def role_names(user: Any) -> set[str]:
    return {role.name for role in getattr(user, "roles", None) or []}


def doctor_id_of(session: Session, user_id: int) -> int | None:
    return session.execute(sa.select(Doctor.id).where(Doctor.user_id == user_id).order_by(Doctor.id)).scalar()


def may_join(session: Session, user: Any | None, room: Room) -> bool:
    """Whether ``user`` (None: not logged in) may listen to ``room``."""
    if room.kind in PUBLIC_KINDS:
        return room.key == "all" or room.key.isdigit()
    if user is None:
        return False
    if room.kind == "user":
        return room.key == str(user.id)
    if room.kind == "role":
        return room.key in role_names(user)
    if room.kind == "doctor":
        if not room.key.isdigit():
            return False
        if role_names(user) & set(QUEUE_ROLES):
            return True
        return doctor_id_of(session, user.id) == int(room.key)
    rule = _rules.get(room.kind)
    return bool(rule and rule(session, user, room.key))


def check_join(session: Session, user: Any | None, name: Any) -> Room:
    """The room ``name`` if ``user`` may join it, else ``RoomRefused``."""
    room = parse_room(name)
    if room.kind not in PUBLIC_KINDS and room.kind not in ("user", "role", "doctor") and room.kind not in _rules:
        raise RoomRefused(room.name, "unknown_kind")
    if not may_join(session, user, room):
        raise RoomRefused(room.name, "login" if user is None else "not_yours")
    return room


def own_rooms(session: Session, user: Any) -> list[str]:
    """The rooms a login is put in on connecting: its own, its roles' and, for a doctor, their
    own waiting list."""
    rooms = [f"user:{user.id}"] + [f"role:{name}" for name in sorted(role_names(user))]
    doctor_id = doctor_id_of(session, user.id)
    if doctor_id is not None:
        rooms.append(f"doctor:{doctor_id}")
    return rooms


def record_refusal(session: Session, user_id: int | None, room: str, reason: str, *, address: str | None = None
                   ) -> None:
    """The audit row of a refused join (the caller commits)."""
    from app.audit import record_event

    details = {"room": room[:80], "reason": reason}
    if address:
        details["address"] = address
    record_event(session, "realtime_denied", "RealtimeRoom", room[:80], details=details, user_id=user_id)


def doctor_room_targets(session: Session, doctor_id: int) -> list[str]:
    """Where a change of ``doctor_id``'s waiting list goes: their room, reception and the
    waiting-room displays of their department (and ``display:all``)."""
    department_id = session.execute(sa.select(Doctor.department_id).where(Doctor.id == doctor_id)).scalar()
    rooms = [f"doctor:{doctor_id}", "role:Receptionist"]
    return rooms + ([f"display:{department_id}"] if department_id else []) + ["display:all"]


def initials(full_name: str | None) -> str:
    """"Nguyễn Văn An" -> "N.V.A.": what a screen may show of a patient."""
    parts = [p for p in (full_name or "").split() if p]
    return "".join(p[0].upper() + "." for p in parts)[:12]


@dataclass(frozen=True)
class AppointmentDisplay:
    appointment_id: int
    doctor_id: int
    doctor_name: str
    patient_initials: str
    start_at: str
    status: str
    channel: str
    day: date


def appointment_display(session: Session, appointment_id: int, zone: Any) -> AppointmentDisplay | None:
    """The display fields of an appointment event: ids, time, status, the doctor's name and the
    patient's initials (never the reason, notes or full name)."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    start: datetime = appointment.start_at
    local = start.astimezone(zone)
    patient = appointment.patient.full_name if appointment.patient is not None else ""
    doctor = appointment.doctor.full_name if appointment.doctor is not None else ""
    return AppointmentDisplay(appointment.id, appointment.doctor_id, doctor, initials(patient), start.isoformat(),
                              appointment.status, appointment.channel, local.date())


def queue_versions(session: Session, day_start: datetime, day_end: datetime, doctor_ids: list[int] | None
                   ) -> dict[int, str]:
    """Per doctor, a version of their waiting list for the day between ``day_start`` and
    ``day_end`` (UTC): the latest change of any of its appointments. A client that saw another
    version reloads that doctor's list. ``doctor_ids`` None: every doctor."""
    q = (sa.select(Appointment.doctor_id, sa.func.max(Appointment.updated_at), sa.func.count(Appointment.id))
         .where(Appointment.start_at >= day_start, Appointment.start_at < day_end)
         .group_by(Appointment.doctor_id))
    if doctor_ids is not None:
        if not doctor_ids:
            return {}
        q = q.where(Appointment.doctor_id.in_(doctor_ids))
    return {int(doctor): f"{changed or ''}/{count}"
            for doctor, changed, count in session.execute(q)}


def visible_doctor_ids(session: Session, user: Any) -> list[int] | None:
    """The waiting lists ``user`` may follow: None for every one (``QUEUE_ROLES``), else their own."""
    if role_names(user) & set(QUEUE_ROLES):
        return None
    own = doctor_id_of(session, user.id)
    return [own] if own is not None else []


@dataclass(frozen=True)
class CatchUp:
    """What a client that reconnects missed (``GET /api/v1/realtime/state``)."""
    unread: int
    notifications: list[Any]  # notifications.NotificationRow, oldest first
    more: bool
    day: date
    queue_versions: dict[int, str]


def catch_up(session: Session, user: Any, *, since_id: int | None, day: date, day_start: datetime,
             day_end: datetime, limit: int = 50) -> CatchUp:
    """The user's unread count, their notifications after ``since_id`` (None: the latest ones)
    and the versions of the waiting lists they may follow on ``day``."""
    from app.models import Notification
    from app.services.notifications import NotificationRow, unread_count

    q = sa.select(Notification).where(Notification.user_id == user.id)
    if since_id is not None:
        rows = list(session.execute(q.where(Notification.id > since_id).order_by(Notification.id)
                                    .limit(limit + 1)).scalars())
    else:
        rows = list(reversed(session.execute(q.order_by(Notification.id.desc()).limit(limit)).scalars().all()))
    more = len(rows) > limit
    shown = [NotificationRow(n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at is not None)
             for n in rows[:limit]]
    versions = queue_versions(session, day_start, day_end, visible_doctor_ids(session, user))
    return CatchUp(unread_count(session, user.id), shown, more, day, versions)
