"""Server-rendered workflow pages: move one appointment along its workflow with buttons, cancel
the rest of its series, and book a recurring series (preview first). Plain HTML forms (POST,
redirect, flash); every change goes through ``app.services.booking`` / ``app.services.series``
and a domain error becomes a flash message or a form error, never a 500."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.extensions import db
from app.models import Appointment, AppointmentEvent, Doctor, Patient, Service
from app.services.booking import TRANSITIONS, transition_appointment
from app.services.errors import DomainError
from app.services.series import book_series, cancel_series_from, preview_series
from app.views.base import acting_user_id, clinic_settings, describe, pk_in_range
from app.views.calendar import STATUS_LABELS
from app.views.fields import FORMAT, INPUT_FORMAT

# One button per target status, in the order a visit goes.
ACTION_LABELS = {
    "confirmed": _l("Confirm"), "checked_in": _l("Check in"), "in_consultation": _l("Start consultation"),
    "completed": _l("Complete"), "no_show": _l("No-show"), "cancelled": _l("Cancel"),
}
ACTION_STYLES = {"confirmed": "primary", "checked_in": "success", "in_consultation": "warning",
                 "completed": "success", "no_show": "default", "cancelled": "danger"}
UNITS = {"WEEKLY": _l("weeks"), "DAILY": _l("days")}
MAX_VISITS = 100


def _csrf() -> str:
    return generate_csrf() if current_app.config.get("WTF_CSRF_ENABLED", False) else ""


def _local(moment: datetime | None, settings) -> str:
    return moment.astimezone(settings.timezone).strftime(FORMAT) if moment is not None else ""


def _appointment_or_404(pk: int) -> Appointment:
    appointment = db.session.get(Appointment, pk) if pk_in_range(Appointment, pk) else None
    if appointment is None:
        abort(404, description=_("There is no appointment %(id)s.", id=pk))
    return appointment


def may_use_workflow() -> bool:
    """Whether the current user gets "Workflow" links (appointment show page and list rows): those who
    may move an appointment along its workflow, i.e. write appointments. Readers (a manager) still
    open /appointment-actions/<id> by its address, but have no button there."""
    return current_app.appbuilder.sm.has_access("can_write", "Appointment")


def next_actions(status: str) -> list[str]:
    """The legal next statuses of ``status``, in the order of the buttons."""
    return [target for target in ACTION_LABELS if target in TRANSITIONS.get(status, set())]


class AppointmentActionsView(BaseView):
    """/appointment-actions/<id>: the appointment, its history and its workflow buttons."""

    route_base = "/appointment-actions"
    default_view = "show"
    class_permission_name = "Appointment"
    method_permission_name = {"show": "read", "status": "write", "cancel_rest": "write"}

    @expose("/<int:pk>")
    @has_access
    def show(self, pk: int):
        settings = clinic_settings()
        appointment = _appointment_or_404(pk)
        events = db.session.execute(select(AppointmentEvent).where(AppointmentEvent.appointment_id == pk)
                                    .order_by(AppointmentEvent.at, AppointmentEvent.id)).scalars().all()
        return self.render_template(
            "clinic/series.html", page="actions", appointment=appointment, events=events,
            actions=next_actions(appointment.status), action_labels=ACTION_LABELS, action_styles=ACTION_STYLES,
            status_labels=STATUS_LABELS, local=lambda moment: _local(moment, settings),
            can_write=self.appbuilder.sm.has_access("can_write", "Appointment"), csrf=_csrf(),
            describe=describe, title=_("Appointment %(id)s", id=appointment.id),
        )

    @expose("/<int:pk>/status", methods=["POST"])
    @has_access
    def status(self, pk: int):
        _appointment_or_404(pk)
        target = request.form.get("status", "").strip()
        reason = request.form.get("reason", "").strip() or None
        try:
            appointment = transition_appointment(db.session, pk, target, actor_id=acting_user_id(),
                                                 settings=clinic_settings(), reason=reason)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            message = _("The appointment is now %(status)s.", status=STATUS_LABELS.get(target, target))
            if target == "checked_in" and appointment.queue_number:
                message += " " + _("Queue number %(n)s.", n=appointment.queue_number)
            flash(message, "success")
        return redirect(url_for("AppointmentActionsView.show", pk=pk))

    @expose("/<int:pk>/cancel-rest", methods=["POST"])
    @has_access
    def cancel_rest(self, pk: int):
        _appointment_or_404(pk)
        reason = request.form.get("reason", "").strip() or None
        try:
            cancelled = cancel_series_from(db.session, pk, actor_id=acting_user_id(), reason=reason,
                                           settings=clinic_settings())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash(ngettext("%(num)d appointment of the series was cancelled.",
                           "%(num)d appointments of the series were cancelled.", len(cancelled)), "success")
        return redirect(url_for("AppointmentActionsView.show", pk=pk))


class SeriesBookingView(BaseView):
    """/appointment-series/new: book a recurring series; "Preview" checks every date, "Book"
    books them (optionally skipping the dates that cannot be booked)."""

    route_base = "/appointment-series"
    default_view = "new"
    class_permission_name = "Appointment"
    method_permission_name = {"new": "write"}

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        settings = clinic_settings()
        form = {key: request.form.get(key, "").strip() for key in
                ("patient_id", "doctor_id", "service_id", "start", "every", "unit", "count")}
        form["every"] = form["every"] or "1"
        form["unit"] = form["unit"] if form["unit"] in UNITS else "WEEKLY"
        form["count"] = form["count"] or "6"
        form["skip"] = bool(request.form.get("skip"))
        errors: dict[str, str] = {}
        occurrences = None
        if request.method == "POST":
            args = self._parse(form, errors, settings)
            if not errors:
                try:
                    if request.form.get("do") == "book":
                        series, booked, skipped = book_series(
                            db.session, settings=settings, actor_id=acting_user_id(),
                            skip_conflicts=form["skip"], **args)
                        message = ngettext("Series booked: %(num)d appointment.", "Series booked: %(num)d appointments.",
                                           len(booked))
                        if skipped:
                            message += " " + ngettext("%(num)d date skipped.", "%(num)d dates skipped.", len(skipped))
                        flash(message, "success")
                        return redirect(self._series_url(series.id))
                    occurrences = preview_series(db.session, settings=settings, **args)
                except DomainError as exc:
                    db.session.rollback()
                    conflicts = getattr(exc, "conflicts", None)
                    if conflicts:  # SeriesConflict: show which dates and why
                        errors["_"] = exc.message
                        occurrences = preview_series(db.session, settings=settings, **args)
                    else:
                        errors[self._field(exc.field)] = exc.message
        patient = None
        if form["patient_id"].isdigit() and pk_in_range(Patient, form["patient_id"]):
            patient = db.session.get(Patient, int(form["patient_id"]))
        doctors = db.session.execute(select(Doctor).where(Doctor.active.is_(True))
                                     .order_by(Doctor.full_name)).scalars().all()
        services = db.session.execute(select(Service).where(Service.active.is_(True))
                                      .order_by(Service.name)).scalars().all()
        return self.render_template(
            "clinic/series.html", page="series", form=form, errors=errors, occurrences=occurrences,
            patient=patient, doctors=doctors, services=services, units=UNITS, describe=describe,
            local=lambda moment: _local(moment, settings), csrf=_csrf(), title=_("Book a series"),
        )

    @staticmethod
    def _field(field: str | None) -> str:
        return {"patient_id": "patient_id", "doctor_id": "doctor_id", "service_id": "service_id",
                "start": "start", "start_at": "start", "rule": "count"}.get(field or "", "_")

    @staticmethod
    def _parse(form: dict, errors: dict, settings) -> dict:
        ids = {}
        for key in ("patient_id", "doctor_id", "service_id"):
            value = form[key]
            if not value:
                errors[key] = _("This field is required.")
            elif not value.isdigit() or not 0 < int(value) < 2**31:
                errors[key] = _("There is no such record.")
            else:
                ids[key] = int(value)
        start = None
        if not form["start"]:
            errors["start"] = _("This field is required.")
        else:
            for fmt in (INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", FORMAT):
                try:
                    start = datetime.strptime(form["start"], fmt).replace(tzinfo=settings.timezone)
                    break
                except ValueError:
                    continue
            if start is None:
                errors["start"] = _("Give the date and time like 2026-12-01 09:00.")
        every = int(form["every"]) if form["every"].isdigit() else 0
        if not 1 <= every <= 52:
            errors["every"] = _("Repeat every 1 to 52 weeks or days.")
        count = int(form["count"]) if form["count"].isdigit() else 0
        if not 1 <= count <= MAX_VISITS:
            errors["count"] = _("A series has 1 to 100 appointments.")
        if errors:
            return {}
        return {**ids, "first_start": start, "rule": f"FREQ={form['unit']};INTERVAL={every};COUNT={count}"}

    def _series_url(self, series_id: int) -> str:
        if self.appbuilder.sm.has_access("can_read", "AppointmentSeries"):
            return url_for("AppointmentSeriesView.show", pk=series_id)
        return url_for("AppointmentView.list")
