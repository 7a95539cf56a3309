"""The back-office calendar: appointments and working hours of a date range, as plain data.
Times are naive clinic-local datetimes (the zone comes from the settings); the view lays them out."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import Appointment, Department, Doctor, Service
from app.models.people import doctor_service
from app.services.errors import ValidationFailed
from app.services.schedule_rules import Interval, working_days
from app.services.settings import ClinicSettings

VIEWS = ("day", "week", "month")
STATUS_ORDER = ("requested", "confirmed", "checked_in", "in_consultation", "completed", "cancelled", "no_show")


@dataclass(frozen=True)
class CalendarAppointment:
    id: int
    start: datetime  # naive clinic-local
    end: datetime
    status: str
    patient_id: int
    patient_code: str
    patient_name: str
    doctor_id: int
    doctor: str
    service_id: int
    service: str
    queue_number: int | None = None  # given at check-in (shown on checked-in appointments)
    mode: str = "in_person"  # or video

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass(frozen=True)
class CalendarDoctor:
    id: int
    name: str
    department_id: int | None
    # Local working intervals and the kind of a whole-day absence (leave, holiday, training), per day.
    intervals: dict[date, list[Interval]] = field(default_factory=dict)
    days_off: dict[date, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarData:
    first: date
    last: date
    doctors: list[CalendarDoctor]
    appointments: list[CalendarAppointment]

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def on(self, day: date, doctor_id: int | None = None) -> list[CalendarAppointment]:
        return [a for a in self.appointments
                if a.day == day and (doctor_id is None or a.doctor_id == doctor_id)]


def date_range(view: str, anchor: date) -> tuple[date, date]:
    """The days shown: the day itself, its week (Monday to Sunday) or its calendar month."""
    if view == "day":
        return anchor, anchor
    if view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return monday, monday + timedelta(days=6)
    if view == "month":
        first = anchor.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    raise ValidationFailed(f"unknown view {view!r}", "view")


def shift(view: str, anchor: date, steps: int) -> date:
    """The anchor of the previous (-1) or next (+1) page."""
    if view == "day":
        return anchor + timedelta(days=steps)
    if view == "week":
        return anchor + timedelta(weeks=steps)
    month = anchor.year * 12 + anchor.month - 1 + steps
    return date(month // 12, month % 12 + 1, 1)


def _utc(day: date, settings: ClinicSettings) -> datetime:
    return datetime.combine(day, time.min, settings.timezone).astimezone(timezone.utc)


def _local(moment: datetime, settings: ClinicSettings) -> datetime:
    return moment.astimezone(settings.timezone).replace(tzinfo=None)


def shown_doctors(session: Session, *, doctor_id: int | None = None, department_id: int | None = None,
                  service_id: int | None = None) -> list[Doctor]:
    """Active doctors matching the filters (one doctor, a department, those offering a service)."""
    query = select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.full_name, Doctor.id)
    if doctor_id:
        query = query.where(Doctor.id == doctor_id)
    if department_id:
        query = query.where(Doctor.department_id == department_id)
    if service_id:
        query = query.where(Doctor.id.in_(select(doctor_service.c.doctor_id)
                                          .where(doctor_service.c.service_id == service_id)))
    return list(session.execute(query).scalars())


def appointments(session: Session, settings: ClinicSettings, first: date, last: date, *,
                 doctor_id: int | None = None, department_id: int | None = None,
                 service_id: int | None = None) -> list[CalendarAppointment]:
    """Appointments starting on a clinic-local day from ``first`` to ``last`` (any status)."""
    query = (select(Appointment)
             .options(joinedload(Appointment.patient), joinedload(Appointment.doctor),
                      joinedload(Appointment.service))
             .where(Appointment.start_at >= _utc(first, settings),
                    Appointment.start_at < _utc(last + timedelta(days=1), settings))
             .order_by(Appointment.start_at, Appointment.id))
    if doctor_id:
        query = query.where(Appointment.doctor_id == doctor_id)
    if service_id:
        query = query.where(Appointment.service_id == service_id)
    if department_id:
        query = query.where(Appointment.doctor_id.in_(select(Doctor.id).where(Doctor.department_id == department_id)))
    return [
        CalendarAppointment(
            id=a.id, start=_local(a.start_at, settings), end=_local(a.end_at, settings), status=a.status,
            patient_id=a.patient_id, patient_code=a.patient.code, patient_name=a.patient.full_name,
            doctor_id=a.doctor_id, doctor=str(a.doctor), service_id=a.service_id, service=a.service.name,
            queue_number=a.queue_number if a.status in ("checked_in", "in_consultation") else None,
            mode=a.mode,
        )
        for a in session.execute(query).unique().scalars()
    ]


def calendar(session: Session, settings: ClinicSettings, first: date, last: date, *,
             doctor_id: int | None = None, department_id: int | None = None,
             service_id: int | None = None) -> CalendarData:
    """Everything one calendar page shows: the doctors (with their working hours and days off)
    and the appointments of the range, filtered alike."""
    if last < first:
        raise ValidationFailed("last before first", "date")
    doctors = []
    for doctor in shown_doctors(session, doctor_id=doctor_id, department_id=department_id, service_id=service_id):
        intervals, days_off = working_days(session, doctor.id, first, last)
        doctors.append(CalendarDoctor(id=doctor.id, name=str(doctor), department_id=doctor.department_id,
                                      intervals=intervals, days_off=days_off))
    found = appointments(session, settings, first, last, doctor_id=doctor_id, department_id=department_id,
                         service_id=service_id)
    return CalendarData(first=first, last=last, doctors=doctors, appointments=found)


def hour_bounds(data: CalendarData, default: tuple[int, int] = (8, 17)) -> tuple[int, int]:
    """First and last hour of a time grid: from the earliest working (or booked) hour to the latest."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for doctor in data.doctors:
        for blocks in doctor.intervals.values():
            starts += [b[0] for b in blocks]
            ends += [b[1] for b in blocks]
    starts += [a.start for a in data.appointments]
    ends += [a.end if a.end.date() == a.start.date() else datetime.combine(a.start.date(), time(23, 59))
             for a in data.appointments]
    if not starts:
        return default
    low = min(s.hour for s in starts)
    high = max(e.hour + (1 if (e.minute or e.second) else 0) for e in ends)
    return low, max(high, low + 1)


def doctor_for_user(session: Session, user_id: int | None) -> Doctor | None:
    if not user_id:
        return None
    return session.execute(select(Doctor).where(Doctor.user_id == user_id)).scalars().first()


def small_tables(session: Session) -> dict[str, list]:
    """The filter choices: doctors, departments and services (small tables)."""
    return {
        "doctors": list(session.execute(select(Doctor).where(Doctor.active.is_(True))
                                        .order_by(Doctor.full_name)).scalars()),
        "departments": list(session.execute(select(Department).where(Department.active.is_(True))
                                            .order_by(Department.name)).scalars()),
        "services": list(session.execute(select(Service).where(Service.active.is_(True))
                                         .order_by(Service.name)).scalars()),
    }

