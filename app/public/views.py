"""Public pages and the patient portal. Thin: every rule lives in app.services (booking) or
app.public.services (sign-up); domain errors become messages on the page, never a 500."""
from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_currency, format_date, format_datetime, get_locale, refresh
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select

from app.extensions import db
from app.models import Appointment, Doctor, Patient, Service
from app.public.services import SignupRefused, sign_up_patient
from app.services import booking, slot_display
from app.services.errors import DomainError
from app.services.settings import ClinicSettings

bp = Blueprint("public", __name__, url_prefix="/clinic")
DAYS_AHEAD = 14
DOCTOR_PAGE_SLOTS = 6
SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"  # UTC, in URLs


# --- helpers -----------------------------------------------------------------------------------


def settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def local(moment: datetime) -> datetime:
    return moment.astimezone(settings().timezone)


def money(amount) -> str:
    return format_currency(amount or 0, settings().currency)


def slot_param(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(SLOT_FORMAT)


def parse_slot(value: str | None) -> datetime | None:
    try:
        moment = datetime.strptime(value or "", SLOT_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc)


def window() -> tuple[date, date]:
    today = settings().today()
    return today, today + timedelta(days=DAYS_AHEAD - 1)


def safe_next(target: str | None, default: str) -> str:
    """Only paths on this site (no scheme, no //host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def login_url(next_url: str) -> str:
    return current_app.appbuilder.get_url_for_login_with(next_url)


def current_path() -> str:
    return request.full_path.rstrip("?")


def my_patient() -> Patient | None:
    if not current_user.is_authenticated:
        return None
    return db.session.execute(select(Patient).where(Patient.user_id == current_user.id)).scalars().first()


def patient_required(view):
    """A guest goes to the login (and comes back through ``next``); a login without a patient
    record is told to ask the clinic."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(login_url(current_path()))
        patient = my_patient()
        if patient is None:
            return render_template("public/message.html", title=_("No patient record"), message=_(
                "Your login is not linked to a patient record. Please contact the clinic.")), 403
        return view(patient, *args, **kwargs)

    return wrapper


def csrf_ok() -> bool:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def csrf_refused():
    return render_template("public/message.html", title=_("Page expired"), message=_(
        "The security token is missing or has expired. Go back, reload the page and try again.")), 400


def active_services():
    return db.session.execute(select(Service).where(Service.active.is_(True)).order_by(Service.name)).scalars().all()


def active_doctor(doctor_id: int) -> Doctor:
    doctor = db.session.get(Doctor, doctor_id)
    if doctor is None or not doctor.active:
        abort(404)
    return doctor


def active_service(service_id) -> Service | None:
    try:
        service = db.session.get(Service, int(service_id)) if service_id else None
    except (TypeError, ValueError):
        return None
    return service if service is not None and service.active else None


def offered_services(doctor: Doctor) -> list[Service]:
    return sorted((s for s in doctor.services if s.active), key=lambda s: s.id)


def by_day(slots) -> "OrderedDict[date, list]":
    days: OrderedDict[date, list] = OrderedDict()
    for slot in slots:
        days.setdefault(local(slot.start).date(), []).append(slot)
    return days


def doctor_slots(doctor_id: int, service_id: int, ignore_appointment_id: int | None = None) -> list:
    date_from, date_to = window()
    try:
        return booking.free_slots(db.session, doctor_id=doctor_id, service_id=service_id, date_from=date_from,
                                  date_to=date_to, settings=settings(), ignore_appointment_id=ignore_appointment_id)
    except DomainError:
        return []


@bp.app_template_global("public_csrf_token")
def public_csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return generate_csrf()


@bp.context_processor
def helpers() -> dict:
    return {"money": money, "local": local, "slot_param": slot_param, "format_date": format_date,
            "format_datetime": format_datetime, "lang": str(get_locale() or "en"),
            "languages": current_app.config["LANGUAGES"], "current_path": current_path,
            "clinic_name": current_app.config.get("APP_NAME") or "Clinic",
            "online_enabled": settings().booking.online_enabled, "login_url": login_url,
            "logout_url": current_app.appbuilder.get_url_for_logout}


@bp.get("/language/<locale>")
def language(locale: str):
    """The public site's language switch: the same session setting as FAB's ``/lang/<locale>``
    (app/i18n.py), but back to the page it was clicked on rather than FAB's page history."""
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(safe_next(request.args.get("next"), url_for("public.index")))


# --- catalogue ---------------------------------------------------------------------------------


@bp.get("/")
def index():
    return render_template("public/index.html", services=active_services())


@bp.get("/services")
def services():
    return render_template("public/services.html", services=active_services())


@bp.get("/doctors")
def doctors():
    found = db.session.execute(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.full_name)).scalars()
    return render_template("public/doctors.html", doctors=found.all())


@bp.get("/doctors/<int:doctor_id>")
def doctor(doctor_id: int):
    doctor = active_doctor(doctor_id)
    offered = offered_services(doctor)
    first = offered[0] if offered else None
    slots = doctor_slots(doctor.id, first.id)[:DOCTOR_PAGE_SLOTS] if first else []
    return render_template("public/doctor.html", doctor=doctor, services=offered, first_service=first, slots=slots)


# --- booking -----------------------------------------------------------------------------------


@bp.get("/book")
def book():
    """Choose the service, then the doctor (or any doctor), then the time."""
    if not settings().booking.online_enabled:
        return render_template("public/book_off.html")
    service = active_service(request.args.get("service"))
    if service is None:
        return render_template("public/book_service.html", services=active_services())
    doctor_arg = request.args.get("doctor")
    if not doctor_arg:
        doctors = sorted((d for d in service.doctors if d.active), key=lambda d: d.full_name)
        return render_template("public/book_doctor.html", service=service, doctors=doctors)
    if doctor_arg == "any":
        date_from, date_to = window()
        try:
            choices = booking.first_available(db.session, service_id=service.id, date_from=date_from,
                                              date_to=date_to, settings=settings())
        except DomainError:
            choices = []
        return render_template("public/book_any.html", service=service, choices=choices)
    try:
        doctor = active_doctor(int(doctor_arg))
    except ValueError:
        abort(404)
    if service not in doctor.services:
        abort(404)
    choice = slot_display.choose_slots(doctor_slots(doctor.id, service.id), settings().timezone,
                                       slot_display.parse_day(request.args.get("day")))
    return render_template("public/book_slots.html", service=service, doctor=doctor, choice=choice)


@bp.route("/book/confirm", methods=["GET", "POST"])
@patient_required
def book_confirm(patient: Patient):
    if not settings().booking.online_enabled:
        return render_template("public/book_off.html")
    service = active_service(request.values.get("service"))
    start = parse_slot(request.values.get("start"))
    try:
        doctor = active_doctor(int(request.values.get("doctor", "")))
    except ValueError:
        abort(404)
    if service is None or start is None:
        abort(404)
    context = {"service": service, "doctor": doctor, "start": start}
    if request.method == "GET":
        return render_template("public/book_confirm.html", **context)
    if not csrf_ok():
        return csrf_refused()
    reason = (request.form.get("reason") or "").strip()[:500] or None
    try:
        appointment = booking.book_appointment(
            db.session, patient_id=patient.id, doctor_id=doctor.id, service_id=service.id, start=start,
            settings=settings(), actor_id=current_user.id, channel="online", reason=reason)
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/book_confirm.html", error=exc.message, **context), exc.status
    if appointment.status == "requested":
        flash(_("Your request was sent. The clinic will confirm it soon."), "success")
    else:
        flash(_("Your appointment is booked."), "success")
    return redirect(url_for("public.my_appointments"))


# --- sign-up -----------------------------------------------------------------------------------


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    next_url = safe_next(request.values.get("next"), url_for("public.my_appointments"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = {key: (request.form.get(key) or "").strip()
            for key in ("full_name", "phone", "email", "date_of_birth", "username")}
    if request.method == "GET":
        return render_template("public/signup.html", form=form, errors={}, next_url=next_url)
    if not csrf_ok():
        return csrf_refused()
    errors: dict[str, str] = {}
    birth = None
    if form["date_of_birth"]:
        try:
            birth = date.fromisoformat(form["date_of_birth"])
        except ValueError:
            errors["date_of_birth"] = _("Enter the date as YYYY-MM-DD.")
    sm = current_app.appbuilder.sm

    def create_user(username, first_name, last_name, email, password):
        user = sm.add_user(username, first_name, last_name, email, sm.find_role("Patient"), password=password)
        return user.id if user else None

    try:
        if errors:
            raise SignupRefused(errors)
        patient = sign_up_patient(
            db.session, username=form["username"], full_name=form["full_name"], phone=form["phone"],
            email=form["email"], date_of_birth=birth, password=request.form.get("password") or "",
            settings=settings(), username_taken=lambda name: sm.find_user(username=name) is not None,
            email_taken=lambda email: sm.find_user(email=email) is not None, create_user=create_user)
    except SignupRefused as exc:
        errors.update(exc.errors)
        return render_template("public/signup.html", form=form, errors=errors, next_url=next_url), 422
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/signup.html", form=form, errors={"form": exc.message},
                               next_url=next_url), exc.status
    login_user(sm.get_user_by_id(patient.user_id))
    flash(_("Welcome! Your account is ready."), "success")
    return redirect(next_url)


# --- the portal --------------------------------------------------------------------------------


def own_appointment(patient: Patient, appointment_id: int) -> Appointment:
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient.id:
        abort(404)
    return appointment


def changeable(appointment: Appointment, now: datetime) -> bool:
    return appointment.status in ("requested", "confirmed") and appointment.start_at > now


@bp.get("/me/appointments")
@patient_required
def my_appointments(patient: Patient):
    now = settings().now()
    rows = db.session.execute(select(Appointment).where(Appointment.patient_id == patient.id)
                              .order_by(Appointment.start_at)).scalars().all()
    upcoming = [a for a in rows if a.start_at >= now and a.status not in ("cancelled", "no_show", "completed")]
    past = [a for a in reversed(rows) if a not in upcoming]
    cutoff = settings().booking.patient_cutoff
    return render_template("public/my_appointments.html", patient=patient, upcoming=upcoming, past=past,
                           changeable=lambda a: changeable(a, now),
                           too_late=lambda a: a.start_at - now < cutoff)


@bp.post("/me/appointments/<int:appointment_id>/cancel")
@patient_required
def cancel_appointment(patient: Patient, appointment_id: int):
    appointment = own_appointment(patient, appointment_id)
    if not csrf_ok():
        return csrf_refused()
    try:
        booking.transition_appointment(db.session, appointment.id, "cancelled", actor_id=current_user.id,
                                       settings=settings(), reason=(request.form.get("reason") or "").strip()[:500],
                                       by_patient=True)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Your appointment was cancelled."), "success")
    return redirect(url_for("public.my_appointments"))


@bp.route("/me/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@patient_required
def move_appointment(patient: Patient, appointment_id: int):
    appointment = own_appointment(patient, appointment_id)
    error = None
    status = 200
    if request.method == "POST":
        if not csrf_ok():
            return csrf_refused()
        start = parse_slot(request.form.get("start"))
        if start is None:
            error, status = _("Choose one of the times below."), 422
        else:
            try:
                booking.reschedule_appointment(db.session, appointment.id, start, actor_id=current_user.id,
                                               settings=settings(), by_patient=True)
            except DomainError as exc:
                db.session.rollback()
                error, status = exc.message, exc.status
            else:
                flash(_("Your appointment was moved."), "success")
                return redirect(url_for("public.my_appointments"))
    slots = doctor_slots(appointment.doctor_id, appointment.service_id, ignore_appointment_id=appointment.id)
    slots = [s for s in slots if s.start != appointment.start_at]
    return render_template("public/move.html", appointment=appointment, days=by_day(slots), error=error), status
