"""The back-office calendar: day and week time grids (columns are doctors or days), a month grid,
and a doctor's own schedule. Moving and booking go through the REST booking API from
static/js/calendar.js; this page only reads."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import abort, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import format_date, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.extensions import db
from app.services import booking, calendar as cal
from app.services.errors import ValidationFailed
from app.services.schedule_rules import merge
from app.views.base import clinic_settings

PX_PER_MINUTE = 1.6  # a 15-minute row is 24 px high
ROW_MINUTES = 15
MONTH_PREVIEW = 3

STATUS_LABELS = {
    "requested": _l("Requested"), "confirmed": _l("Confirmed"), "checked_in": _l("Checked in"),
    "in_consultation": _l("In consultation"), "completed": _l("Completed"), "cancelled": _l("Cancelled"),
    "no_show": _l("No-show"),
}
VIEW_LABELS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}
OFF_LABELS = {"leave": _l("On leave"), "holiday": _l("Holiday"), "training": _l("Training")}
@dataclass
class Block:
    appointment: cal.CalendarAppointment
    top: float
    height: float
    lane: int = 0
    lanes: int = 1

    @property
    def left(self) -> float:
        return round(100 * self.lane / self.lanes, 3)

    @property
    def width(self) -> float:
        return round(100 / self.lanes, 3)


@dataclass
class Column:
    label: str
    day: date
    offset: str  # the clinic's UTC offset on that day, "+07:00"
    doctor_id: int | None = None
    sublabel: str = ""
    shading: list[tuple[float, float]] = field(default_factory=list)
    off: str = ""
    blocks: list[Block] = field(default_factory=list)


def _bad(message: str):
    abort(400, description=message)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        _bad(_("The filter %(name)s must be a record number.", name=name))
    return int(raw)


def _view_arg(allowed: tuple[str, ...]) -> str:
    view = request.args.get("view", "week").strip() or "week"
    if view not in allowed:
        _bad(_("Unknown calendar view %(view)s; use one of: %(views)s.", view=view, views=", ".join(allowed)))
    return view


def _date_arg(today: date) -> date:
    raw = request.args.get("date", "").strip()
    if not raw:
        return today
    try:
        anchor = date.fromisoformat(raw)
    except ValueError:
        _bad(_("Give the date like 2026-12-01."))
    if not 1900 <= anchor.year <= 2999:
        _bad(_("Give a date between the years 1900 and 2999."))
    return anchor


def _offset(day: date, zone) -> str:
    raw = datetime.combine(day, time(12), zone).strftime("%z")
    return f"{raw[:3]}:{raw[3:]}"


def _lay_out(appointments: list[cal.CalendarAppointment], low: int, high: int) -> list[Block]:
    """Position blocks in a column; overlapping ones share the width in lanes."""
    grid_start, grid_end = low * 60, high * 60
    blocks: list[Block] = []
    for a in sorted(appointments, key=lambda a: (a.start, a.end, a.id)):
        start = a.start.hour * 60 + a.start.minute
        end = start + max(int((a.end - a.start).total_seconds() // 60), ROW_MINUTES // 3)
        start, end = max(start, grid_start), min(end, grid_end)
        blocks.append(Block(a, top=(start - grid_start) * PX_PER_MINUTE,
                            height=max((end - start) * PX_PER_MINUTE, 14)))
    cluster: list[Block] = []
    lane_ends: list[float] = []
    cluster_end = 0.0
    for block in blocks:
        if cluster and block.top >= cluster_end:
            for member in cluster:
                member.lanes = len(lane_ends)
            cluster, lane_ends, cluster_end = [], [], 0.0
        bottom = block.top + block.height
        for index, lane_end in enumerate(lane_ends):
            if lane_end <= block.top:
                block.lane, lane_ends[index] = index, bottom
                break
        else:
            block.lane = len(lane_ends)
            lane_ends.append(bottom)
        cluster.append(block)
        cluster_end = max(cluster_end, bottom)
    for member in cluster:
        member.lanes = max(len(lane_ends), 1)
    return blocks


def _shade(intervals, low: int) -> list[tuple[float, float]]:
    out = []
    for start, end in merge(intervals):
        top = ((start.hour - low) * 60 + start.minute) * PX_PER_MINUTE
        bottom_minutes = (end - start).total_seconds() / 60
        out.append((round(top, 2), round(bottom_minutes * PX_PER_MINUTE, 2)))
    return out


class CalendarView(BaseView):
    route_base = "/calendar"
    default_view = "index"
    class_permission_name = "Appointment"
    method_permission_name = {"index": "read", "mine": "read"}

    @expose("/")
    @has_access
    def index(self):
        settings = clinic_settings()
        view = _view_arg(cal.VIEWS)
        anchor = _date_arg(settings.today())
        filters = {"doctor_id": _int_arg("doctor_id"), "department_id": _int_arg("department_id"),
                   "service_id": _int_arg("service_id")}
        return self._render("CalendarView.index", view, anchor, filters, mine=None)

    @expose("/mine")
    @has_access
    def mine(self):
        settings = clinic_settings()
        doctor = cal.doctor_for_user(db.session, getattr(current_user, "id", None))
        if doctor is None:
            abort(404, description=_("Your login is not linked to a doctor, so there is no own schedule to show."))
        view = _view_arg(("day", "week"))
        anchor = _date_arg(settings.today())
        filters = {"doctor_id": doctor.id, "department_id": None, "service_id": None}
        return self._render("CalendarView.mine", view, anchor, filters, mine=doctor)

    def _render(self, endpoint: str, view: str, anchor: date, filters: dict, mine):
        settings = clinic_settings()
        first, last = cal.date_range(view, anchor)
        try:
            data = cal.calendar(db.session, settings, first, last, **filters)
        except ValidationFailed as exc:
            _bad(exc.message)
        kept = {} if mine is not None else {k: v for k, v in filters.items() if v}

        def link(**changes) -> str:
            args = {"view": view, "date": anchor.isoformat(), **kept, **changes}
            return url_for(endpoint, **args)

        context = dict(
            view=view, anchor=anchor, first=first, last=last, data=data, mine=mine, filters=filters,
            views=[v for v in cal.VIEWS if mine is None or v != "month"], view_labels=VIEW_LABELS,
            status_labels=STATUS_LABELS, statuses=cal.STATUS_ORDER, link=link,
            prev_url=link(date=cal.shift(view, anchor, -1).isoformat()),
            next_url=link(date=cal.shift(view, anchor, 1).isoformat()),
            today_url=link(date=settings.today().isoformat()),
            title=self._title(view, first, last),
            can_write=self.appbuilder.sm.has_access("can_write", "Appointment"),
            can_read_patients=self.appbuilder.sm.has_access("can_read", "Patient"),
            choices=cal.small_tables(db.session), slot_minutes=settings.booking.slot_minutes,
            csrf=generate_csrf(), movable_statuses=booking.MOVABLE_STATUSES,
            px_per_minute=PX_PER_MINUTE, endpoint=endpoint, timezone=settings.timezone.key, format_date=format_date,
        )
        if view == "month":
            context["weeks"] = self._month(data)
            context["preview"] = MONTH_PREVIEW
            context["weekday_names"] = [format_date(cell["day"], "EEE") for cell in context["weeks"][0]]
        else:
            low, high = cal.hour_bounds(data)
            context.update(low=low, high=high, columns=self._columns(view, data, low, high, settings),
                           height=round((high - low) * 60 * PX_PER_MINUTE, 2), hours=list(range(low, high)))
        return self.render_template("clinic/calendar.html", **context)

    @staticmethod
    def _title(view: str, first: date, last: date) -> str:
        if view == "day":
            return format_date(first, "full")
        if view == "week":
            return f"{format_date(first, 'medium')} – {format_date(last, 'medium')}"
        return format_date(first, "MMMM y")

    @staticmethod
    def _columns(view: str, data: cal.CalendarData, low: int, high: int, settings) -> list[Column]:
        columns: list[Column] = []
        if view == "day":
            day = data.first
            for doctor in data.doctors:
                columns.append(Column(
                    label=doctor.name, day=day, offset=_offset(day, settings.timezone), doctor_id=doctor.id,
                    shading=_shade(doctor.intervals.get(day, []), low),
                    off=str(OFF_LABELS.get(doctor.days_off.get(day, ""), "")),
                    blocks=_lay_out(data.on(day, doctor.id), low, high)))
            return columns
        single = data.doctors[0] if len(data.doctors) == 1 else None
        for day in data.days():
            intervals = [i for doctor in data.doctors for i in doctor.intervals.get(day, [])]
            off = ""
            if single is not None and day in single.days_off:
                off = str(OFF_LABELS.get(single.days_off[day], ""))
            columns.append(Column(
                label=format_date(day, "EEE"), sublabel=format_date(day, "d MMM"), day=day,
                offset=_offset(day, settings.timezone), doctor_id=single.id if single else None,
                shading=_shade(intervals, low), off=off, blocks=_lay_out(data.on(day), low, high)))
        return columns

    @staticmethod
    def _month(data: cal.CalendarData) -> list[list[dict]]:
        start = data.first - timedelta(days=data.first.weekday())
        end = data.last + timedelta(days=6 - data.last.weekday())
        weeks, week = [], []
        day = start
        while day <= end:
            week.append({"day": day, "inside": data.first <= day <= data.last,
                         "appointments": data.on(day) if data.first <= day <= data.last else []})
            if len(week) == 7:
                weeks.append(week)
                week = []
            day += timedelta(days=1)
        return weeks
