"""Online booking: choose the service, then the doctor (or any doctor), then the time; confirm."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.form_fields import first_errors
from app.models import Patient
from app.public.common import bp, doctor_slots, patient_required, settings, window
from app.public.forms import BookConfirmForm
from app.services import booking, catalogue, slot_display
from app.services.errors import DomainError


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/book")
def book() -> ResponseReturnValue:
    if not settings().booking.online_enabled:
        return render_template("public/book_off.html")
    service = catalogue.active_service(db.session, _int_arg("service"))
    if service is None:
        return render_template("public/book_service.html", services=catalogue.active_services(db.session))
    doctor_arg = request.args.get("doctor")
    if not doctor_arg:
        return render_template("public/book_doctor.html", service=service, doctors=catalogue.doctors_for(service))
    if doctor_arg == "any":
        date_from, date_to = window()
        try:
            choices = booking.first_available(db.session, service_id=service.id, date_from=date_from,
                                              date_to=date_to, settings=settings())
        except DomainError:
            choices = []
        return render_template("public/book_any.html", service=service, choices=choices)
    doctor = catalogue.active_doctor(db.session, _int_arg("doctor"))
    if doctor is None or not catalogue.offers(doctor, service):
        abort(404)
    choice = slot_display.choose_slots(doctor_slots(doctor.id, service.id), settings().timezone,
                                       slot_display.parse_day(request.args.get("day")))
    return render_template("public/book_slots.html", service=service, doctor=doctor, choice=choice)


@bp.route("/book/confirm", methods=["GET", "POST"])
@patient_required
def book_confirm(patient: Patient) -> ResponseReturnValue:
    if not settings().booking.online_enabled:
        return render_template("public/book_off.html")
    form = BookConfirmForm(formdata=request.form if request.method == "POST" else request.args)
    service = catalogue.active_service(db.session, form.service.data)
    doctor = catalogue.active_doctor(db.session, form.doctor.data)
    start = form.start.data
    if service is None or doctor is None or start is None:
        abort(404)
    context = {"service": service, "doctor": doctor, "start": start, "form": form}
    if request.method == "GET":
        return render_template("public/book_confirm.html", **context)
    if not form.validate():
        return render_template("public/book_confirm.html", errors=first_errors(form), **context), 422
    try:
        appointment = booking.book_appointment(
            db.session, patient_id=patient.id, doctor_id=doctor.id, service_id=service.id, start=start,
            settings=settings(), actor_id=current_user.id, channel="online", reason=form.reason.data or None,
            mode=form.mode.data if service.visit_modes == "both" else None)
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/book_confirm.html", error=exc.message, **context), exc.status
    if appointment.status == "requested":
        flash(_("Your request was sent. The clinic will confirm it soon."), "success")
    else:
        flash(_("Your appointment is booked."), "success")
    return redirect(url_for("public.my_appointments"))
