"""The clinic's services and doctors."""
from __future__ import annotations

from flask import abort, render_template
from flask.typing import ResponseReturnValue

from app.extensions import db
from app.public.common import bp, doctor_slots
from app.services import catalogue

DOCTOR_PAGE_SLOTS = 6


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("public/index.html", services=catalogue.active_services(db.session))


@bp.get("/services")
def services() -> ResponseReturnValue:
    return render_template("public/services.html", services=catalogue.active_services(db.session))


@bp.get("/doctors")
def doctors() -> ResponseReturnValue:
    return render_template("public/doctors.html", doctors=catalogue.active_doctors(db.session))


@bp.get("/doctors/<int:doctor_id>")
def doctor(doctor_id: int) -> ResponseReturnValue:
    doctor = catalogue.active_doctor(db.session, doctor_id)
    if doctor is None:
        abort(404)
    offered = catalogue.services_of(doctor)
    first = offered[0] if offered else None
    slots = doctor_slots(doctor.id, first.id)[:DOCTOR_PAGE_SLOTS] if first else []
    return render_template("public/doctor.html", doctor=doctor, services=offered, first_service=first, slots=slots)
