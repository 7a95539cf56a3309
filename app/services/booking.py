"""Booking: free slots, one path to book, the appointment workflow, rescheduling and cancelling.

Every entry point (back office, public site, REST API, chat, generic screens) calls these
functions. Two bookings can never hold one doctor's time: bookings of a doctor are serialised by
an advisory lock per doctor (PostgreSQL) or the database write lock (SQLite), checked again inside
that lock, and on PostgreSQL an exclusion constraint makes overlapping active appointments
impossible whatever the code does."""
from __future__ import annotations

from bisect import bisect_left
from collections import namedtuple
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dateutil.rrule import rrulestr
from flask_babel import gettext as _
from sqlalchemy import String, and_, bindparam, cast, exists, func, insert, inspect, join, literal_column, or_, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from app import audit
from app.models import (Appointment, AppointmentEvent, AppointmentSeries, AuditEvent, Doctor, Patient, Service,
                        doctor_service)
from app.models.scheduling import ACTIVE_STATUSES, CHANNELS
from app.models.types import UTCDateTime, utcnow
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed, committing
from app.services.errors import commit as commit_or_raise
from app.services.schedule_rules import (DAY_RULES, day_intervals, day_rules, split_day_rules, whole_day_off,
                                         working_intervals)
from app.services.settings import ClinicSettings

MAX_RANGE_DAYS = 62
TRANSITIONS: dict[str, set[str]] = {
    "requested": {"confirmed", "cancelled"},
    "confirmed": {"checked_in", "cancelled", "no_show"},
    "checked_in": {"in_consultation", "cancelled", "no_show"},
    "in_consultation": {"completed"},
    "completed": set(),
    "cancelled": set(),
    "no_show": set(),
}
INITIAL_STATUSES = ("requested", "confirmed")


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    end: datetime


@dataclass(frozen=True, slots=True)
class Booking:
    """What ``book_appointment`` wrote: the new appointment's values (load the Appointment by
    ``id`` for its relationships)."""
    id: int
    patient_id: int
    doctor_id: int
    service_id: int
    start_at: datetime  # aware UTC
    end_at: datetime
    status: str
    channel: str
    reason: str | None
    notes: str | None
    series_id: int | None
    created_by_id: int | None
    created_at: datetime
    queue_number: None = None  # given at check-in


# --- looking things up -------------------------------------------------------------------------


def _doctor_and_service(session: Session, doctor_id: int, service_id: int) -> tuple[Doctor, Service]:
    doctor = session.get(Doctor, doctor_id) if doctor_id else None
    if doctor is None or not doctor.active:
        raise ValidationFailed(_("Unknown doctor."), "doctor_id")
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    offers = session.execute(select(doctor_service.c.doctor_id).where(
        doctor_service.c.doctor_id == doctor.id, doctor_service.c.service_id == service.id)).first()
    if offers is None:
        raise ValidationFailed(_("%(doctor)s does not offer %(service)s.", doctor=str(doctor), service=service.name),
                               "service_id")
    return doctor, service


def _local(moment: datetime, settings: ClinicSettings) -> datetime:
    return moment.astimezone(settings.timezone).replace(tzinfo=None)


def _utc(local: datetime, settings: ClinicSettings) -> datetime:
    return local.replace(tzinfo=settings.timezone).astimezone(timezone.utc)


def _clashes(start: datetime, end: datetime, busy: list[tuple[datetime, datetime]], buffer: timedelta) -> bool:
    """``busy`` is sorted by start; the new visit needs [start, end + buffer) free of every
    [s, e + buffer)."""
    index = bisect_left(busy, (start - LONGEST_VISIT, start))
    for s, e in busy[index:]:
        if s >= end + buffer:
            break
        if start < e + buffer and s < end + buffer:
            return True
    return False


# --- availability ------------------------------------------------------------------------------


def check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationFailed(_("The end date must not be before the start date."), "date_to")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(_("Ask for at most %(n)d days at a time.", n=MAX_RANGE_DAYS), "date_to")


def free_slots(session: Session, *, doctor_id: int, service_id: int, date_from: date, date_to: date,
               settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None) -> list[Slot]:
    """Start times (on the slot grid) when the doctor works, is not on leave, has no other
    appointment (with the buffer) and that respect the minimum notice and the horizon."""
    check_range(date_from, date_to)
    _doctor, service = _doctor_and_service(session, doctor_id, service_id)
    policy = settings.booking
    now = now or settings.now()
    earliest, latest = now + policy.min_notice, now + policy.horizon
    duration, step = timedelta(minutes=service.duration_minutes), timedelta(minutes=policy.slot_minutes)
    buffer = timedelta(minutes=policy.buffer_minutes)
    days = working_intervals(session, doctor_id, date_from, date_to)
    window_start = _utc(datetime.combine(date_from, datetime.min.time()), settings) - buffer
    window_end = _utc(datetime.combine(date_to + timedelta(days=1), datetime.min.time()), settings) + buffer
    busy = [(row.start_at, row.end_at) for row in session.connection().execute(_DOCTOR_BUSY, {
        "v_doctor_id": doctor_id, "c_since": window_start, "c_until": window_end,
        "c_since_longest": window_start - LONGEST_VISIT, "c_ignore": ignore_appointment_id or 0})]
    slots: list[Slot] = []
    for intervals in days.values():
        for begin, finish in intervals:
            t = begin
            while t + duration <= finish:
                start = _utc(t, settings)
                end = start + duration
                if earliest <= start <= latest and not _clashes(start, end, busy, buffer):
                    slots.append(Slot(start, end))
                t += step
    return slots


def first_available(session: Session, *, service_id: int, date_from: date, date_to: date,
                    settings: ClinicSettings, now: datetime | None = None,
                    limit: int = 10) -> list[tuple[Doctor, Slot]]:
    """"Any doctor": each doctor offering the service with their earliest free slot, soonest first."""
    service = session.get(Service, service_id) if service_id else None
    if service is None or not service.active:
        raise ValidationFailed(_("Unknown service."), "service_id")
    check_range(date_from, date_to)
    found: list[tuple[Doctor, Slot]] = []
    for doctor in (d for d in service.doctors if d.active):
        slots = free_slots(session, doctor_id=doctor.id, service_id=service_id, date_from=date_from,
                           date_to=date_to, settings=settings, now=now)
        if slots:
            found.append((doctor, slots[0]))
    found.sort(key=lambda pair: (pair[1].start, pair[0].id))
    return found[:limit]


# --- the one booking check ---------------------------------------------------------------------
# Booking is the hottest write of a clinic's day. On PostgreSQL it is one statement, built once, so
# it costs the round trips of a bare INSERT: take the doctor's advisory lock, insert the appointment
# if the doctor and the service are bookable and nothing is in the way (with its history event and
# audit row), and return the doctor's rules of that day, which Python then checks (a failure rolls
# the insert back). Elsewhere the same pieces run one by one after the database's write lock.
# The reasons for a refusal are looked up only when there is one.

LONGEST_VISIT = timedelta(days=1)  # services last at most 480 minutes (ck_service_duration_range)

BOOKING_LOCK = 7301  # PostgreSQL advisory lock class: (BOOKING_LOCK, doctor id) = that doctor's bookings
_ACTIVE = Appointment.status.in_([literal_column(f"'{status}'") for status in ACTIVE_STATUSES])  # inline
_DAY = DAY_RULES.subquery("day_rules")
_OFFERS = exists().where(doctor_service.c.doctor_id == Doctor.id, doctor_service.c.service_id == Service.id)

# The facts a booking is checked against (one row), and with the doctor's rules of the day (one row
# per rule, kind NULL if none).
_FACTS = select(
    Doctor.active.label("doctor_active"), Service.active.label("service_active"), Service.duration_minutes,
    _OFFERS.label("offers"), exists().where(Patient.id == bindparam("patient_id")).label("patient_known"),
).select_from(join(Doctor.__table__, Service.__table__, true())).where(
    Doctor.id == bindparam("doctor_id"), Service.id == bindparam("service_id"))


def _with_rules(facts):
    return select(*facts.c, _DAY.c.kind, _DAY.c.start_time, _DAY.c.end_time).select_from(facts.outerjoin(_DAY, true()))


def _bookable(facts):
    """The doctor and the service are active, the doctor offers it, it lasts v_duration, and the
    patient exists."""
    return select(literal_column("1")).select_from(facts).where(
        facts.c.doctor_active, facts.c.service_active, facts.c.offers, facts.c.patient_known,
        facts.c.duration_minutes == bindparam("v_duration")).exists()


_CONTEXT = _with_rules(_FACTS.subquery("facts"))
_LOCK_DOCTOR = select(func.pg_advisory_xact_lock(literal_column(str(BOOKING_LOCK)), bindparam("doctor_id"))
                      .label("locked"))
_WRITE_LOCK_DOCTOR = update(Doctor.__table__).where(Doctor.id == bindparam("doctor_id")).values(id=Doctor.id)


class _overlaps(FunctionElement):
    """An appointment's [start_at, end_at) overlaps [since, until): on PostgreSQL with the ranges of
    the exclusion constraints, so their GiST indexes find the few overlapping rows; elsewhere as
    comparisons, with ``floor`` (a bound on start_at) letting the (…, start_at) index stop early."""

    type = NullType()  # a Boolean type would render as "(…) = 1" on SQLite, hiding the index
    inherit_cache = True
    name = "overlaps"


@compiles(_overlaps)
def _overlaps_portable(element, compiler, **kw) -> str:
    start, end, since, until, floor = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"({start} < {until} AND {end} > {since} AND {start} > {floor})"


@compiles(_overlaps, "postgresql")
def _overlaps_postgresql(element, compiler, **kw) -> str:
    start, end, since, until = (compiler.process(arg, **kw) for arg in list(element.clauses)[:4])
    return f"tstzrange({start}, {end}, '[)') && tstzrange({since}, {until}, '[)')"


def _moment(name: str):
    return bindparam(name, type_=UTCDateTime())


# What stands in the way of a visit [v_start_at, v_end_at) of doctor v_doctor_id and patient
# v_patient_id: an active appointment of the doctor within the buffer ([c_since, c_until) is the
# visit widened by it), or of the patient at the same time; c_ignore is the appointment being moved.
def _owner_busy(owner, owner_key: str, since: str, until: str, floor: str, ignoring: bool):
    condition = and_(owner == bindparam(owner_key), _ACTIVE, _overlaps(
        Appointment.start_at, Appointment.end_at, _moment(since), _moment(until), _moment(floor)))
    return and_(condition, Appointment.id != bindparam("c_ignore")) if ignoring else condition


def _in_the_way(ignoring: bool):
    return (_owner_busy(Appointment.doctor_id, "v_doctor_id", "c_since", "c_until", "c_since_longest", ignoring),
            _owner_busy(Appointment.patient_id, "v_patient_id", "v_start_at", "v_end_at", "c_start_longest", ignoring))


_FREE = and_(*(~exists().where(busy) for busy in _in_the_way(ignoring=False)))  # for a new booking
_DOCTOR_BUSY = select(Appointment.start_at, Appointment.end_at).where(_in_the_way(ignoring=True)[0]) \
    .order_by(Appointment.start_at)  # the doctor's time taken in [c_since, c_until): free_slots
_CLASHES = select(Appointment.doctor_id, Appointment.start_at, Appointment.end_at) \
    .where(or_(*_in_the_way(ignoring=True))).order_by(Appointment.start_at)


def _in_the_way_params(doctor_id: int, patient_id: int | None, start: datetime, end: datetime,
                       settings: ClinicSettings, ignore_id: int | None) -> dict:
    buffer = timedelta(minutes=settings.booking.buffer_minutes)
    return {"v_doctor_id": doctor_id, "v_patient_id": patient_id or 0, "v_start_at": start, "v_end_at": end,
            "c_since": start - buffer, "c_until": end + buffer, "c_since_longest": start - buffer - LONGEST_VISIT,
            "c_start_longest": start - LONGEST_VISIT, "c_ignore": ignore_id or 0}


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_for_booking(session: Session, doctor_id: int, patient_id: int | None) -> bool:
    """Serialise bookings of this doctor until the transaction ends; False when the patient does
    not exist. PostgreSQL: a transaction-level advisory lock (BOOKING_LOCK, doctor id), which,
    unlike a row lock, writes nothing; a patient's bookings with two doctors at once are refused by
    the exclusion constraint ex_appointment_patient_overlap. Other databases: a write to the
    doctor's row, which on SQLite takes its single write lock now rather than at the first INSERT,
    so the checks that follow see every booking."""
    connection = session.connection()
    connection.execute(_LOCK_DOCTOR if _postgres(session) else _WRITE_LOCK_DOCTOR, {"doctor_id": doctor_id})
    return not patient_id or session.get(Patient, patient_id) is not None


def _doctor_name(session: Session, doctor_id: int) -> str:
    return str(session.get(Doctor, doctor_id))


def _check_time(start: datetime, settings: ClinicSettings, now: datetime, field: str) -> datetime:
    """The start in UTC, or why it cannot be booked whoever the doctor: past, too soon, too far."""
    if start.tzinfo is None:
        raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    policy = settings.booking
    start = start.astimezone(timezone.utc)
    if start < now:
        raise ValidationFailed(_("This time is in the past."), field)
    if start < now + policy.min_notice:
        raise ValidationFailed(_("Book at least %(n)d minutes ahead.",
                                 n=int(policy.min_notice.total_seconds() // 60)), field)
    if start > now + policy.horizon:
        raise ValidationFailed(_("Bookings open %(n)d days ahead.", n=policy.horizon.days), field)
    return start


def _check_hours(session: Session, doctor_id: int, start: datetime, end: datetime, settings: ClinicSettings,
                 field: str, weekly: list, exceptions: list) -> None:
    """The visit lies within one of the doctor's working sessions that day (``weekly`` hours and
    ``exceptions`` of that day), on the slot grid."""
    local_start, local_end = _local(start, settings), _local(end, settings)
    day = local_start.date()
    intervals = day_intervals(day, weekly, exceptions)
    session_block = next((b for b in intervals if b[0] <= local_start and local_end <= b[1]), None)
    if session_block is None:
        doctor, reason = _doctor_name(session, doctor_id), whole_day_off(exceptions)
        if reason:
            raise ValidationFailed(_("%(doctor)s is not working on %(day)s (%(reason)s).", doctor=doctor,
                                     day=day.isoformat(), reason=_(reason)), field)
        hours = ", ".join(f"{b[0]:%H:%M}–{b[1]:%H:%M}" for b in intervals) or _("none")
        raise ValidationFailed(_("Outside %(doctor)s's working hours on %(day)s (%(hours)s).", doctor=doctor,
                                 day=day.isoformat(), hours=hours), field)
    policy = settings.booking
    if (local_start - session_block[0]).total_seconds() / 60 % policy.slot_minutes:
        raise ValidationFailed(_("Appointments start every %(n)d minutes from %(start)s.",
                                 n=policy.slot_minutes, start=f"{session_block[0]:%H:%M}"), field)


def _refuse_clash(session: Session, doctor_id: int, patient_id: int | None, start: datetime, end: datetime,
                  settings: ClinicSettings, ignore_id: int | None, field: str) -> None:
    """Raise the first thing in the way of the visit, if any, with a message naming it."""
    params = _in_the_way_params(doctor_id, patient_id, start, end, settings, ignore_id)
    for clash in session.connection().execute(_CLASHES, params):
        if clash.doctor_id == doctor_id:
            raise Conflict(_("%(doctor)s already has an appointment from %(start)s to %(end)s.",
                             doctor=_doctor_name(session, doctor_id),
                             start=f"{_local(clash.start_at, settings):%H:%M}",
                             end=f"{_local(clash.end_at, settings):%H:%M}"), field)
        raise Conflict(_("The patient already has an appointment at %(start)s with %(doctor)s.",
                         start=f"{_local(clash.start_at, settings):%Y-%m-%d %H:%M}",
                         doctor=_doctor_name(session, clash.doctor_id)), field)


def check_slot(session: Session, *, doctor: Doctor, service: Service, patient_id: int | None,
               start: datetime, settings: ClinicSettings, now: datetime | None = None,
               ignore_appointment_id: int | None = None, field: str = "start_at") -> datetime:
    """Raise the reason ``start`` cannot be booked; return the end. Call inside the booking lock."""
    start = _check_time(start, settings, now or settings.now(), field)
    end = start + timedelta(minutes=service.duration_minutes)
    weekly, exceptions = day_rules(session.connection(), doctor.id, _local(start, settings).date())
    _check_hours(session, doctor.id, start, end, settings, field, weekly, exceptions)
    _refuse_clash(session, doctor.id, patient_id, start, end, settings, ignore_appointment_id, field)
    return end


# --- booking and the workflow -------------------------------------------------------------------


def _record(session: Session, appointment: Appointment, old: str | None, new: str, actor_id: int | None,
            note: str | None = None) -> None:
    session.add(AppointmentEvent(appointment=appointment, from_status=old, to_status=new, actor_id=actor_id,
                                 note=note))


_BOOKING_COLUMNS = ("patient_id", "doctor_id", "service_id", "start_at", "end_at", "status", "channel", "reason",
                    "notes", "series_id", "created_by_id", "created_at", "updated_at")  # updated_at = created_at
def _insert_if_free(facts, lock: bool):
    """INSERT ... SELECT the new appointment WHERE it is bookable (``facts``: _FACTS as a subquery
    or CTE) and nothing is in the way, RETURNING its id (no row otherwise). With ``lock``
    (PostgreSQL), the row is only produced once the doctor's advisory lock is held, so a booking of
    that doctor that overlaps and was not yet visible fails on the exclusion constraint at once
    instead of deadlocking with this one."""
    table = Appointment.__table__
    condition = and_(_bookable(facts), _FREE)
    if lock:
        # A subquery in FROM whose volatile output is never pruned (not EXISTS, which skips it).
        condition = and_(condition, select(literal_column("1")).select_from(_LOCK_DOCTOR.subquery("booking_lock"))
                         .scalar_subquery() == literal_column("1"))
    values = select(*(bindparam("v_created_at" if c == "updated_at" else f"v_{c}", type_=table.c[c].type)
                      for c in _BOOKING_COLUMNS)).where(condition)
    return insert(table).from_select(list(_BOOKING_COLUMNS), values).returning(table.c.id)


def _book_in_one_statement():
    """PostgreSQL: the locked, guarded INSERT, the first history event and the audit row, and the
    facts and rules the caller then checks (one row per rule of the day, each with the new id or
    NULL), in one statement. Keep its SQL under 4 kB: psycopg parses longer queries anew each time."""
    events, audit_table = AppointmentEvent.__table__, AuditEvent.__table__
    facts = _FACTS.cte("facts")  # read once, for the INSERT's condition and for the answer
    new = _insert_if_free(facts, lock=True).cte("new_appointment")
    event = insert(events).from_select(
        ["appointment_id", "to_status", "actor_id", "at"],
        select(new.c.id, bindparam("v_status", type_=events.c.to_status.type), bindparam("v_created_by_id"),
               bindparam("v_created_at", type_=events.c.at.type)),
    ).cte("new_event")
    audited = insert(audit_table).from_select(
        ["user_id", "at", "action", "entity", "entity_id", "ip"],
        select(bindparam("audit_user", type_=audit_table.c.user_id.type),
               bindparam("v_created_at", type_=audit_table.c.at.type), literal_column("'create'"),
               literal_column("'Appointment'"),
               cast(new.c.id, String), bindparam("audit_ip", type_=audit_table.c.ip.type)),
    ).cte("new_audit")
    return _with_rules(facts).add_columns(select(new.c.id).scalar_subquery().label("appointment_id")) \
        .add_cte(event, audited)


_DRIVER_SQL: dict[tuple[int, str], tuple[str, type]] = {}


def _run_on_driver(connection, statement, params: dict) -> list:
    """Run ``statement`` on the DBAPI cursor, compiled once per dialect; rows as named tuples.

    For the booking statement on PostgreSQL only: it is large, and SQLAlchemy would build and hash
    its cache key and result metadata on every execution, which costs more than the database's
    work. Its parameters and results need no type processing (psycopg adapts aware datetimes,
    dates and times itself). Errors are raised as SQLAlchemy's, like any other statement's."""
    key = (id(statement), connection.dialect.name)
    if key not in _DRIVER_SQL:
        compiled = statement.compile(dialect=connection.dialect)
        anonymous = [name for name in compiled.params if name.startswith("param_")]
        assert not anonymous, f"name every parameter of a driver statement: {anonymous}"
        _DRIVER_SQL[key] = str(compiled), namedtuple("Row", [c.name for c in statement.selected_columns])
    sql, row_type = _DRIVER_SQL[key]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return [row_type._make(row) for row in cursor.fetchall()]
    except connection.dialect.loaded_dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, connection.dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=connection.dialect) from exc
    finally:
        cursor.close()


_INSERT_IF_FREE = _insert_if_free(_FACTS.subquery("facts"), lock=False)
_BOOK_IN_ONE_STATEMENT = _book_in_one_statement()
_INSERT_EVENT = insert(AppointmentEvent.__table__)
_INSERT_AUDIT = insert(AuditEvent.__table__)
_DURATIONS: dict[int, int] = {}  # service id -> minutes last seen; only a guess, checked by _bookable


def _write_booking(session: Session, values: dict, duration: int, day: date, settings: ClinicSettings):
    """Insert the booking (with its history event and audit row) if it is bookable and free, and
    read the facts the caller must still check (the doctor's rules of the day). The caller rolls
    back if a check fails. Returns (new id or None, first facts row or None, weekly hours, exceptions).

    PostgreSQL: one statement (three round trips in all, as for a bare INSERT). With a buffer it is
    preceded by the doctor's lock, so that its snapshot sees every booking the buffer must respect;
    without one, the exclusion constraints already refuse anything the snapshot missed. Elsewhere:
    the write lock, then the guarded INSERT, then the facts."""
    connection = session.connection()
    end = values["start_at"] + timedelta(minutes=duration)
    params = {**{f"v_{key}": value for key, value in values.items()}, "v_end_at": end, "v_duration": duration,
              **_in_the_way_params(values["doctor_id"], values["patient_id"], values["start_at"], end, settings, None),
              "doctor_id": values["doctor_id"], "service_id": values["service_id"],
              "patient_id": values["patient_id"], "weekday": day.weekday(), "day": day}
    if _postgres(session):
        if settings.booking.buffer_minutes:
            connection.execute(_LOCK_DOCTOR, params)
        user_id, ip = audit.actor()
        rows = _run_on_driver(connection, _BOOK_IN_ONE_STATEMENT, {**params, "audit_user": user_id, "audit_ip": ip})
        appointment_id = rows[0].appointment_id if rows else None
    else:
        connection.execute(_WRITE_LOCK_DOCTOR, params)
        appointment_id = connection.execute(_INSERT_IF_FREE, params).scalar()
        if appointment_id is not None:
            connection.execute(_INSERT_EVENT, {"appointment_id": appointment_id, "to_status": values["status"],
                                               "actor_id": values["created_by_id"], "at": values["created_at"]})
            connection.execute(_INSERT_AUDIT, audit.creation_rows([("Appointment", appointment_id)],
                                                                  at=values["created_at"]))
        rows = connection.execute(_CONTEXT, params).all()
    return (appointment_id, rows[0] if rows else None, *split_day_rules(rows))


def book_appointment(session: Session, *, patient_id: int, doctor_id: int, service_id: int, start: datetime,
                     settings: ClinicSettings, actor_id: int | None = None, channel: str = "walk_in",
                     reason: str | None = None, notes: str | None = None, status: str | None = None,
                     series_id: int | None = None, now: datetime | None = None, commit: bool = True) -> Booking:
    """Book one appointment, or raise why not (ValidationFailed 422, Conflict 409). With ``commit``
    it is its own transaction, else a savepoint in the caller's: either way a refusal leaves
    nothing written. The row is written first and the working hours checked after (rolled back if
    they fail), so a booking costs the database what a bare INSERT costs in round trips."""
    if channel not in CHANNELS:
        raise ValidationFailed(_("Unknown channel."), "channel")
    if status is None:
        online = channel == "online"
        if online and not settings.booking.online_enabled:
            raise Forbidden(_("Online booking is switched off; please call the clinic."))
        status = "requested" if online and settings.booking.online_needs_confirmation else "confirmed"
    if status not in INITIAL_STATUSES:
        raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
    start = _check_time(start, settings, now or settings.now(), "start_at")
    if not (doctor_id and service_id):
        _doctor_and_service(session, doctor_id, service_id)  # raises the exact reason
    if not patient_id:
        raise ValidationFailed(_("Unknown patient."), "patient_id")
    created = utcnow()
    values = {"patient_id": patient_id, "doctor_id": doctor_id, "service_id": service_id, "start_at": start,
              "status": status, "channel": channel, "reason": reason, "notes": notes, "series_id": series_id,
              "created_by_id": actor_id, "created_at": created}
    day = _local(start, settings).date()
    with committing(session) if commit else session.begin_nested():
        duration = _DURATIONS.get(service_id, 15)
        appointment_id, facts, weekly, exceptions = _write_booking(session, values, duration, day, settings)
        if facts is not None and appointment_id is None and facts.duration_minutes != duration:
            duration = _DURATIONS[service_id] = facts.duration_minutes  # a first booking, or the service changed
            appointment_id, facts, weekly, exceptions = _write_booking(session, values, duration, day, settings)
        if facts is None or not (facts.doctor_active and facts.service_active and facts.offers):
            _doctor_and_service(session, doctor_id, service_id)  # raises the exact reason
            raise ValidationFailed(_("Unknown doctor."), "doctor_id")
        if not facts.patient_known:
            raise ValidationFailed(_("Unknown patient."), "patient_id")
        end = start + timedelta(minutes=duration)
        _check_hours(session, doctor_id, start, end, settings, "start_at", weekly, exceptions)
        if appointment_id is None:
            _refuse_clash(session, doctor_id, patient_id, start, end, settings, None, "start_at")
            raise Conflict(_("This time was just taken by another booking. Please choose another time."), "start_at")
    return Booking(id=appointment_id, end_at=end, **values)


def load_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(_("There is no appointment %(id)s.", id=appointment_id))
    return appointment


def _check_patient_cutoff(appointment: Appointment, settings: ClinicSettings, now: datetime) -> None:
    if appointment.start_at - now < settings.booking.patient_cutoff:
        hours = int(settings.booking.patient_cutoff.total_seconds() // 3600)
        raise Conflict(_("Changes online are possible until %(n)d hours before the appointment; please call the "
                         "clinic.", n=hours))


def next_queue_number(session: Session, doctor_id: int, day: date) -> int:
    current = session.execute(select(func.max(Appointment.queue_number)).where(
        Appointment.doctor_id == doctor_id, Appointment.queue_date == day)).scalar()
    return (current or 0) + 1


def apply_transition(session: Session, appointment: Appointment, old: str, new: str, *, actor_id: int | None,
                     settings: ClinicSettings, reason: str | None = None, now: datetime | None = None) -> None:
    """Check and apply ``old -> new`` on ``appointment`` (status already set or not); no commit."""
    if new not in TRANSITIONS:
        raise ValidationFailed(_("Unknown status."), "status")
    if new not in TRANSITIONS.get(old, set()):
        raise Conflict(_("An appointment that is %(old)s cannot become %(new)s.", old=_(old), new=_(new)), "status")
    now = now or settings.now()
    appointment.status = new
    if new == "checked_in":
        day = _local(appointment.start_at, settings).date()
        lock_for_booking(session, appointment.doctor_id, None)
        appointment.queue_date = day
        appointment.queue_number = next_queue_number(session, appointment.doctor_id, day)
        appointment.checked_in_at = now
    elif new == "cancelled":
        appointment.cancelled_at = now
        appointment.cancelled_by_id = actor_id
        appointment.cancel_reason = reason or appointment.cancel_reason
    _record(session, appointment, old, new, actor_id, reason)


def transition_appointment(session: Session, appointment_id: int, to_status: str, *, actor_id: int | None,
                           settings: ClinicSettings, reason: str | None = None, by_patient: bool = False,
                           now: datetime | None = None) -> Appointment:
    """Move an appointment along its workflow (confirm, check in, start, complete, cancel, no-show)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if by_patient:
        if to_status != "cancelled":
            raise Forbidden(_("Patients can only cancel their appointments."))
        _check_patient_cutoff(appointment, settings, now)
    if to_status == "cancelled" and not (reason or "").strip():
        raise ValidationFailed(_("Say why the appointment is cancelled."), "reason")
    apply_transition(session, appointment, appointment.status, to_status, actor_id=actor_id, settings=settings,
                     reason=reason, now=now)
    commit_or_raise(session)
    return appointment


def reschedule_appointment(session: Session, appointment_id: int, new_start: datetime, *,
                           actor_id: int | None, settings: ClinicSettings, doctor_id: int | None = None,
                           by_patient: bool = False, now: datetime | None = None) -> Appointment:
    """Move an appointment; the new time is checked like a new booking, and if it is taken the
    old one is kept (nothing changes)."""
    now = now or settings.now()
    appointment = load_appointment(session, appointment_id)
    if appointment.status not in ("requested", "confirmed"):
        raise Conflict(_("Only requested or confirmed appointments can be moved."))
    if by_patient:
        _check_patient_cutoff(appointment, settings, now)
    doctor, service = _doctor_and_service(session, doctor_id or appointment.doctor_id, appointment.service_id)
    lock_for_booking(session, doctor.id, appointment.patient_id)
    end = check_slot(session, doctor=doctor, service=service, patient_id=appointment.patient_id, start=new_start,
                     settings=settings, now=now, ignore_appointment_id=appointment.id)
    old_start = appointment.start_at
    appointment.doctor_id, appointment.start_at, appointment.end_at = doctor.id, new_start.astimezone(timezone.utc), end
    _record(session, appointment, appointment.status, appointment.status, actor_id,
            _("Moved from %(old)s", old=f"{_local(old_start, settings):%Y-%m-%d %H:%M}"))
    commit_or_raise(session)
    return appointment


# --- the generic screens and REST resource -----------------------------------------------------


def validate_appointment(session: Session, appointment: Appointment, settings: ClinicSettings) -> None:
    """Generic create/edit (FAB screens, /api/v1/appointment/) goes through the same checks as
    ``book_appointment`` and the same workflow as ``transition_appointment``."""
    required = {"patient_id": appointment.patient_id or appointment.patient,
                "doctor_id": appointment.doctor_id or appointment.doctor,
                "service_id": appointment.service_id or appointment.service,
                "start_at": appointment.start_at}
    for field, value in required.items():
        if value is None:
            raise ValidationFailed(_("This field is required."), field)
    for field in ("start_at", "end_at"):
        value = getattr(appointment, field)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    doctor_id = appointment.doctor.id if appointment.doctor is not None else appointment.doctor_id
    service_id = appointment.service.id if appointment.service is not None else appointment.service_id
    patient_id = appointment.patient.id if appointment.patient is not None else appointment.patient_id
    doctor, service = _doctor_and_service(session, doctor_id, service_id)
    state = inspect(appointment)
    if appointment.end_at is not None and appointment.end_at <= appointment.start_at:
        raise ValidationFailed(_("The end must be after the start."), "end_at")
    if state.transient or state.pending:
        status = appointment.status or "confirmed"
        if status not in INITIAL_STATUSES:
            raise ValidationFailed(_("A new appointment is requested or confirmed."), "status")
        appointment.status = status
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings)
        _record(session, appointment, None, status, None)
        return
    moved = any(state.attrs[key].history.has_changes()
                for key in ("start_at", "end_at", "doctor_id", "doctor", "service_id", "service",
                            "patient_id", "patient"))
    history = state.attrs.status.history
    old_status = history.deleted[0] if history.deleted else appointment.status
    if moved:
        if old_status not in ("requested", "confirmed"):
            raise Conflict(_("Only requested or confirmed appointments can be moved."), "start_at")
        lock_for_booking(session, doctor.id, patient_id)
        appointment.end_at = check_slot(session, doctor=doctor, service=service, patient_id=patient_id,
                                        start=appointment.start_at, settings=settings,
                                        ignore_appointment_id=appointment.id)
    if appointment.status != old_status:
        apply_transition(session, appointment, old_status, appointment.status, actor_id=None, settings=settings,
                         reason=appointment.cancel_reason)


def validate_appointment_series(session: Session, series: AppointmentSeries, settings: ClinicSettings) -> None:
    """The repeat rule is an RFC 5545 RRULE with an end (COUNT or UNTIL): a course has a last visit."""
    rule = (series.rule or "").strip().removeprefix("RRULE:")
    if not rule:
        raise ValidationFailed(_("This field is required."), "rule")
    if not _parses(rule):
        raise ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")
    parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise ValidationFailed(_("Say when the series ends: COUNT=… or UNTIL=…."), "rule")
    if "COUNT" in parts and not 1 <= int(parts["COUNT"]) <= 100:
        raise ValidationFailed(_("A series has 1 to 100 appointments."), "rule")
    series.rule = rule


def _parses(rule: str) -> bool:
    """UNTIL may be UTC (…Z) or floating; dateutil wants the start to match, so try both."""
    for start in (datetime(2000, 1, 1), datetime(2000, 1, 1, tzinfo=timezone.utc)):
        try:
            rrulestr(rule, dtstart=start)
            return True
        except (ValueError, TypeError):
            continue
    return False
