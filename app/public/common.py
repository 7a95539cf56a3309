"""What the public site's pages share: the blueprint, formatting helpers for the templates, and
``patient_required``."""
from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, current_app, redirect, render_template, request
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale, gettext as _
from flask_login import current_user

from app.extensions import db
from app.public.forms import ResendForm, slot_param
from app.services import booking, telemedicine
from app.services.appointments import patient_of_user
from app.services.errors import DomainError
from app.services.settings import ClinicSettings
from app.services.signup import confirmation_pending

bp = Blueprint("public", __name__, url_prefix="/clinic")
DAYS_AHEAD = 14


def settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def local(moment: datetime) -> datetime:
    return moment.astimezone(settings().timezone)


def money(amount: Any) -> str:
    return format_currency(amount or 0, settings().currency)


def window() -> tuple[date, date]:
    today = settings().today()
    return today, today + timedelta(days=DAYS_AHEAD - 1)


def appbuilder() -> Any:
    """This app's Flask-AppBuilder (set on the app by ``AppBuilder.init_app``)."""
    return current_app.appbuilder  # type: ignore[attr-defined]


def login_url(next_url: str) -> str:
    return appbuilder().get_url_for_login_with(next_url)


def current_path() -> str:
    return request.full_path.rstrip("?")


def patient_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A guest goes to the login (and comes back through ``next``); a login whose sign-up is not
    confirmed yet is asked to open the link (and may ask for it again); a login without a patient
    record is told to ask the clinic."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(login_url(current_path()))
        pending = confirmation_pending(db.session, current_user.id)
        if pending is not None:
            return render_template("public/confirm_first.html", email=pending.email, form=ResendForm()), 403
        patient = patient_of_user(db.session, current_user.id)
        if patient is None:
            return render_template("public/message.html", title=_("No patient record"), message=_(
                "Your login is not linked to a patient record. Please contact the clinic.")), 403
        return view(patient, *args, **kwargs)

    return wrapper


def by_day(slots: list) -> "OrderedDict[date, list]":
    days: OrderedDict[date, list] = OrderedDict()
    for slot in slots:
        days.setdefault(local(slot.start).date(), []).append(slot)
    return days


def doctor_slots(doctor_id: int, service_id: int, ignore_appointment_id: int | None = None) -> list:
    """The doctor's free times in the next two weeks, as a patient may book them; from the cache
    unless an appointment's own time is to be ignored (moving it)."""
    date_from, date_to = window()
    try:
        if ignore_appointment_id is None:
            return booking.cached_free_slots(db.session, doctor_id=doctor_id, service_id=service_id,
                                             date_from=date_from, date_to=date_to, settings=settings())
        return booking.free_slots(db.session, doctor_id=doctor_id, service_id=service_id, date_from=date_from,
                                  date_to=date_to, settings=settings(), ignore_appointment_id=ignore_appointment_id)
    except DomainError:
        return []


@bp.context_processor
def helpers() -> dict:
    return {"money": money, "local": local, "slot_param": slot_param, "format_date": format_date,
            "format_decimal": format_decimal, "format_datetime": format_datetime, "lang": str(get_locale() or "en"),
            "languages": current_app.config["LANGUAGES"], "current_path": current_path,
            "clinic_name": current_app.config.get("APP_NAME") or "Clinic",
            "online_enabled": settings().booking.online_enabled, "login_url": login_url,
            "logout_url": appbuilder().get_url_for_logout, "call_guest": telemedicine.is_guest_login}
