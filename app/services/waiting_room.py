"""The waiting room: what the TV shows (per doctor, the number called in and the numbers waiting,
each with a predicted wait), a patient's own ticket (a signed link, printed as a QR code on the
check-in slip), and the "you're next" notice.

Privacy: everything here is for screens anyone in the waiting room can read. A patient is a queue
number and initials ("Nguyễn Thị Hồng Nhung" -> "N.T.H.N."), never a name, a code, a reason or
a service; a doctor is their public display name (title and name, as on the public doctors page).

Which numbers:
- *current*: the doctor's appointment that is in consultation or called (the front desk's call:
  ``called_at`` on a checked-in appointment; or a "called" status, should the workflow get one),
  else the one most recently called in today (it may be finished already: the TV keeps showing the
  last number called, like any ticket display);
- *next*: the checked-in appointments of today, by queue number.

The predicted wait of the patient at position ``p`` (1 = next) of a doctor's queue::

    wait(p) = max(0, L - elapsed) + (p - 1) x L          (minutes, rounded, never negative)

``L`` is the doctor's average consultation length and ``elapsed`` the time since the current
consultation started (0 when nobody is in consultation: the next patient may go in at once). A
consultation that overruns its average makes the next patient's wait 0 ("any moment"), not the
later patients' waits shorter: each consultation is expected to take ``L``. ``L`` is, in order:

1. today's rolling average: the mean of the doctor's last ``ROLLING_WINDOW`` consultations
   finished today, when there are at least ``TODAY_MIN_SAMPLES``;
2. the doctor's history: the mean of their consultations of the last ``HISTORY_DAYS`` days, when
   there are at least ``HISTORY_MIN_SAMPLES``;
3. today's average of fewer samples (one consultation is better than nothing);
4. the services' durations: each waiting appointment counts its own service's ``duration_minutes``
   (a new doctor's first day).

A consultation's length is the time from its appointment's "in consultation" history event to its
"completed" event (``AppointmentEvent``, written by ``encounters.start_visit`` / ``finish_visit``
and the workflow buttons). Lengths under ``MIN_LENGTH`` or over ``MAX_LENGTH`` (a visit finished
by mistake at once, or left open over lunch) are left out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale, gettext as _
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from app.models import Appointment, AppointmentEvent, Department, Doctor
from app.models.scheduling import APPOINTMENT_STATUSES
from app.services.errors import DomainError, ValidationFailed
from app.services.settings import ClinicSettings, public_base_url

# Statuses that mean "called in": "called" once the front desk's step exists, and in consultation.
CALLED_STATUSES = tuple(s for s in ("called", "in_consultation") if s in APPOINTMENT_STATUSES)
WAITING_STATUSES = ("checked_in",)


def called_time(appointment: Appointment) -> datetime | None:
    """When the front desk called a checked-in patient (``app.services.front_desk``: the status
    stays checked in, ``called_at`` is set)."""
    return appointment.called_at


def is_called(appointment: Appointment) -> bool:
    return appointment.status in CALLED_STATUSES or (appointment.status in WAITING_STATUSES
                                                     and called_time(appointment) is not None)
DONE_STATUSES = ("completed",)
ROLLING_WINDOW = 5
TODAY_MIN_SAMPLES = 2
HISTORY_DAYS = 30
HISTORY_MIN_SAMPLES = 3
MIN_LENGTH = timedelta(minutes=1)
MAX_LENGTH = timedelta(hours=3)
MAX_DEPARTMENTS = 20
TICKET_SALT = "clinic-appointment-link:ticket"
MAX_TOKEN_LENGTH = 200
MAX_ID = 2**31 - 1


# --- who is who, on a public screen -------------------------------------------------------


def initials(full_name: str | None) -> str:
    """"Nguyễn Thị Hồng Nhung" -> "N.T.H.N." (diacritics kept on the letter: "Đặng" -> "Đ.")."""
    letters = [word[0].upper() for word in (full_name or "").split() if word[:1].isalpha()]
    return "".join(f"{letter}." for letter in letters[:6])


def doctor_display_name(doctor: Doctor) -> str:
    return " ".join(part for part in ((doctor.title or "").strip(), doctor.full_name.strip()) if part)


# --- consultation lengths ----------------------------------------------------------------------


def consultation_lengths(session: Session, doctor_id: int, first_day: date, last_day: date) -> list[
        tuple[datetime, timedelta]]:
    """(finished at, length) of the doctor's consultations on queue days ``first_day``..``last_day``,
    oldest first (outliers left out, see the module's docstring)."""
    rows = session.execute(
        sa.select(AppointmentEvent.appointment_id, AppointmentEvent.to_status, AppointmentEvent.at)
        .join(Appointment, Appointment.id == AppointmentEvent.appointment_id)
        .where(Appointment.doctor_id == doctor_id, Appointment.queue_date >= first_day,
               Appointment.queue_date <= last_day, Appointment.status.in_(DONE_STATUSES),
               AppointmentEvent.to_status.in_(("in_consultation", "completed")))).all()
    started: dict[int, datetime] = {}
    finished: dict[int, datetime] = {}
    for appointment_id, status, at in rows:
        if status == "in_consultation":
            started[appointment_id] = min(at, started.get(appointment_id, at))
        else:
            finished[appointment_id] = max(at, finished.get(appointment_id, at))
    lengths = [(finished[a], finished[a] - started[a]) for a in finished if a in started]
    return sorted((end, length) for end, length in lengths if MIN_LENGTH <= length <= MAX_LENGTH)


@dataclass(frozen=True)
class Average:
    minutes: float | None  # None: each appointment counts its service's duration
    source: str  # "today", "history", "service"
    samples: int


def average_length(session: Session, doctor_id: int, day: date) -> Average:
    """The doctor's average consultation length for predictions on ``day`` (see the docstring)."""
    today = consultation_lengths(session, doctor_id, day, day)
    recent = [length for _end, length in today[-ROLLING_WINDOW:]]

    def mean(lengths: Sequence[timedelta]) -> float:
        return sum(length.total_seconds() for length in lengths) / len(lengths) / 60

    if len(recent) >= TODAY_MIN_SAMPLES:
        return Average(mean(recent), "today", len(recent))
    history = [length for _end, length in consultation_lengths(session, doctor_id, day - timedelta(days=HISTORY_DAYS),
                                                              day - timedelta(days=1))]
    if len(history) >= HISTORY_MIN_SAMPLES:
        return Average(mean(history), "history", len(history))
    if recent:
        return Average(mean(recent), "today", len(recent))
    return Average(None, "service", 0)


def predicted_waits(average: Average, waiting_durations: Sequence[int], current_duration: int | None,
                    elapsed: timedelta | None) -> list[int]:
    """The predicted wait in whole minutes of each waiting patient, in queue order.
    ``waiting_durations``: their services' durations (minutes, used when there is no average);
    ``current_duration``: the service duration of the consultation in progress (None: nobody in
    consultation); ``elapsed``: how long it has been going."""
    def length(duration: int) -> float:
        return average.minutes if average.minutes is not None else float(duration)

    ahead = 0.0
    if current_duration is not None:
        spent = (elapsed or timedelta(0)).total_seconds() / 60
        ahead = max(0.0, length(current_duration) - max(0.0, spent))
    waits = []
    for duration in waiting_durations:
        waits.append(max(0, int(ahead + 0.5)))
        ahead += length(duration)
    return waits


# --- the display -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    number: int
    initials: str
    position: int  # 1 = next
    wait_minutes: int
    appointment_id: int


@dataclass(frozen=True)
class Current:
    number: int
    initials: str
    in_room: bool  # called in or in consultation now (False: the last one called, finished since)
    since: datetime | None
    appointment_id: int


@dataclass(frozen=True)
class DoctorQueue:
    doctor_id: int
    doctor: str
    department: str | None
    current: Current | None
    waiting: list[Waiting] = field(default_factory=list)
    average_minutes: int | None = None
    average_source: str = "service"


def _day(now: datetime, settings: ClinicSettings) -> date:
    return now.astimezone(settings.timezone).date()


def _called_at(session: Session, appointment_ids: Iterable[int]) -> dict[int, datetime]:
    """When each appointment was called in (its latest event into a called status)."""
    ids = list(appointment_ids)
    if not ids:
        return {}
    rows = session.execute(sa.select(AppointmentEvent.appointment_id, sa.func.max(AppointmentEvent.at))
                           .where(AppointmentEvent.appointment_id.in_(ids),
                                  AppointmentEvent.to_status.in_(CALLED_STATUSES))
                           .group_by(AppointmentEvent.appointment_id)).all()
    return {appointment_id: at for appointment_id, at in rows}


def _started_at(session: Session, appointment_id: int) -> datetime | None:
    return session.execute(sa.select(sa.func.min(AppointmentEvent.at)).where(
        AppointmentEvent.appointment_id == appointment_id, AppointmentEvent.to_status == "in_consultation")).scalar()


def doctor_queue(session: Session, doctor: Doctor, day: date, now: datetime) -> DoctorQueue:
    """One doctor's column on the display for clinic day ``day``."""
    appointments = list(session.execute(
        sa.select(Appointment).where(Appointment.doctor_id == doctor.id, Appointment.queue_date == day,
                                     Appointment.queue_number.is_not(None),
                                     Appointment.status.in_(CALLED_STATUSES + WAITING_STATUSES + DONE_STATUSES))
        .order_by(Appointment.queue_number)).scalars())
    called = [a for a in appointments if is_called(a) or a.status in DONE_STATUSES]
    called_at = _called_at(session, [a.id for a in called])
    for a in called:
        moment = called_time(a)
        if moment is not None and (a.id not in called_at or moment > called_at[a.id]):
            called_at[a.id] = moment
    in_room = [a for a in called if is_called(a)]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    pick = max(in_room or called, key=lambda a: (called_at.get(a.id) or a.checked_in_at or epoch, a.queue_number),
               default=None)
    current = None
    consulting = None
    if pick is not None:
        current = Current(pick.queue_number or 0, initials(pick.patient.full_name if pick.patient else ""),
                          is_called(pick), called_at.get(pick.id), pick.id)
        consulting = next((a for a in in_room if a.status == "in_consultation"), None)
    waiting = sorted((a for a in appointments if a.status in WAITING_STATUSES and not is_called(a)),
                     key=lambda a: (a.queue_number or 0, a.checked_in_at or epoch))
    average = average_length(session, doctor.id, day)
    elapsed = None
    current_duration = None
    if in_room:
        room = consulting or in_room[0]
        current_duration = room.service.duration_minutes if room.service else 15
        started = _started_at(session, room.id) if room.status == "in_consultation" else None
        elapsed = now - started if started is not None else timedelta(0)
    waits = predicted_waits(average, [a.service.duration_minutes if a.service else 15 for a in waiting],
                            current_duration, elapsed)
    return DoctorQueue(
        doctor_id=doctor.id, doctor=doctor_display_name(doctor),
        department=doctor.department.name if doctor.department is not None else None, current=current,
        waiting=[Waiting(a.queue_number or 0, initials(a.patient.full_name if a.patient else ""), i + 1, wait, a.id)
                 for i, (a, wait) in enumerate(zip(waiting, waits, strict=True))],
        average_minutes=None if average.minutes is None else int(average.minutes + 0.5),
        average_source=average.source)


def parse_departments(text: str | None) -> list[int] | None:
    """``departments=1,2`` -> [1, 2]; "all" or nothing -> None (every department). Raises
    ``ValidationFailed`` for anything else."""
    value = (text or "").strip().lower()
    if value in ("", "all"):
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or len(parts) > MAX_DEPARTMENTS or not all(p.isdigit() and 0 < int(p) <= MAX_ID for p in parts):
        raise ValidationFailed(_("Departments: give department numbers separated by commas, or \"all\"."),
                               "departments")
    return sorted({int(p) for p in parts})


def departments(session: Session, department_ids: Sequence[int] | None) -> list[Department]:
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.name)
    if department_ids is not None:
        query = query.where(Department.id.in_(list(department_ids)))
    return list(session.execute(query).scalars())


def display_state(session: Session, department_ids: Sequence[int] | None, now: datetime, *,
                  settings: ClinicSettings | None = None) -> list[DoctorQueue]:
    """Every active doctor of ``department_ids`` (None: all) who has a queue today (someone called,
    waiting or seen), in the order of their names."""
    settings = settings or ClinicSettings.from_config({})
    day = _day(now, settings)
    query = (sa.select(Doctor).where(Doctor.active.is_(True)).where(Doctor.id.in_(
        sa.select(Appointment.doctor_id).where(Appointment.queue_date == day, Appointment.queue_number.is_not(None))))
        .order_by(Doctor.full_name))
    if department_ids is not None:
        query = query.where(Doctor.department_id.in_(list(department_ids)))
    return [doctor_queue(session, doctor, day, now) for doctor in session.execute(query).scalars()]


def announcement(queue: DoctorQueue) -> str | None:
    """What the TV says aloud when ``queue``'s current number is called (always Vietnamese: the
    waiting room's language)."""
    if queue.current is None:
        return None
    with force_locale("vi"):
        return _("Number %(number)s, please come in to see %(doctor)s.", number=queue.current.number,
                 doctor=queue.doctor)


def display_json(queues: Sequence[DoctorQueue], now: datetime, settings: ClinicSettings) -> dict[str, Any]:
    """The display's state as JSON: numbers, initials, doctor display names and waits only."""
    return {"now": now.astimezone(settings.timezone).isoformat(timespec="seconds"), "doctors": [{
        "doctor_id": q.doctor_id, "doctor": q.doctor, "department": q.department,
        "current": None if q.current is None else {"number": q.current.number, "initials": q.current.initials,
                                                   "in_room": q.current.in_room,
                                                   "called_at": q.current.since.isoformat() if q.current.since
                                                   else None},
        "announce": announcement(q),
        "next": [{"number": w.number, "initials": w.initials, "position": w.position,
                  "wait_minutes": w.wait_minutes} for w in q.waiting],
        "average_minutes": q.average_minutes, "average_source": q.average_source} for q in queues]}


# --- the patient's ticket ----------------------------------------------------------------------


class TicketRefused(DomainError):
    """A ticket link that cannot be shown: ``reason`` "invalid" (400), "gone" (404), "expired",
    "cancelled", "no_show" (410)."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason = reason
        self.status = status


def ticket_expiry(queue_date: date, settings: ClinicSettings) -> datetime:
    """The end of the ticket's clinic day (local midnight)."""
    return datetime.combine(queue_date + timedelta(days=1), time(0), settings.timezone).astimezone(timezone.utc)


def _serializer(secret: str) -> URLSafeSerializer:
    # No timestamp in the signature (the expiry is in the payload): one ticket, one stable link.
    return URLSafeSerializer(secret, salt=TICKET_SALT)


def make_ticket_token(secret: str, appointment: Appointment, settings: ClinicSettings) -> str:
    if appointment.queue_date is None or appointment.queue_number is None:
        raise ValueError("a ticket needs a checked-in appointment (queue number)")
    expires = ticket_expiry(appointment.queue_date, settings)
    return _serializer(secret).dumps([appointment.id, appointment.queue_number, int(expires.timestamp())])


def ticket_path(token: str) -> str:
    return f"/queue/ticket/{token}"


def ticket_url(config: Mapping, appointment: Appointment, *, link: Callable[[str], str] | None = None) -> str:
    """The ticket's absolute URL: on ``PUBLIC_BASE_URL`` when it is set; else ``link(token)`` (a
    page's: the address the request came to) or, in a job with no request, ``public_base_url``."""
    token = make_ticket_token(config["SECRET_KEY"], appointment, ClinicSettings.from_config(config))
    if link is not None and not config.get("PUBLIC_BASE_URL"):
        return link(token)
    return public_base_url(config) + ticket_path(token)


@dataclass(frozen=True)
class LiveTicket:
    appointment_id: int
    number: int
    path: str  # /queue/ticket/<token>


def patient_live_tickets(session: Session, patient_id: int, now: datetime, *, secret: str,
                         settings: ClinicSettings) -> dict[int, LiveTicket]:
    """The patient's queue tickets a link still makes sense for, by appointment id: checked in
    today (clinic day) and waiting, called or in consultation (a finished visit, a no-show or a
    cancellation has none). The same token as the slip's QR code."""
    rows = session.execute(sa.select(Appointment).where(
        Appointment.patient_id == patient_id, Appointment.queue_date == _day(now, settings),
        Appointment.queue_number.is_not(None), Appointment.status.in_(WAITING_STATUSES + CALLED_STATUSES))
        .order_by(Appointment.queue_number)).scalars()
    return {a.id: LiveTicket(a.id, int(a.queue_number or 0), ticket_path(make_ticket_token(secret, a, settings)))
            for a in rows}


@dataclass(frozen=True)
class Ticket:
    number: int
    initials: str
    doctor: str
    state: str  # "waiting", "called", "done"
    position: int | None  # 1 = next (waiting only)
    wait_minutes: int | None
    current_number: int | None  # the number the doctor has called in
    expires_at: datetime


def _invalid() -> TicketRefused:
    return TicketRefused("invalid", _("This ticket link is not valid. Please scan the code on your check-in slip "
                                      "again, or ask at the front desk."), 400)


def ticket_state(session: Session, token: str | None, now: datetime, *, secret: str,
                 settings: ClinicSettings) -> Ticket:
    """The ticket a link opens; raises ``TicketRefused`` saying why not. Changes nothing."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    try:
        payload = _serializer(secret).loads(token)
    except BadData:
        raise _invalid() from None
    if not (isinstance(payload, list) and len(payload) == 3 and all(type(x) is int for x in payload)
            and 0 < payload[0] <= MAX_ID):
        raise _invalid()
    appointment_id, number, expires_seconds = payload
    expires_at = datetime.fromtimestamp(expires_seconds, timezone.utc)
    if now >= expires_at:
        raise TicketRefused("expired", _("This ticket was for an earlier day. Please ask at the front desk for "
                                         "today's number."), 410)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.queue_number != number:
        raise TicketRefused("gone", _("This ticket no longer exists. Please ask at the front desk."), 404)
    if appointment.status == "cancelled":
        raise TicketRefused("cancelled", _("This appointment has been cancelled. Please ask at the front desk."), 410)
    if appointment.status == "no_show":
        raise TicketRefused("no_show", _("Your number was called and you were marked as not here. Please ask at "
                                         "the front desk."), 410)
    queue = doctor_queue(session, appointment.doctor, appointment.queue_date or _day(now, settings), now)
    current = queue.current.number if queue.current is not None and queue.current.in_room else None
    mine = next((w for w in queue.waiting if w.appointment_id == appointment.id), None)
    state = "waiting" if mine is not None else "called" if is_called(appointment) else "done"
    return Ticket(number=number, initials=initials(appointment.patient.full_name if appointment.patient else ""),
                  doctor=queue.doctor, state=state, position=mine.position if mine else None,
                  wait_minutes=mine.wait_minutes if mine else None, current_number=current, expires_at=expires_at)


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {"number": ticket.number, "initials": ticket.initials, "doctor": ticket.doctor, "state": ticket.state,
            "position": ticket.position, "wait_minutes": ticket.wait_minutes,
            "current_number": ticket.current_number}


# --- "you're next" -------------------------------------------------------------------------------

QUEUE_NEXT_KIND = "queue_next"


def tell_next(session: Session, doctor_id: int, day: date, now: datetime, *, config: Mapping) -> list[int]:
    """The patient now first in ``doctor_id``'s queue of ``day`` is told they are next: in-app
    (``notify``, when they have a login) and by message on the channels they chose (kind
    "queue_next"). Once per appointment: the message's dedupe key and the notification's link are
    the appointment's. Commits; the ids of the messages to deliver."""
    from app.services.messaging.recipients import queue_for_patient, to_send
    from app.services.messaging.settings import MessagingSettings
    from app.services.notices import notify_patient

    settings = ClinicSettings.from_config(config)
    doctor = session.get(Doctor, doctor_id)
    if doctor is None:
        return []
    queue = doctor_queue(session, doctor, day, now)
    if not queue.waiting:
        return []
    first = queue.waiting[0]
    appointment = session.get(Appointment, first.appointment_id)
    if appointment is None or appointment.patient is None:
        return []
    messaging = MessagingSettings.from_config(config)
    link = ticket_url(config, appointment)
    messages = queue_for_patient(session, appointment.patient_id, QUEUE_NEXT_KIND,
                                 {"appointment_id": appointment.id, "number": first.number, "ticket_url": link},
                                 now=now, settings=messaging, dedupe_key=f"queue_next:{appointment.id}",
                                 appointment_id=appointment.id,
                                 latest=ticket_expiry(appointment.queue_date or day, settings))
    path = ticket_path(make_ticket_token(config["SECRET_KEY"], appointment, settings))
    doctor_name = queue.doctor

    def make() -> tuple[str, str | None]:
        return (_("You are next: number %(number)s", number=first.number),
                _("%(doctor)s will call you in soon. Please stay near the consultation room.", doctor=doctor_name))

    notify_patient(session, appointment.patient.user_id, QUEUE_NEXT_KIND, make, path, settings=messaging, now=now)
    session.commit()
    return to_send(messages)


# --- the check-in slip -----------------------------------------------------------------------


@dataclass(frozen=True)
class Slip:
    number: int
    initials: str
    doctor: str
    department: str | None
    checked_in_at: datetime | None
    ticket_url: str
    qr_svg: str


def check_in_slip(session: Session, appointment_id: int, *, config: Mapping,
                  link: Callable[[str], str] | None = None) -> Slip:
    """What the front desk prints at check-in: the queue number, the doctor, and the ticket's link
    with its QR code (drawn here, ``qrcode``); ``link`` as in ``ticket_url``. Raises ``NotFound``
    for an unknown appointment and ``Conflict`` for one with no queue number (not checked in)."""
    from app.services.accounts.second_factor import qr_svg
    from app.services.errors import Conflict, NotFound

    appointment = session.get(Appointment, appointment_id) if 0 < appointment_id <= MAX_ID else None
    if appointment is None:
        raise NotFound(_("There is no appointment %(id)s.", id=appointment_id))
    if appointment.queue_number is None or appointment.queue_date is None:
        raise Conflict(_("This appointment has no queue number yet: check the patient in first."), "status")
    url = ticket_url(config, appointment, link=link)
    return Slip(number=appointment.queue_number, initials=initials(appointment.patient.full_name
                                                                   if appointment.patient else ""),
                doctor=doctor_display_name(appointment.doctor),
                department=appointment.doctor.department.name if appointment.doctor.department else None,
                checked_in_at=appointment.checked_in_at, ticket_url=url, qr_svg=qr_svg(url))
