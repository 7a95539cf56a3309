"""The SQL that writes a booking: insert the appointment only if the doctor and the service are
bookable and nothing is in the way, with its first history event and its audit row, and read back
the doctor's rules of that day for the checks that follow in Python.

On PostgreSQL (psycopg) all of it is ONE statement, ``book_in_one_round_trip``; elsewhere the same
pieces run one by one after the database's write lock, ``book_step_by_step``. Both return the new
id (None when refused) and the facts rows (see ``FACTS_AND_RULES``)."""
from __future__ import annotations

from collections import namedtuple
from datetime import timedelta
from typing import Any, Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    String,
    Subquery,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    join,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from app import audit
from app.models import Appointment, AppointmentEvent, AuditEvent, Doctor, Patient, Service, doctor_service
from app.services.booking.clashes import LOCK_DOCTOR, WRITE_LOCK_DOCTOR, moment, nothing_in_the_way
from app.services.booking.modes import default_mode
from app.services.schedule_rules import DAY_RULES

_MINUTE = timedelta(minutes=1)

# The facts a booking is checked against (one row; none if the doctor or the service does not
# exist). Parameters: doctor_id, service_id, patient_id.
FACTS = select(
    Doctor.active.label("doctor_active"), Service.active.label("service_active"), Service.duration_minutes,
    Service.visit_modes,
    exists().where(doctor_service.c.doctor_id == Doctor.id, doctor_service.c.service_id == Service.id)
    .label("offers"),
    exists().where(Patient.id == bindparam("patient_id")).label("patient_known"),
).select_from(join(Doctor.__table__, Service.__table__, true())).where(
    Doctor.id == bindparam("doctor_id"), Service.id == bindparam("service_id"))
_DAY = DAY_RULES.subquery("day_rules")


def _with_rules(facts: Subquery | Any) -> Select[Any]:
    """The facts with the doctor's rules of the day: one row per rule (kind NULL if none).
    Parameters of DAY_RULES: doctor_id, weekday, day."""
    return select(*facts.c, _DAY.c.kind, _DAY.c.start_time, _DAY.c.end_time).select_from(facts.outerjoin(_DAY, true()))


FACTS_AND_RULES = _with_rules(FACTS.subquery("facts"))

# The columns a booking writes, from parameters v_<column> (updated_at = created_at).
_BOOKING_COLUMNS = ("patient_id", "doctor_id", "service_id", "start_at", "end_at", "status", "channel", "mode",
                    "reason", "notes", "series_id", "created_by_id", "created_at", "updated_at")
_TABLE = Appointment.__table__


def _value(column: str, computed: dict[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    if column in computed:
        return computed[column]
    return bindparam("v_created_at" if column == "updated_at" else f"v_{column}", type_=_TABLE.c[column].type)


_INSERT_IF_FREE: Insert = insert(_TABLE).from_select(
    list(_BOOKING_COLUMNS), select(*(_value(c, {}) for c in _BOOKING_COLUMNS)).where(nothing_in_the_way())
).returning(_TABLE.c.id)
_INSERT_EVENT = insert(AppointmentEvent.__table__)


def book_step_by_step(connection: Connection, params: dict[str, Any]) -> tuple[int | None, Sequence[Any]]:
    """Any database: take the doctor's write lock (SQLite: the database's), read the facts, and
    insert the appointment, its event and audit row if the facts allow it and nothing is in the way.
    ``params`` as for ``book_in_one_round_trip`` (without audit_user and audit_ip: the audit row
    names the actor itself); the visit's end and buffered end follow from the length it reads."""
    connection.execute(LOCK_DOCTOR if connection.dialect.name == "postgresql" else WRITE_LOCK_DOCTOR, params)
    rows = connection.execute(FACTS_AND_RULES, params).all()
    facts = rows[0] if rows else None
    if facts is None or not (facts.doctor_active and facts.service_active and facts.offers and facts.patient_known):
        return None, rows
    end = params["v_start_at"] + facts.duration_minutes * _MINUTE
    params = {**params, "v_end_at": end, "c_until": end + params["v_buffer_minutes"] * _MINUTE,
              "v_mode": params["v_mode"] or default_mode(facts.visit_modes)}
    appointment_id = connection.execute(_INSERT_IF_FREE, params).scalar()
    if appointment_id is not None:
        connection.execute(_INSERT_EVENT, {"appointment_id": appointment_id, "to_status": params["v_status"],
                                           "actor_id": params["v_created_by_id"], "at": params["v_created_at"]})
        audit.append_on_connection(connection, audit.creation_rows([("Appointment", appointment_id)],
                                                                   at=params["v_created_at"]))
    return appointment_id, rows


# --- PostgreSQL: one statement ------------------------------------------------------------------


class _plus_minutes(FunctionElement[Any]):
    """``moment + minutes`` (an SQL integer) as a timestamptz, on PostgreSQL."""

    type = NullType()
    inherit_cache = True
    name = "plus_minutes"


@compiles(_plus_minutes, "postgresql")
def _plus_minutes_postgresql(element: _plus_minutes, compiler: SQLCompiler, **kw: Any) -> str:
    moment_sql, minutes_sql = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"({moment_sql} + ({minutes_sql}) * interval '1 minute')"


def _build_booking_statement() -> Select[Any]:
    start = moment("v_start_at")
    facts = FACTS.add_columns(  # read once, for the INSERT's condition and for the answer
        _plus_minutes(start, Service.duration_minutes).label("end_at"),
        _plus_minutes(start, Service.duration_minutes + bindparam("v_buffer_minutes")).label("until_at"),
    ).cte("facts")
    end, until = facts.c.end_at, facts.c.until_at
    # A subquery in FROM whose volatile output is never pruned (not EXISTS, which skips it).
    locked = select(literal_column("1")).select_from(LOCK_DOCTOR.subquery("booking_lock")).scalar_subquery()
    # The visit type named (v_mode), else the service's default (modes.default_mode, in SQL).
    video: ColumnElement[Any] = literal_column("'video'")
    mode = func.coalesce(bindparam("v_mode", type_=String),
                         case({video: video}, value=facts.c.visit_modes, else_=literal_column("'in_person'")))
    new = insert(_TABLE).from_select(
        list(_BOOKING_COLUMNS),
        select(*(_value(c, {"end_at": end, "mode": mode}) for c in _BOOKING_COLUMNS)).select_from(facts).where(
            facts.c.doctor_active, facts.c.service_active, facts.c.offers, facts.c.patient_known,
            nothing_in_the_way(end=end, until=until), locked == literal_column("1")),
    ).returning(_TABLE.c.id).cte("new_appointment")
    events, audit_table = AppointmentEvent.__table__, AuditEvent.__table__
    event = insert(events).from_select(
        ["appointment_id", "to_status", "actor_id", "at"],
        select(new.c.id, bindparam("v_status", type_=events.c.to_status.type), bindparam("v_created_by_id"),
               bindparam("v_created_at", type_=events.c.at.type)),
    ).cte("new_event")
    audited = insert(audit_table).from_select(
        ["user_id", "at", "action", "entity", "entity_id", "ip"],
        select(bindparam("audit_user", type_=audit_table.c.user_id.type),
               bindparam("v_created_at", type_=audit_table.c.at.type), literal_column("'create'"),
               literal_column("'Appointment'"), cast(new.c.id, String),
               bindparam("audit_ip", type_=audit_table.c.ip.type)),
    ).cte("new_audit")
    return _with_rules(facts).add_columns(select(new.c.id).scalar_subquery().label("appointment_id")) \
        .add_cte(event, audited)


BOOK_IN_ONE_STATEMENT = _build_booking_statement()
# Compiled once, here: the statement is fixed, and psycopg is the only driver it runs on.
_COMPILED = BOOK_IN_ONE_STATEMENT.compile(dialect=postgresql_psycopg.dialect())
assert not [name for name in _COMPILED.params if name.startswith("param_")], \
    "name every parameter of the booking statement: it runs with the caller's parameter names"
_BOOKING_SQL = str(_COMPILED)
_BookingRow: Any = namedtuple(  # type: ignore[misc]  # its fields are the statement's columns
    "_BookingRow", [c.name for c in BOOK_IN_ONE_STATEMENT.selected_columns])


def book_in_one_round_trip(connection: Connection, params: dict[str, Any]) -> tuple[int | None, Sequence[Any]]:
    """PostgreSQL through psycopg: book in ONE statement, so a booking costs the database the
    round trips of a bare INSERT (BEGIN, the statement, COMMIT; with a buffer, the doctor's lock
    first).

    The trick, in one ``WITH`` query:
    - ``facts``: the doctor and the service (active, offered together, the service's length),
      whether the patient exists, and the visit's end (start + length) and buffered end;
    - ``new_appointment``: ``INSERT ... SELECT ... FROM facts WHERE`` they are bookable, nothing of
      the doctor (within the buffer) or of the patient is in the way, and the doctor's advisory lock
      (BOOKING_LOCK, doctor id) is held. The lock sits in an uncorrelated scalar subquery, so the
      row is produced only once the lock is held: an overlapping booking of that doctor not yet
      visible to this snapshot then fails on the exclusion constraint at once instead of
      deadlocking with this one;
    - ``new_event`` and ``new_audit``: the first history event and the audit row of the new id
      (the database chains the audit row to the trail at commit: app/services/audit_chain.py, so the
      booking keeps its single statement);
    - the answer: the facts with the doctor's rules of that day (one row per rule, each carrying
      the new id or NULL), which the caller checks in Python, rolling back if they fail.

    It runs on the driver's cursor: compiled once at import (above), because SQLAlchemy would
    otherwise build and hash this large statement's cache key and result metadata on every
    booking, which costs more than the database's work. Its parameters and results need no type
    processing (psycopg adapts aware datetimes, dates and times itself). Keep the SQL under psycopg's
    statement cache limit (4 kB; a test checks it), or psycopg parses it anew every time. Errors are
    raised as SQLAlchemy's, like any other statement's, and a lost connection is invalidated.

    ``params``: the booking's columns as v_<column> (not v_end_at), v_buffer_minutes, the
    parameters of ``in_the_way`` except those computed here, doctor_id, service_id, patient_id,
    weekday and day (for the day's rules), audit_user and audit_ip. (The audit row's request id is
    left out: the statement must stay under psycopg's 4 kB statement cache limit.)"""
    if params["v_buffer_minutes"]:
        # The buffer is not in the exclusion constraints: take the doctor's lock first, so that
        # the statement's snapshot sees every booking the buffer must keep away.
        connection.execute(LOCK_DOCTOR, params)
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_BOOKING_SQL, params)
        rows: list[Any] = [_BookingRow._make(row) for row in cursor.fetchall()]
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(_BOOKING_SQL, params, exc, dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=dialect) from exc
    finally:
        cursor.close()
    return (rows[0].appointment_id if rows else None), rows

