"""The assistant's answers in the patient's chat, and the buttons it carries out.

A message is read (``understanding.understand``) against the clinic's names, and answered in the
patient's language: free times to book as buttons, their own upcoming appointments to cancel or
move, the opening hours, prices, a doctor's next free time; anything else goes to a person. A
tapped button books, cancels or moves through the booking services the portal uses, with the
patient's own rights: only their appointments, the online booking policy (minimum notice,
horizon, confirmation by the clinic), the cut-off before a visit. A refusal is an answer, never
an exception: the reason, and fresh free times when the time was taken meanwhile.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

from babel.dates import format_date, get_day_names
from babel.numbers import format_currency
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor, WorkSchedule
from app.models.scheduling import ACTIVE_STATUSES
from app.services import access, booking
from app.services.appointments import own_appointment, patient_appointments, patient_may_change, patient_of_user
from app.services.assistant.catalogue import Names, ServiceName, load_names
from app.services.assistant.understanding import Intent, understand
from app.services.assistant_hook import AssistantReply, Choice
from app.services.errors import Conflict, DomainError
from app.services.money import quantize
from app.services.schedule_rules import merge, working_intervals
from app.services.settings import ClinicSettings
from app.services.slot_display import period_of

MAX_CHOICES = 6  # free times offered at once (a phone shows them without scrolling)
MAX_SERVICES = 8  # services offered to choose from
SEARCH_DAYS = 14  # how far ahead free times are looked for when no day is asked (as the portal's window)
PARTS = ("morning", "afternoon", "evening")


class Context:
    """What one answer needs: the session, who asks, in which language, when, the settings and
    the clinic's names (read once)."""

    def __init__(self, session: Session, patient_id: int, user: Any, language: str, now: datetime,
                 settings: ClinicSettings) -> None:
        self.session, self.patient_id, self.user = session, patient_id, user
        self.language = "vi" if (language or "").lower().startswith("vi") else "en"
        self.now, self.settings = now.astimezone(timezone.utc), settings
        self.today = now.astimezone(settings.timezone).date()
        self._names: Names | None = None

    @property
    def names(self) -> Names:
        if self._names is None:
            self._names = load_names(self.session)
        return self._names

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "id", None)

    # --- how things are shown ----------------------------------------------------------------

    def day(self, day: date) -> str:
        return format_date(day, "EEEE dd/MM" if self.language == "vi" else "EEE dd/MM", locale=self.language)

    def when(self, moment: datetime) -> str:
        local = booking.to_local(moment, self.settings)
        return f"{self.day(local.date())} {local:%H:%M}"

    def money(self, amount: Decimal) -> str:
        currency = self.settings.currency
        return format_currency(quantize(amount, currency), currency, locale=self.language)

    def doctor_label(self, doctor_id: int) -> str:
        doctor = self.names.doctor(doctor_id)
        return doctor.label if doctor else str(self.session.get(Doctor, doctor_id) or "")


def _human_choice() -> Choice:
    return Choice(_("Talk to a person"), "human")


def _passing_on() -> str:
    return _("I am passing you to a member of staff; they will answer here as soon as they can.")


def _handoff(intent: str, text: str) -> AssistantReply:
    return AssistantReply(text=text, intent=intent, handoff=True)


# --- free times ------------------------------------------------------------------------------------


def _window(ctx: Context, day: date | None, week: date | None) -> tuple[date, date]:
    if day is not None:
        return day, day
    if week is not None:
        return max(week, ctx.today), week + timedelta(days=6)
    return ctx.today, ctx.today + timedelta(days=SEARCH_DAYS - 1)


def _free(ctx: Context, service_id: int, doctor_ids: Iterable[int], first: date, last: date,
          part: str | None = None, at: time | None = None, ignore_appointment_id: int | None = None,
          skip: datetime | None = None, limit: int = MAX_CHOICES) -> list[tuple[int, booking.Slot]]:
    """Up to ``limit`` free starts (one doctor per start, earliest first) of ``service_id`` with
    any of ``doctor_ids`` from ``first`` to ``last``, in ``part`` of the day and from ``at``."""
    if last < ctx.today:
        return []
    first = max(first, ctx.today)
    found: list[tuple[int, booking.Slot]] = []
    for doctor_id in doctor_ids:
        try:
            if ignore_appointment_id is None:  # the patient's view, as on the public site: cached
                slots = booking.cached_free_slots(ctx.session, doctor_id=doctor_id, service_id=service_id,
                                                  date_from=first, date_to=last, settings=ctx.settings, now=ctx.now)
            else:  # moving an appointment: its own time counts as free, so not the cached view
                slots = booking.free_slots(ctx.session, doctor_id=doctor_id, service_id=service_id, date_from=first,
                                           date_to=last, settings=ctx.settings, now=ctx.now,
                                           ignore_appointment_id=ignore_appointment_id, by_patient=True)
        except DomainError:
            continue
        for slot in slots:
            local = booking.to_local(slot.start, ctx.settings).time()
            if part and period_of(local) != part:
                continue
            if at and local < at:
                continue
            if skip is not None and slot.start == skip:
                continue
            found.append((doctor_id, slot))
    found.sort(key=lambda pair: (pair[1].start, pair[0]))
    seen: set[datetime] = set()
    unique = []
    for doctor_id, slot in found:
        if slot.start not in seen:
            seen.add(slot.start)
            unique.append((doctor_id, slot))
    return unique[:limit]


def _book_choices(ctx: Context, service_id: int, found: list[tuple[int, booking.Slot]],
                  with_doctor: bool = True) -> tuple[Choice, ...]:
    return tuple(Choice(
        f"{ctx.when(slot.start)} · {ctx.doctor_label(doctor_id)}" if with_doctor else ctx.when(slot.start),
        "book_slot", {"doctor_id": doctor_id, "service_id": service_id, "start": slot.start.isoformat()})
        for doctor_id, slot in found)


def _doctors_for(ctx: Context, service: ServiceName, wanted: list[int] | None) -> list[int]:
    if wanted:
        return [d for d in wanted if d in service.doctor_ids]
    return list(service.doctor_ids)


def _online_off(ctx: Context, intent: str) -> AssistantReply | None:
    if ctx.settings.booking.online_enabled:
        return None
    return AssistantReply(_("Online booking is switched off; please call the clinic."), (_human_choice(),),
                          intent, handoff=True)


def offer_times(ctx: Context, service: ServiceName, *, doctor_ids: list[int] | None = None, day: date | None = None,
                week: date | None = None, part: str | None = None, at: time | None = None, intent: str = "book",
                lead: str | None = None) -> AssistantReply:
    """Free times of ``service`` as buttons: those asked for, else the nearest ones."""
    off = _online_off(ctx, intent)
    if off is not None:
        return off
    doctors = _doctors_for(ctx, service, doctor_ids)
    if not doctors:
        names = ", ".join(ctx.doctor_label(d) for d in doctor_ids or ())
        return AssistantReply(_("%(doctor)s does not offer %(service)s.", doctor=names, service=service.name),
                              (_human_choice(),), intent)
    first, last = _window(ctx, day, week)
    found = _free(ctx, service.id, doctors, first, last, part, at)
    notes = [lead] if lead else []
    if found:
        if day is not None:
            notes.append(_("Free times for %(service)s on %(day)s. Tap one to book it.", service=service.name,
                           day=ctx.day(day)))
        else:
            notes.append(_("Free times for %(service)s. Tap one to book it.", service=service.name))
        return AssistantReply(" ".join(notes), _book_choices(ctx, service.id, found), intent)
    if day is not None and day < ctx.today:
        notes.append(_("%(day)s has passed.", day=ctx.day(day)))
    elif day is not None or week is not None or part or at:
        notes.append(_("There is no free time for %(service)s then.", service=service.name))
    found = []
    for nearest_from in ([day] if day is not None and day > ctx.today else []) + [ctx.today]:
        found = _free(ctx, service.id, doctors, nearest_from, nearest_from + timedelta(days=SEARCH_DAYS - 1))
        if found:  # from the day asked for, else (beyond the horizon, or full) from today
            break
    if found:
        notes.append(_("The nearest free times for %(service)s. Tap one to book it.", service=service.name))
        return AssistantReply(" ".join(notes), _book_choices(ctx, service.id, found), intent)
    notes.append(_("There is no free time for %(service)s in the next %(n)d days; a member of staff can help.",
                   service=service.name, n=SEARCH_DAYS))
    return AssistantReply(" ".join(notes), (_human_choice(),), intent)


def _service_choices(ctx: Context, intent: Intent, services: Iterable[ServiceName]) -> tuple[Choice, ...]:
    params = _carried(intent.slots)
    return tuple(Choice(s.name, "choose_service", {"service_id": s.id, **params}) for s in services)


def _carried(slots: dict[str, Any]) -> dict[str, Any]:
    """What a "choose ..." button carries over from the message (plain JSON values)."""
    carried: dict[str, Any] = {}
    if "day" in slots:
        carried["day"] = slots["day"].isoformat()
    if "week" in slots:
        carried["week"] = slots["week"].isoformat()
    if "part" in slots:
        carried["part"] = slots["part"]
    if "time" in slots:
        carried["time"] = slots["time"].strftime("%H:%M")
    doctors = slots.get("doctor_ids") or slots.get("specialists")
    if doctors:
        carried["doctor_ids"] = list(doctors)
    return carried


def _menu(ctx: Context) -> list[ServiceName]:
    """The services to choose from: consultations first."""
    ordered = sorted(ctx.names.services, key=lambda s: (not s.consultation, s.id))
    return [s for s in ordered if s.doctor_ids][:MAX_SERVICES]


# --- one answer per intent -------------------------------------------------------------------------


def _book(ctx: Context, intent: Intent) -> AssistantReply:
    slots = intent.slots
    doctor_ids = slots.get("doctor_ids") or slots.get("specialists")
    service = ctx.names.service(slots.get("service_id"))
    if service is None and slots.get("doctor_ids"):
        service = ctx.names.service(ctx.names.main_service(slots["doctor_ids"][0]))
    if service is None:
        off = _online_off(ctx, "book")
        if off is not None:
            return off
        lead = (_("Sorry, the clinic does not offer that.") + " ") if "specialty" in slots else ""
        return AssistantReply(lead + _("Which service would you like to book?"),
                              _service_choices(ctx, intent, _menu(ctx)) + (_human_choice(),), "book")
    return offer_times(ctx, service, doctor_ids=doctor_ids, day=slots.get("day"), week=slots.get("week"),
                       part=slots.get("part"), at=slots.get("time"))


def _changeable(ctx: Context) -> tuple[list[Appointment], list[Appointment]]:
    """The patient's upcoming appointments they may still change themselves, and those past the cut-off."""
    upcoming = [a for a in patient_appointments(ctx.session, ctx.patient_id, ctx.now).upcoming
                if patient_may_change(a, ctx.now)]
    cutoff = ctx.settings.booking.patient_cutoff
    return ([a for a in upcoming if a.start_at - ctx.now >= cutoff],
            [a for a in upcoming if a.start_at - ctx.now < cutoff])


def _appointment_label(ctx: Context, appointment: Appointment) -> str:
    return f"{ctx.when(appointment.start_at)} · {appointment.service.name}"


def _too_late_note(ctx: Context, late: list[Appointment]) -> str:
    if not late:
        return ""
    hours = int(ctx.settings.booking.patient_cutoff.total_seconds() // 3600)
    return " " + _("%(appointment)s is less than %(n)d hours away: please call the clinic to change it.",
                   appointment=_appointment_label(ctx, late[0]), n=hours)


def _on_day(appointments: list[Appointment], ctx: Context, day: date | None) -> list[Appointment]:
    if day is None:
        return appointments
    same = [a for a in appointments if booking.to_local(a.start_at, ctx.settings).date() == day]
    return same or appointments


def _cancel(ctx: Context, intent: Intent) -> AssistantReply:
    mine, late = _changeable(ctx)
    if not mine:
        text = _("You have no upcoming appointment that can be cancelled online.") + _too_late_note(ctx, late)
        return AssistantReply(text, (_human_choice(),) if late else (), "cancel")
    mine = _on_day(mine, ctx, intent.slots.get("day"))
    choices = tuple(Choice(_("Cancel %(appointment)s", appointment=_appointment_label(ctx, a)),
                           "cancel_appointment", {"appointment_id": a.id}) for a in mine[:MAX_CHOICES])
    text = _("Which appointment do you want to cancel? Tap it to cancel it.") + _too_late_note(ctx, late)
    return AssistantReply(text, choices, "cancel")


def move_times(ctx: Context, appointment: Appointment, day: date | None = None, part: str | None = None,
               at: time | None = None, lead: str | None = None) -> AssistantReply:
    """Free times of the same doctor and service to move ``appointment`` to."""
    first, last = _window(ctx, day, None)
    found = _free(ctx, appointment.service_id, [appointment.doctor_id], first, last, part, at,
                  ignore_appointment_id=appointment.id, skip=appointment.start_at)
    notes = [lead] if lead else []
    if not found and (day is not None or part or at):
        notes.append(_("There is no free time then."))
        found = _free(ctx, appointment.service_id, [appointment.doctor_id], ctx.today,
                      ctx.today + timedelta(days=SEARCH_DAYS - 1), ignore_appointment_id=appointment.id,
                      skip=appointment.start_at)
    if not found:
        notes.append(_("%(doctor)s has no other free time in the next %(n)d days; a member of staff can help.",
                       doctor=ctx.doctor_label(appointment.doctor_id), n=SEARCH_DAYS))
        return AssistantReply(" ".join(notes), (_human_choice(),), "move")
    notes.append(_("Free times to move %(appointment)s with %(doctor)s. Tap one to move it.",
                   appointment=_appointment_label(ctx, appointment), doctor=ctx.doctor_label(appointment.doctor_id)))
    choices = tuple(Choice(ctx.when(slot.start), "move_to_slot",
                           {"appointment_id": appointment.id, "start": slot.start.isoformat()}) for _d, slot in found)
    return AssistantReply(" ".join(notes), choices, "move")


def _move(ctx: Context, intent: Intent) -> AssistantReply:
    mine, late = _changeable(ctx)
    if not mine:
        text = _("You have no upcoming appointment that can be moved online.") + _too_late_note(ctx, late)
        return AssistantReply(text, (_human_choice(),) if late else (), "move")
    slots = intent.slots
    if len(mine) == 1:
        return move_times(ctx, mine[0], slots.get("day"), slots.get("part"), slots.get("time"))
    params = {k: v for k, v in _carried(slots).items() if k in ("day", "part", "time")}
    choices = tuple(Choice(_("Move %(appointment)s", appointment=_appointment_label(ctx, a)), "pick_move",
                           {"appointment_id": a.id, **params}) for a in mine[:MAX_CHOICES])
    return AssistantReply(_("Which appointment do you want to move?") + _too_late_note(ctx, late), choices, "move")


def _mine(ctx: Context, intent: Intent) -> AssistantReply:
    upcoming = patient_appointments(ctx.session, ctx.patient_id, ctx.now).upcoming
    if not upcoming:
        return AssistantReply(_("You have no upcoming appointment."), (), "mine")
    lines = [_("Your upcoming appointments:")]
    lines += [f"{_appointment_label(ctx, a)} · {ctx.doctor_label(a.doctor_id)}" for a in upcoming[:MAX_CHOICES]]
    mine, _late = _changeable(ctx)
    choices: list[Choice] = []
    for a in mine[:3]:
        choices.append(Choice(_("Move %(appointment)s", appointment=_appointment_label(ctx, a)), "pick_move",
                              {"appointment_id": a.id}))
        choices.append(Choice(_("Cancel %(appointment)s", appointment=_appointment_label(ctx, a)),
                              "cancel_appointment", {"appointment_id": a.id}))
    return AssistantReply("\n".join(lines), tuple(choices), "mine")


def _hours_text(intervals: list[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in intervals)


def _hours(ctx: Context, intent: Intent) -> AssistantReply:
    day = intent.slots.get("day")
    doctor_ids = [d.id for d in ctx.names.doctors]
    if day is not None:
        intervals: list[tuple[datetime, datetime]] = []
        for doctor_id in doctor_ids:
            intervals += working_intervals(ctx.session, doctor_id, day, day).get(day, [])
        merged = [(a.time(), b.time()) for a, b in merge(intervals)]
        if not merged:
            return AssistantReply(_("The clinic is closed on %(day)s.", day=ctx.day(day)), (), "hours")
        return AssistantReply(_("On %(day)s the clinic is open %(hours)s.", day=ctx.day(day),
                                hours=_hours_text(merged)), (), "hours")
    rows = ctx.session.execute(select(WorkSchedule.weekday, WorkSchedule.start_time, WorkSchedule.end_time).where(
        WorkSchedule.doctor_id.in_(doctor_ids), WorkSchedule.valid_from <= ctx.today,
        (WorkSchedule.valid_to.is_(None)) | (WorkSchedule.valid_to >= ctx.today))).all()
    week: dict[int, list[tuple[time, time]]] = {}
    for weekday in range(7):
        anchor = date(2024, 1, 1) + timedelta(days=weekday)  # a Monday, plus the weekday
        spans = merge((datetime.combine(anchor, r.start_time), datetime.combine(anchor, r.end_time))
                      for r in rows if r.weekday == weekday)
        week[weekday] = [(a.time(), b.time()) for a, b in spans]
    names = get_day_names("abbreviated", locale=ctx.language)
    groups: list[tuple[int, int, list[tuple[time, time]]]] = []
    for weekday in range(7):
        if groups and groups[-1][2] == week[weekday] and groups[-1][1] == weekday - 1:
            groups[-1] = (groups[-1][0], weekday, week[weekday])
        else:
            groups.append((weekday, weekday, week[weekday]))
    parts = []
    closed = _("closed all day")
    for first, last, hours in groups:
        days = names[first] if first == last else f"{names[first]}–{names[last]}"
        parts.append(f"{days}: {_hours_text(hours) if hours else closed}")
    return AssistantReply(_("Opening hours: %(hours)s. Closed on public holidays.", hours="; ".join(parts)), (),
                          "hours")


def _price(ctx: Context, intent: Intent) -> AssistantReply:
    slots = intent.slots
    names = ctx.names
    chosen: list[ServiceName] = []
    service = names.service(slots.get("service_id"))
    if service is not None:
        chosen = [service]
        if "specialty" in slots:  # the other services of that department too
            chosen += [s for s in names.services
                       if s.department_id is not None and s.department_id == service.department_id and s is not service]
    elif slots.get("doctor_ids"):
        doctor = names.doctor(slots["doctor_ids"][0])
        chosen = [s for s in names.services if doctor is not None and s.id in doctor.service_ids]
    lead = ""
    if not chosen:
        if "specialty" in slots:
            lead = _("Sorry, the clinic does not offer that.") + " "
        chosen = _menu(ctx)
    chosen = chosen[:MAX_SERVICES]
    lines = [lead + _("Prices:")] + [f"{s.name}: {ctx.money(s.price)}" for s in chosen]
    choices = tuple(Choice(_("Book %(service)s", service=s.name), "choose_service", {"service_id": s.id})
                    for s in chosen[:3] if s.doctor_ids)
    return AssistantReply("\n".join(lines), choices, "price")


def _doctor_choices(ctx: Context, doctor_ids: list[int], intent: Intent) -> tuple[Choice, ...]:
    params = {k: v for k, v in _carried(intent.slots).items() if k in ("day", "part", "time", "week")}
    return tuple(Choice(ctx.doctor_label(d), "choose_doctor", {"doctor_id": d, **params})
                 for d in doctor_ids[:MAX_CHOICES])


def next_free(ctx: Context, doctor_id: int, slots: dict[str, Any]) -> AssistantReply:
    names = ctx.names
    doctor = names.doctor(doctor_id)
    service = names.service(slots.get("service_id"))
    if doctor is None:
        return AssistantReply(_("Sorry, I do not know that doctor."), (_human_choice(),), "next_free")
    if service is None or service.id not in doctor.service_ids:
        service = names.service(names.main_service(doctor_id))
    if service is None:
        return AssistantReply(_("%(doctor)s takes no bookings online; a member of staff can help.",
                                doctor=doctor.label), (_human_choice(),), "next_free")
    first, last = _window(ctx, slots.get("day"), slots.get("week"))
    found = _free(ctx, service.id, [doctor_id], first, last, slots.get("part"), slots.get("time"))
    if not found:
        found = _free(ctx, service.id, [doctor_id], ctx.today, ctx.today + timedelta(days=SEARCH_DAYS - 1))
    if not found:
        return AssistantReply(_("%(doctor)s has no free time in the next %(n)d days; a member of staff can help.",
                                doctor=doctor.label, n=SEARCH_DAYS), (_human_choice(),), "next_free")
    text = _("The next free time of %(doctor)s is %(when)s (%(service)s).", doctor=doctor.label,
             when=ctx.when(found[0][1].start), service=service.name)
    off = _online_off(ctx, "next_free")
    if off is not None:
        return AssistantReply(f"{text} {off.text}", off.choices, "next_free", handoff=True)
    tap = _("Tap a time to book it.")
    return AssistantReply(f"{text} {tap}",
                          _book_choices(ctx, service.id, found, with_doctor=False), "next_free")


def _next_free(ctx: Context, intent: Intent) -> AssistantReply:
    doctor_ids = intent.slots.get("doctor_ids") or []
    if not doctor_ids:
        typed = intent.slots.get("doctor", "")
        text = _("Sorry, I do not know a doctor called %(name)s. Which doctor do you mean?", name=typed) if typed \
            else _("Which doctor do you mean?")
        return AssistantReply(text, _doctor_choices(ctx, [d.id for d in ctx.names.doctors], intent), "next_free")
    if len(doctor_ids) > 1:
        return AssistantReply(_("Which doctor do you mean?"), _doctor_choices(ctx, doctor_ids, intent), "next_free")
    return next_free(ctx, doctor_ids[0], intent.slots)


def _greeting(ctx: Context, intent: Intent) -> AssistantReply:
    return AssistantReply(_("Hello! I can book, move or cancel your appointments and tell you our opening hours, "
                            "prices and a doctor's next free time. Just write what you need, e.g. \"book a "
                            "dermatologist tomorrow morning\"."), (_human_choice(),), "greeting")


def _thanks(ctx: Context, intent: Intent) -> AssistantReply:
    return AssistantReply(_("You are welcome! Write again whenever you need."), (), "thanks")


ANSWERS = {"book": _book, "cancel": _cancel, "move": _move, "mine": _mine, "hours": _hours, "price": _price,
           "next_free": _next_free, "greeting": _greeting, "thanks": _thanks}


def _own_patient(session: Session, user: Any, patient_id: int) -> bool:
    patient = patient_of_user(session, getattr(user, "id", None))
    return patient is not None and patient.id == patient_id


def reply(session: Session, *, patient_id: int, user: Any, text: str, language: str, now: datetime,
          settings: ClinicSettings) -> AssistantReply | None:
    """The answer to a patient's message; None when ``user`` is not that patient's login (a person
    takes over)."""
    if not _own_patient(session, user, patient_id):
        return None
    ctx = Context(session, patient_id, user, language, now, settings)
    with force_locale(ctx.language):
        intent = understand(text, ctx.language, ctx.today, ctx.names)
        if intent.name == "human":
            return _handoff("human", _passing_on())
        answer = ANSWERS.get(intent.name)
        if answer is None:
            return _handoff("unknown", _("Sorry, I did not understand. A member of staff will read your message "
                                         "and answer here."))
        return answer(ctx, intent)


# --- buttons ----------------------------------------------------------------------------------------


def _int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if isinstance(value, bool):
        return None
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= 2**31 - 1 else None


def _moment(params: dict[str, Any], key: str = "start") -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(params.get(key, "")))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else None


def _day_param(params: dict[str, Any], key: str) -> date | None:
    try:
        return date.fromisoformat(str(params.get(key, "")))
    except ValueError:
        return None


def _time_param(params: dict[str, Any]) -> time | None:
    try:
        return time.fromisoformat(str(params.get("time", "")))
    except ValueError:
        return None


def _slots_from(params: dict[str, Any]) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for key in ("day", "week"):
        if (value := _day_param(params, key)) is not None:
            slots[key] = value
    if params.get("part") in PARTS:
        slots["part"] = params["part"]
    if (at := _time_param(params)) is not None:
        slots["time"] = at
    ids = params.get("doctor_ids")
    if isinstance(ids, list):
        slots["doctor_ids"] = [i for i in (_int({"id": v}, "id") for v in ids) if i]
    return slots


def _stale() -> AssistantReply:
    return AssistantReply(_("This button is no longer valid. Please write what you need again."), (), "")


def _not_yours(ctx: Context, appointment_id: int) -> AssistantReply:
    """Another patient's appointment (or none): as good as absent, and the attempt is audited."""
    access.record_denial(ctx.session, ctx.user, "Appointment", appointment_id, {"chat_patient": ctx.patient_id})
    return AssistantReply(_("I cannot find that appointment among yours."), (), "")


def _book_slot(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    doctor_id, service_id, start = _int(params, "doctor_id"), _int(params, "service_id"), _moment(params)
    service = ctx.names.service(service_id)
    if doctor_id is None or start is None or service is None:
        return _stale()
    off = _online_off(ctx, "book")
    if off is not None:
        return off
    policy = ctx.settings.booking
    status = "requested" if policy.online_needs_confirmation else "confirmed"
    try:
        booking.book_appointment(ctx.session, patient_id=ctx.patient_id, doctor_id=doctor_id, service_id=service.id,
                                 start=start, settings=ctx.settings, actor_id=ctx.user_id, channel="chat",
                                 status=status, now=ctx.now, by_patient=True)
    except DomainError as exc:
        ctx.session.rollback()
        local_day = booking.to_local(start, ctx.settings).date()
        own = _own_clash(ctx, start, start + timedelta(minutes=service.duration_minutes))
        if own is not None:
            lead = _("You already have an appointment at %(when)s with %(doctor)s.", when=ctx.when(own.start_at),
                     doctor=ctx.doctor_label(own.doctor_id))
        elif isinstance(exc, Conflict):
            lead = _("Sorry, %(when)s was just taken.", when=ctx.when(start))
        else:
            lead = exc.message
        fresh = offer_times(ctx, service, doctor_ids=[doctor_id], day=local_day, lead=lead)
        if not any(c.action == "book_slot" for c in fresh.choices):  # that doctor is full: any doctor
            fresh = offer_times(ctx, service, day=local_day, lead=lead)
        return fresh
    when, doctor = ctx.when(start), ctx.doctor_label(doctor_id)
    if status == "requested":
        text = _("Your request for %(service)s with %(doctor)s on %(when)s was sent. The clinic will confirm it soon.",
                 service=service.name, doctor=doctor, when=when)
    else:
        text = _("Booked: %(service)s with %(doctor)s on %(when)s.", service=service.name, doctor=doctor, when=when)
    return AssistantReply(text, (), "book")


def _own_clash(ctx: Context, start: datetime, end: datetime) -> Appointment | None:
    """The patient's own active appointment overlapping [start, end), if any."""
    return ctx.session.execute(select(Appointment).where(
        Appointment.patient_id == ctx.patient_id, Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.start_at < end, Appointment.end_at > start).limit(1)).scalars().first()


def _owned(ctx: Context, params: dict[str, Any]) -> tuple[Appointment | None, AssistantReply | None]:
    appointment_id = _int(params, "appointment_id")
    if appointment_id is None:
        return None, _stale()
    appointment = own_appointment(ctx.session, ctx.patient_id, appointment_id)
    if appointment is None:
        return None, _not_yours(ctx, appointment_id)
    return appointment, None


def _cancel_appointment(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    appointment, refusal = _owned(ctx, params)
    if appointment is None:
        return refusal or _stale()
    label = _appointment_label(ctx, appointment)
    try:
        booking.transition_appointment(ctx.session, appointment.id, "cancelled", actor_id=ctx.user_id,
                                       settings=ctx.settings, reason=_("Cancelled by the patient in the chat."),
                                       by_patient=True, now=ctx.now)
    except DomainError as exc:
        ctx.session.rollback()
        return AssistantReply(exc.message, (_human_choice(),), "cancel")
    return AssistantReply(_("Your appointment %(appointment)s is cancelled.", appointment=label), (), "cancel")


def _move_to_slot(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    appointment, refusal = _owned(ctx, params)
    if appointment is None:
        return refusal or _stale()
    start = _moment(params)
    if start is None:
        return _stale()
    try:
        booking.reschedule_appointment(ctx.session, appointment.id, start, actor_id=ctx.user_id,
                                       settings=ctx.settings, by_patient=True, now=ctx.now)
    except DomainError as exc:
        ctx.session.rollback()
        appointment = ctx.session.get(Appointment, appointment.id) or appointment
        still_movable = booking.can_move(appointment.status) and \
            appointment.start_at - ctx.now >= ctx.settings.booking.patient_cutoff
        if isinstance(exc, Conflict) and still_movable:  # the time was taken meanwhile
            lead = _("Sorry, %(when)s was just taken.", when=ctx.when(start))
            return move_times(ctx, appointment, booking.to_local(start, ctx.settings).date(), lead=lead)
        return AssistantReply(exc.message, (_human_choice(),), "move")
    return AssistantReply(_("Your appointment is moved to %(when)s with %(doctor)s.", when=ctx.when(start),
                            doctor=ctx.doctor_label(appointment.doctor_id)), (), "move")


def _choose_service(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    service = ctx.names.service(_int(params, "service_id"))
    if service is None:
        return _stale()
    slots = _slots_from(params)
    return offer_times(ctx, service, doctor_ids=slots.get("doctor_ids"), day=slots.get("day"),
                       week=slots.get("week"), part=slots.get("part"), at=slots.get("time"))


def _pick_move(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    appointment, refusal = _owned(ctx, params)
    if appointment is None:
        return refusal or _stale()
    slots = _slots_from(params)
    return move_times(ctx, appointment, slots.get("day"), slots.get("part"), slots.get("time"))


def _choose_doctor(ctx: Context, params: dict[str, Any]) -> AssistantReply:
    doctor_id = _int(params, "doctor_id")
    if doctor_id is None or ctx.names.doctor(doctor_id) is None:
        return _stale()
    return next_free(ctx, doctor_id, _slots_from(params))


ACTIONS = {"book_slot": _book_slot, "cancel_appointment": _cancel_appointment, "move_to_slot": _move_to_slot,
           "choose_service": _choose_service, "pick_move": _pick_move, "choose_doctor": _choose_doctor}


def act(session: Session, *, patient_id: int, user: Any, action: str, params: dict[str, Any], language: str,
        now: datetime, settings: ClinicSettings) -> AssistantReply | None:
    """Carry out a tapped button ("human": hand over to a person); None for an unknown action or
    a ``user`` who is not that patient's login."""
    if not _own_patient(session, user, patient_id):
        return None
    ctx = Context(session, patient_id, user, language, now, settings)
    with force_locale(ctx.language):
        if action == "human":
            return _handoff("human", _passing_on())
        handler = ACTIONS.get(action)
        if handler is None:
            return None
        return handler(ctx, params if isinstance(params, dict) else {})
