"""The patient portal: my appointments, cancel one, move one."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.form_fields import first_errors
from app.models import Appointment, Patient
from app.public.common import bp, by_day, doctor_slots, patient_required, settings
from app.public.forms import CancelForm, MoveForm
from app.services import access, booking, reviews, telemedicine, waiting_room
from app.services.appointments import own_appointment, patient_appointments, patient_may_change
from app.services.errors import DomainError


def _own_or_404(patient: Patient, appointment_id: int) -> Appointment:
    """The patient's own appointment; any other id is "not found", and the attempt is audited."""
    appointment = own_appointment(db.session, patient.id, appointment_id)
    if appointment is None:
        access.record_denial(db.session, current_user, "Appointment", appointment_id, {"portal_patient": patient.id})
        abort(404)
    return appointment


@bp.get("/me/appointments")
@patient_required
def my_appointments(patient: Patient) -> ResponseReturnValue:
    now = settings().now()
    mine = patient_appointments(db.session, patient.id, now)
    cutoff = settings().booking.patient_cutoff
    tickets = waiting_room.patient_live_tickets(db.session, patient.id, now, secret=current_app.config["SECRET_KEY"],
                                                settings=settings())
    rated = reviews.reviews_by_visit(db.session, patient.id)
    join_window = telemedicine.JoinWindow.from_config(current_app.config)
    return render_template("public/my_appointments.html", patient=patient, upcoming=mine.upcoming, past=mine.past,
                           tickets=tickets, rated=rated, now=now, video_window=join_window.bounds,
                           video_callable=telemedicine.CALLABLE, video_path=telemedicine.patient_join_path,
                           changeable=lambda a: patient_may_change(a, now),
                           too_late=lambda a: a.start_at - now < cutoff)


@bp.post("/me/appointments/<int:appointment_id>/cancel")
@patient_required
def cancel_appointment(patient: Patient, appointment_id: int) -> ResponseReturnValue:
    appointment = _own_or_404(patient, appointment_id)
    form = CancelForm()
    if not form.validate():
        for message in first_errors(form).values():
            flash(message, "danger")
        return redirect(url_for("public.my_appointments"))
    try:
        booking.transition_appointment(db.session, appointment.id, "cancelled", actor_id=current_user.id,
                                       settings=settings(), reason=form.reason.data, by_patient=True)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Your appointment was cancelled."), "success")
    return redirect(url_for("public.my_appointments"))


@bp.route("/me/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@patient_required
def move_appointment(patient: Patient, appointment_id: int) -> ResponseReturnValue:
    appointment = _own_or_404(patient, appointment_id)
    form = MoveForm()
    error = None
    status = 200
    if form.is_submitted():
        if not form.validate() or form.start.data is None:
            error, status = " ".join(first_errors(form).values()), 422
        else:
            try:
                booking.reschedule_appointment(db.session, appointment.id, form.start.data,
                                               actor_id=current_user.id, settings=settings(), by_patient=True)
            except DomainError as exc:
                db.session.rollback()
                error, status = exc.message, exc.status
            else:
                flash(_("Your appointment was moved."), "success")
                return redirect(url_for("public.my_appointments"))
    slots = doctor_slots(appointment.doctor_id, appointment.service_id, ignore_appointment_id=appointment.id)
    slots = [s for s in slots if s.start != appointment.start_at]
    return render_template("public/move.html", appointment=appointment, days=by_day(slots), error=error), status
