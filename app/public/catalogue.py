"""The clinic's services and doctors (cached: ``app.services.cache``)."""
from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask import abort, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from app.extensions import db
from app.public.common import bp, doctor_slots, settings
from app.services import catalogue, reviews

DOCTOR_PAGE_SLOTS = 6


@bp.app_template_filter("language_names")
def language_names(codes: str | None) -> str:
    """A doctor's languages as staff type them ("vi, en") in the reader's language ("tiếng Việt,
    tiếng Anh"); a word that is not a language code is kept as it was written."""
    reader = get_locale() or Locale("en")
    names = []
    for part in (codes or "").split(","):
        word = part.strip()
        if not word:
            continue
        try:
            name = Locale.parse(word.replace("-", "_")).get_display_name(reader) if len(word) <= 5 else None
        except (ValueError, UnknownLocaleError):
            name = None
        names.append(name or word)
    return ", ".join(names)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("public/index.html", services=catalogue.public_services(db.session))


@bp.get("/services")
def services() -> ResponseReturnValue:
    return render_template("public/services.html", services=catalogue.public_services(db.session))


@bp.get("/doctors")
def doctors() -> ResponseReturnValue:
    return render_template("public/doctors.html", doctors=catalogue.public_doctors(db.session))


@bp.get("/doctors/<int:doctor_id>")
def doctor(doctor_id: int) -> ResponseReturnValue:
    page = catalogue.public_doctor(db.session, doctor_id)
    if page is None:
        abort(404)
    first = page.services[0] if page.services else None
    slots = doctor_slots(doctor_id, first.id)[:DOCTOR_PAGE_SLOTS] if first else []
    summary = reviews.public_summary(db.session, doctor_id=doctor_id, zone=settings().timezone,
                                     settings=reviews.ReviewSettings.from_config(current_app.config))
    return render_template("public/doctor.html", doctor=page.doctor, services=page.services, first_service=first,
                           slots=slots, summary=summary, criteria=reviews.CRITERIA, labels=reviews.CRITERION_LABELS)


@bp.get("/services/<int:service_id>")
def service(service_id: int) -> ResponseReturnValue:
    found = catalogue.active_service(db.session, service_id)
    if found is None:
        abort(404)
    summary = reviews.public_summary(db.session, service_id=found.id, zone=settings().timezone,
                                     settings=reviews.ReviewSettings.from_config(current_app.config))
    return render_template("public/service.html", service=found, doctors=catalogue.doctors_for(found),
                           summary=summary, criteria=reviews.CRITERIA, labels=reviews.CRITERION_LABELS)
