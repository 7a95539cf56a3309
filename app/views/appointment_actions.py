"""Server-rendered workflow pages: move one appointment along its workflow with buttons, cancel
the rest of its series, and book a recurring series (preview first). Flask-WTF forms
(app/views/appointment_forms.py: POST, redirect, flash); every read and change goes through
``app.services`` and a domain error becomes a flash message or a form error, never a 500."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l, ngettext

from app.extensions import db
from app.form_fields import first_errors
from app.models import Appointment
from app.services import appointments, catalogue
from app.services.booking import TRANSITIONS, transition_appointment
from app.services.errors import DomainError
from app.services.series import book_series, cancel_series_from, preview_series
from app.views.appointment_forms import UNITS, CancelRestForm, SeriesForm, StatusForm
from app.views.base import acting_user_id, clinic_settings, describe
from app.views.calendar import STATUS_LABELS
from app.views.fields import FORMAT

# One button per target status, in the order a visit goes.
ACTION_LABELS = {
    "confirmed": _l("Confirm"), "checked_in": _l("Check in"), "in_consultation": _l("Start consultation"),
    "completed": _l("Complete"), "no_show": _l("No-show"), "cancelled": _l("Cancel"),
}
ACTION_STYLES = {"confirmed": "primary", "checked_in": "success", "in_consultation": "warning",
                 "completed": "success", "no_show": "default", "cancelled": "danger"}


def _local(moment: datetime | None, settings) -> str:
    return moment.astimezone(settings.timezone).strftime(FORMAT) if moment is not None else ""


def _appointment_or_404(pk: int) -> Appointment:
    appointment = appointments.find_appointment(db.session, pk)
    if appointment is None:
        abort(404, description=_("There is no appointment %(id)s.", id=pk))
    return appointment


def _flash_form_errors(form) -> None:
    for field, message in first_errors(form).items():
        flash(f"{form[field].label.text}: {message}" if field in form and form[field].label.text else message,
              "danger")
def may_use_workflow() -> bool:
    """Whether the current user gets "Workflow" links (appointment show page and list rows): those who
    may move an appointment along its workflow, i.e. write appointments. Readers (a manager) still
    open /appointment-actions/<id> by its address, but have no button there."""
    return bool(current_app.appbuilder.sm.has_access("can_write", "Appointment"))  # type: ignore[attr-defined]


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
    def show(self, pk: int) -> ResponseReturnValue:
        settings = clinic_settings()
        appointment = _appointment_or_404(pk)
        events = appointments.appointment_history(db.session, pk)
        return self.render_template(
            "clinic/series.html", page="actions", appointment=appointment, events=events,
            actions=next_actions(appointment.status), action_labels=ACTION_LABELS, action_styles=ACTION_STYLES,
            status_labels=STATUS_LABELS, local=lambda moment: _local(moment, settings),
            can_write=self.appbuilder.sm.has_access("can_write", "Appointment"),
            describe=describe, title=_("Appointment %(id)s", id=appointment.id),
        )

    @expose("/<int:pk>/status", methods=["POST"])
    @has_access
    def status(self, pk: int) -> ResponseReturnValue:
        _appointment_or_404(pk)
        form = StatusForm()
        if not form.validate():
            _flash_form_errors(form)
            return redirect(url_for("AppointmentActionsView.show", pk=pk))
        target, reason = form.status.data, form.reason.data or None
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
    def cancel_rest(self, pk: int) -> ResponseReturnValue:
        _appointment_or_404(pk)
        form = CancelRestForm()
        if not form.validate():
            _flash_form_errors(form)
            return redirect(url_for("AppointmentActionsView.show", pk=pk))
        reason = form.reason.data or None
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
    def new(self) -> ResponseReturnValue:
        settings = clinic_settings()
        form = SeriesForm()
        errors: dict[str, str] = {}
        occurrences = None
        status = 200
        if form.is_submitted():
            if not form.validate():
                errors, status = first_errors(form), 422
            else:
                args = {"patient_id": form.patient_id.data, "doctor_id": form.doctor_id.data,
                        "service_id": form.service_id.data, "first_start": form.first_start(settings.timezone),
                        "rule": form.rule()}
                try:
                    if form.wants_booking():
                        series, booked, skipped = book_series(
                            db.session, settings=settings, actor_id=acting_user_id(),
                            skip_conflicts=form.skip.data, **args)
                        message = ngettext("Series booked: %(num)d appointment.",
                                           "Series booked: %(num)d appointments.", len(booked))
                        if skipped:
                            message += " " + ngettext("%(num)d date skipped.", "%(num)d dates skipped.", len(skipped))
                        flash(message, "success")
                        return redirect(self._series_url(series.id))
                    occurrences = preview_series(db.session, settings=settings, **args)
                except DomainError as exc:
                    db.session.rollback()
                    status = exc.status
                    conflicts = getattr(exc, "conflicts", None)
                    if conflicts:  # SeriesConflict: show which dates and why
                        errors["_"] = exc.message
                        occurrences = preview_series(db.session, settings=settings, **args)
                    else:
                        errors[self._field(exc.field)] = exc.message
        return self.render_template(
            "clinic/series.html", page="series", form=form, errors=errors, occurrences=occurrences,
            patient=appointments.get_patient(db.session, form.patient_id.data),
            doctors=catalogue.active_doctors(db.session), services=catalogue.active_services(db.session),
            units=UNITS, describe=describe, local=lambda moment: _local(moment, settings), title=_("Book a series"),
        ), status

    @staticmethod
    def _field(field: str | None) -> str:
        return {"patient_id": "patient_id", "doctor_id": "doctor_id", "service_id": "service_id",
                "start": "start", "start_at": "start", "rule": "count"}.get(field or "", "_")

    def _series_url(self, series_id: int) -> str:
        if self.appbuilder.sm.has_access("can_read", "AppointmentSeries"):
            return url_for("AppointmentSeriesView.show", pk=series_id)
        return url_for("AppointmentView.list")
