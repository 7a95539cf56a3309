"""What stands in the way of a visit, and the lock that serialises one doctor's bookings.

A visit [start, end) of a doctor and a patient is in the way of an active appointment of the same
doctor within the clinic's buffer (the visit widened by it on both sides), or of an active
appointment of the same patient at the same time. The same predicate answers free slots (the
doctor's taken time), the guarded INSERT of a booking and the message naming a clash."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, exists, func, literal_column, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from app.models import Appointment, Doctor, Patient
from app.models.scheduling import ACTIVE_STATUSES
from app.models.types import UTCDateTime
from app.services.booking.lookups import doctor_name, to_local
from app.services.errors import Conflict
from app.services.settings import ClinicSettings

LONGEST_VISIT = timedelta(days=1)  # services last at most 480 minutes (ck_service_duration_range)
BOOKING_LOCK = 7301  # PostgreSQL advisory lock class: (BOOKING_LOCK, doctor id) = that doctor's bookings

# The statuses inline (not as parameters), so that the partial indexes on active appointments apply.
_ACTIVE = Appointment.status.in_([literal_column(f"'{status}'") for status in ACTIVE_STATUSES])

LOCK_DOCTOR = select(func.pg_advisory_xact_lock(literal_column(str(BOOKING_LOCK)), bindparam("doctor_id"))
                     .label("locked"))
WRITE_LOCK_DOCTOR = update(Doctor.__table__).where(Doctor.id == bindparam("doctor_id")).values(id=Doctor.id)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_for_booking(session: Session, doctor_id: int, patient_id: int | None) -> bool:
    """Serialise bookings of this doctor until the transaction ends; False when the patient does
    not exist. PostgreSQL: a transaction-level advisory lock (BOOKING_LOCK, doctor id), which,
    unlike a row lock, writes nothing; a patient's bookings with two doctors at once are refused by
    the exclusion constraint ex_appointment_patient_overlap. Other databases: a write to the
    doctor's row, which on SQLite takes its single write lock now rather than at the first INSERT,
    so the checks that follow see every booking."""
    connection = session.connection()
    connection.execute(LOCK_DOCTOR if is_postgres(session) else WRITE_LOCK_DOCTOR, {"doctor_id": doctor_id})
    return not patient_id or session.get(Patient, patient_id) is not None


class _overlaps(FunctionElement[Any]):
    """An appointment's [start_at, end_at) overlaps [since, until): on PostgreSQL with the ranges of
    the exclusion constraints, so their GiST indexes find the few overlapping rows; elsewhere as
    comparisons, with ``floor`` (a bound on start_at) letting the (…, start_at) index stop early."""

    type = NullType()  # a Boolean type would render as "(…) = 1" on SQLite, hiding the index
    inherit_cache = True
    name = "overlaps"


@compiles(_overlaps)
def _overlaps_portable(element: _overlaps, compiler: SQLCompiler, **kw: Any) -> str:
    start, end, since, until, floor = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"({start} < {until} AND {end} > {since} AND {start} > {floor})"


@compiles(_overlaps, "postgresql")
def _overlaps_postgresql(element: _overlaps, compiler: SQLCompiler, **kw: Any) -> str:
    start, end, since, until = (compiler.process(arg, **kw) for arg in list(element.clauses)[:4])
    return f"tstzrange({start}, {end}, '[)') && tstzrange({since}, {until}, '[)')"


def moment(name: str) -> BindParameter[Any]:
    """A parameter holding an aware instant."""
    return bindparam(name, type_=UTCDateTime())


def _owner_busy(owner: InstrumentedAttribute[int], owner_key: str, since: ColumnElement[Any], until: ColumnElement[Any],
                floor: ColumnElement[Any], ignoring: bool) -> ColumnElement[bool]:
    condition = and_(owner == bindparam(owner_key), _ACTIVE, _overlaps(
        Appointment.start_at, Appointment.end_at, since, until, floor))
    return and_(condition, Appointment.id != bindparam("c_ignore")) if ignoring else condition


def in_the_way(ignoring: bool, end: ColumnElement[Any] | None = None, until: ColumnElement[Any] | None = None
               ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the doctor's, the patient's) appointments in the way of the visit [v_start_at, end) of doctor
    v_doctor_id and patient v_patient_id. [c_since, until) is the visit widened by the buffer;
    c_since_longest and c_start_longest bound the start of an overlapping appointment (see
    LONGEST_VISIT); with ``ignoring``, c_ignore is the appointment being moved. ``end`` and
    ``until`` default to the parameters v_end_at and c_until; the one-statement booking computes
    them from the service's length instead."""
    end = moment("v_end_at") if end is None else end
    until = moment("c_until") if until is None else until
    return (_owner_busy(Appointment.doctor_id, "v_doctor_id", moment("c_since"), until, moment("c_since_longest"),
                        ignoring),
            _owner_busy(Appointment.patient_id, "v_patient_id", moment("v_start_at"), end,
                        moment("c_start_longest"), ignoring))


def nothing_in_the_way(end: ColumnElement[Any] | None = None, until: ColumnElement[Any] | None = None
                       ) -> ColumnElement[bool]:
    """No appointment of the doctor or of the patient is in the way of a new visit."""
    return and_(*(~exists().where(busy) for busy in in_the_way(ignoring=False, end=end, until=until)))


# The doctor's time taken in [c_since, c_until) (free slots), and everything in the way (messages).
DOCTOR_BUSY = select(Appointment.start_at, Appointment.end_at) \
    .where(in_the_way(ignoring=True)[0]).order_by(Appointment.start_at)
CLASHES = select(Appointment.doctor_id, Appointment.start_at, Appointment.end_at) \
    .where(or_(*in_the_way(ignoring=True))).order_by(Appointment.start_at)


def in_the_way_params(doctor_id: int, patient_id: int | None, start: datetime, end: datetime,
                      settings: ClinicSettings, ignore_id: int | None) -> dict[str, Any]:
    """The parameters of ``in_the_way`` for this visit."""
    buffer = timedelta(minutes=settings.booking.buffer_minutes)
    return {"v_doctor_id": doctor_id, "v_patient_id": patient_id or 0, "v_start_at": start, "v_end_at": end,
            "c_since": start - buffer, "c_until": end + buffer, "c_since_longest": start - buffer - LONGEST_VISIT,
            "c_start_longest": start - LONGEST_VISIT, "c_ignore": ignore_id or 0}


def refuse_clash(session: Session, doctor_id: int, patient_id: int | None, start: datetime, end: datetime,
                 settings: ClinicSettings, ignore_id: int | None, field: str) -> None:
    """Raise the first thing in the way of the visit, if any, with a message naming it."""
    params = in_the_way_params(doctor_id, patient_id, start, end, settings, ignore_id)
    for clash in session.connection().execute(CLASHES, params):
        if clash.doctor_id == doctor_id:
            raise Conflict(_("%(doctor)s already has an appointment from %(start)s to %(end)s.",
                             doctor=doctor_name(session, doctor_id),
                             start=f"{to_local(clash.start_at, settings):%H:%M}",
                             end=f"{to_local(clash.end_at, settings):%H:%M}"), field)
        raise Conflict(_("The patient already has an appointment at %(start)s with %(doctor)s.",
                         start=f"{to_local(clash.start_at, settings):%Y-%m-%d %H:%M}",
                         doctor=doctor_name(session, clash.doctor_id)), field)
