"""Front desk (issue 13, item 2): today's waiting list per doctor, one-click check-in, call and
no-show, "call next", and a walk-in in one step. Thin: every read and change is
``app.services.front_desk``. The page refreshes itself (``static/js/front_desk.js``: the board's
JSON every 10 seconds and on the ``realtime:queue`` event the socket client dispatches).

Permission: its own, ``FrontDesk`` (app/permissions.py), shared with the REST API: reception,
managers, doctors and admins act on the board (``can_write``), cashiers only see it (``can_read``)."""
from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from app.extensions import db
from app.fab.actor import acting_user_id
from app.models.types import utcnow
from app.permissions import FRONT_DESK_PERMISSION
from app.services import front_desk
from app.services.errors import DomainError
from app.views.base import clinic_settings
from app.views.front_desk_forms import ANY_DOCTOR, WalkInForm

STATE_LABELS = {
    "in_consultation": _l("In consultation"), "called": _l("Called"), "waiting": _l("Waiting"),
    "expected": _l("Expected"), "done": _l("Done"), "no_show": _l("No-show"),
}


def _ids(name: str) -> list[int]:
    return [int(v) for v in request.args.getlist(name) if v.isdigit() and 0 < int(v) < 2 ** 31]


def _filters() -> dict[str, Any]:
    doctors = _ids("doctor")
    departments = _ids("department")
    return {"doctor_ids": doctors or None, "department_id": departments[0] if departments else None}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


class FrontDeskView(BaseView):
    route_base = "/front-desk"
    default_view = "board"
    class_permission_name = FRONT_DESK_PERMISSION
    method_permission_name = {"board": "read", "board_json": "read", "check_in": "write", "call": "write",
                              "no_show": "write", "call_next": "write", "walk_in": "write"}

    def _board(self, filters: dict[str, Any]) -> tuple[list[front_desk.DoctorQueue], Any]:
        settings = clinic_settings()
        now = utcnow()
        return front_desk.queue_board(db.session, front_desk.clinic_day(now, settings), now, settings=settings,
                                      **filters), settings

    def _form(self) -> WalkInForm:
        form = WalkInForm()
        services = front_desk.active_services(db.session)
        doctors, _departments = front_desk.filter_choices(db.session)
        form.service.choices = [("", "—")] + [(s.id, s.name) for s in services]
        form.doctor.choices = [(int(ANY_DOCTOR), _("First free doctor now"))] + [(d.id, str(d)) for d in doctors]
        form.patient.widget.url = url_for("LookupView.search", resource="Patient")
        return form

    def _page(self, form: WalkInForm, status: int = 200) -> ResponseReturnValue:
        filters = _filters()
        board, settings = self._board(filters)
        doctors, departments = front_desk.filter_choices(db.session)
        can_write = self.appbuilder.sm.has_access("can_write", FRONT_DESK_PERMISSION)
        return self.render_template(
            "clinic/front_desk.html", board=board, labels=STATE_LABELS, states=front_desk.STATES, form=form,
            doctors=doctors, departments=departments, filters=filters, can_write=can_write,
            csrf=generate_csrf(), today=front_desk.clinic_day(utcnow(), settings).strftime("%d/%m/%Y"),
            zone=str(settings.timezone),
        ), status

    @expose("/")
    @has_access
    def board(self) -> ResponseReturnValue:
        return self._page(self._form())

    @expose("/board.json")
    @has_access
    def board_json(self) -> ResponseReturnValue:
        board, settings = self._board(_filters())
        return jsonify(day=front_desk.clinic_day(utcnow(), settings).isoformat(),
                       labels={k: str(v) for k, v in STATE_LABELS.items()},
                       doctors=[queue.as_json(settings) for queue in board])

    def _act(self, action, target_id: int, done: str) -> ResponseReturnValue:
        try:
            appointment = action(db.session, target_id, acting_user_id(), utcnow(), settings=clinic_settings())
        except DomainError as exc:
            db.session.rollback()
            if _wants_json():
                return jsonify(message=exc.message, field=exc.field), exc.status
            flash(exc.message, "warning" if exc.status == 409 else "danger")
            return redirect(request.referrer or url_for("FrontDeskView.board"))
        message = done % {"number": appointment.queue_number, "patient": appointment.patient.full_name}
        if _wants_json():
            return jsonify(message=message, appointment_id=appointment.id, queue_number=appointment.queue_number)
        flash(message, "success")
        return redirect(request.referrer or url_for("FrontDeskView.board"))

    @expose("/check-in/<int:appointment_id>", methods=["POST"])
    @has_access
    def check_in(self, appointment_id: int) -> ResponseReturnValue:
        return self._act(front_desk.check_in, appointment_id, _("%(patient)s checked in: number %(number)s."))

    @expose("/call/<int:appointment_id>", methods=["POST"])
    @has_access
    def call(self, appointment_id: int) -> ResponseReturnValue:
        return self._act(front_desk.call_patient, appointment_id, _("Number %(number)s called: %(patient)s."))

    @expose("/no-show/<int:appointment_id>", methods=["POST"])
    @has_access
    def no_show(self, appointment_id: int) -> ResponseReturnValue:
        return self._act(front_desk.mark_no_show, appointment_id, _("%(patient)s marked as no-show."))

    @expose("/call-next/<int:doctor_id>", methods=["POST"])
    @has_access
    def call_next(self, doctor_id: int) -> ResponseReturnValue:
        return self._act(front_desk.call_next, doctor_id, _("Number %(number)s called: %(patient)s."))

    @expose("/walk-in", methods=["POST"])
    @has_access
    def walk_in(self) -> ResponseReturnValue:
        form = self._form()
        if not form.validate_on_submit():
            return self._page(form, 422)
        new_patient = None
        if form.patient.data is None:
            new_patient = front_desk.NewPatient(full_name=form.full_name.data, phone=form.phone.data or None,
                                                date_of_birth=form.date_of_birth.data, sex=form.sex.data or None)
        try:
            appointment = front_desk.walk_in(
                db.session, service_id=form.service.data, actor_id=acting_user_id(), now=utcnow(),
                settings=clinic_settings(), patient_id=form.patient.data.id if form.patient.data else None,
                new_patient=new_patient, doctor_id=form.doctor.data or None, reason=form.reason.data or None)
        except DomainError as exc:
            db.session.rollback()
            field = {"patient_id": "patient", "service_id": "service", "doctor_id": "doctor"}.get(
                exc.field or "", exc.field or "")
            target = getattr(form, field, None) if field else None
            if target is not None and hasattr(target, "errors"):
                target.errors = [*list(target.errors), exc.message]
            else:
                flash(exc.message, "danger")
            return self._page(form, exc.status)
        zone = clinic_settings().timezone
        flash(_("%(patient)s checked in: number %(number)s with %(doctor)s at %(time)s.",
                patient=appointment.patient.full_name, number=appointment.queue_number,
                doctor=str(appointment.doctor), time=appointment.start_at.astimezone(zone).strftime("%H:%M")),
              "success")
        return redirect(url_for("FrontDeskView.board"))
