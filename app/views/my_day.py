"""My day: the doctor's start page (issue 9, item 1): today's patients in queue order (in
consultation, checked in with their waiting time, expected, done), "Start visit" and "Finish",
the coming week and the drafts still to sign. Reads and changes through ``app.services.encounters``."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _

from app.extensions import db
from app.fab.actor import acting_user
from app.models.types import utcnow
from app.services import encounters, front_desk
from app.services.errors import DomainError
from app.views.base import clinic_settings
from app.views.fields import format_date_input, user_language


class MyDayView(BaseView):
    route_base = "/my-day"
    default_view = "day"
    class_permission_name = "Encounter"
    method_permission_name = {"day": "read", "start": "write", "finish": "write", "call_next": "write"}

    @expose("/")
    @has_access
    def day(self) -> ResponseReturnValue:
        settings = clinic_settings()
        now = utcnow()
        found = encounters.my_day(db.session, acting_user(), now, settings=settings)
        language = user_language()
        zone = settings.timezone
        return self.render_template(
            "clinic/my_day.html", day=found, today=format_date_input(now.astimezone(zone).date(), language),
            clock=lambda moment: moment.astimezone(zone).strftime("%H:%M"),
            day_of=lambda moment: format_date_input(moment.astimezone(zone).date(), language))

    @expose("/start/<int:appointment_id>", methods=["POST"])
    @has_access
    def start(self, appointment_id: int) -> ResponseReturnValue:
        try:
            encounter = encounters.start_visit(db.session, appointment_id, acting_user(), utcnow(),
                                               settings=clinic_settings())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for("MyDayView.day"))
        return redirect(url_for("VisitView.workspace", encounter_id=encounter.id))

    @expose("/call-next", methods=["POST"])
    @has_access
    def call_next(self) -> ResponseReturnValue:
        """The doctor calls the next waiting patient (the front desk and the waiting room see it)."""
        try:
            appointment = front_desk.doctor_call_next(db.session, acting_user(), utcnow(),
                                                      settings=clinic_settings())
            flash(_("Number %(number)s called: %(patient)s.", number=appointment.queue_number,
                    patient=appointment.patient.full_name), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "warning")
        return redirect(url_for("MyDayView.day"))

    @expose("/finish/<int:appointment_id>", methods=["POST"])
    @has_access
    def finish(self, appointment_id: int) -> ResponseReturnValue:
        try:
            encounters.finish_visit(db.session, appointment_id, acting_user(), utcnow(), settings=clinic_settings())
            flash(_("Visit finished."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("MyDayView.day"))
